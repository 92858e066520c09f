//! The demo's memory and descriptors over time, and the slope of its memory.

use std::time::{Duration, Instant};

/// One reading of the demo's process.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Reading {
    /// Seconds since the load started.
    pub at_s: f64,
    /// Resident memory, MiB.
    pub rss_mib: f64,
    /// Open file descriptors.
    pub fds: usize,
}

/// Reads process `pid` every `every` until `stop` says so.
pub async fn sample(
    pid: u32,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<Reading> {
    let started = Instant::now();
    let mut readings = Vec::new();
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let (Ok(rss), Ok(fds)) = (crate::procfs::rss_bytes(pid), crate::procfs::open_fds(pid)) else {
                    break;
                };
                let at_s = started.elapsed().as_secs_f64();
                readings.push(Reading { at_s, rss_mib: rss as f64 / (1 << 20) as f64, fds });
            }
            _ = stop.changed() => break,
        }
    }
    readings
}

/// Least-squares slope of resident memory over the readings taken `within` (seconds
/// since the load started), in MiB per minute; `None` with fewer than three of them.
pub fn rss_slope_mib_per_min(
    readings: &[Reading],
    within: std::ops::RangeInclusive<f64>,
) -> Option<f64> {
    let points: Vec<(f64, f64)> = readings
        .iter()
        .filter(|r| within.contains(&r.at_s))
        .map(|r| (r.at_s / 60.0, r.rss_mib))
        .collect();
    if points.len() < 3 {
        return None;
    }
    let n = points.len() as f64;
    let (mx, my) = points.iter().fold((0.0, 0.0), |(x, y), (a, b)| (x + a / n, y + b / n));
    let (sxy, sxx) = points.iter().fold((0.0, 0.0), |(sxy, sxx), (x, y)| {
        (sxy + (x - mx) * (y - my), sxx + (x - mx) * (x - mx))
    });
    (sxx > 0.0).then(|| sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(at_s: f64, rss_mib: f64) -> Reading {
        Reading { at_s, rss_mib, fds: 0 }
    }

    #[test]
    fn slope_is_per_minute_and_ignores_the_warm_up() {
        // 100 MiB flat after a climb in the first 30 s.
        let flat =
            [at(0.0, 10.0), at(15.0, 60.0), at(30.0, 100.0), at(60.0, 100.0), at(90.0, 100.0)];
        assert_eq!(rss_slope_mib_per_min(&flat, 30.0..=90.0), Some(0.0));
        // 2 MiB every 30 s is 4 MiB per minute.
        let leak = [at(0.0, 100.0), at(30.0, 102.0), at(60.0, 104.0), at(90.0, 106.0)];
        let slope = rss_slope_mib_per_min(&leak, 0.0..=90.0).unwrap();
        assert!((slope - 4.0).abs() < 1e-9, "{slope}");
        assert_eq!(rss_slope_mib_per_min(&leak, 60.0..=90.0), None);
        // The wind-down after the load is left out.
        let ending = [at(0.0, 100.0), at(30.0, 100.0), at(60.0, 100.0), at(90.0, 80.0)];
        assert_eq!(rss_slope_mib_per_min(&ending, 0.0..=60.0), Some(0.0));
    }
}
