//! Inline SVG trend charts: a line over the period's trend points and a dashed line at
//! the target, no script and no external asset.

use std::fmt::Write;

const WIDTH: f64 = 240.0;
const HEIGHT: f64 = 48.0;
const PAD: f64 = 3.0;

/// An SVG trend of `points` between `start_ms` and `end_ms`, with `target` drawn when
/// given; `label` is its accessible name.
pub(crate) fn trend(
    points: &[(i64, f64)],
    start_ms: i64,
    end_ms: i64,
    target: Option<f64>,
    label: &str,
) -> String {
    let mut out = format!(
        "<svg class=\"trend\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         role=\"img\" aria-label=\"{}\">",
        super::html::escape(label)
    );
    let values = points.iter().map(|p| p.1).chain(target);
    let (lo, hi) =
        values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if points.is_empty() || !lo.is_finite() || !hi.is_finite() {
        out.push_str("<text x=\"4\" y=\"28\">no data</text></svg>");
        return out;
    }
    let (lo, hi) = if hi > lo { (lo.min(0.0), hi) } else { (lo.min(0.0), lo.max(0.0) + 1.0) };
    let span = (end_ms - start_ms).max(1) as f64;
    let x = |t: i64| PAD + (t - start_ms) as f64 / span * (WIDTH - 2.0 * PAD);
    let y = |v: f64| HEIGHT - PAD - (v - lo) / (hi - lo) * (HEIGHT - 2.0 * PAD);
    if let Some(target) = target {
        let _ = write!(
            out,
            "<line class=\"target\" x1=\"{PAD}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>",
            WIDTH - PAD,
            y = y(target)
        );
    }
    out.push_str("<polyline class=\"line\" points=\"");
    for (i, (t, v)) in points.iter().enumerate() {
        let sep = if i == 0 { "" } else { " " };
        let _ = write!(out, "{sep}{:.1},{:.1}", x(*t), y(*v));
    }
    out.push_str("\"/></svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_span_the_width_and_the_target_is_a_dashed_line() {
        let svg = trend(&[(0, 0.0), (50, 1.0), (100, 2.0)], 0, 100, Some(1.0), "x");
        assert!(svg.contains("points=\"3.0,45.0 120.0,24.0 237.0,3.0\""), "{svg}");
        assert!(svg.contains("<line class=\"target\" x1=\"3\" x2=\"237\" y1=\"24.0\""), "{svg}");
        assert!(trend(&[], 0, 100, Some(1.0), "x").contains("no data"));
        // A flat series at its target stays inside the box.
        let flat = trend(&[(0, 5.0), (100, 5.0)], 0, 100, Some(5.0), "x");
        assert!(flat.contains("points=\"3.0,10.0 237.0,10.0\""), "{flat}");
    }
}
