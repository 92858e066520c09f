//! Scoring alerts against the labelled anomalies, and the z-score baseline.

use std::collections::BTreeMap;
use std::fmt;

use voxscope::alert::eval::Labels;

/// A labelled anomaly of the month: time to detect runs from `start_ms`; an alert
/// fired from `onset_ms` (a drift's first minute, before it is big enough to count as
/// started) on is explained by it.
#[derive(Clone, Debug)]
pub struct Labelled {
    pub kind: String,
    pub signal: String,
    pub labels: BTreeMap<String, String>,
    pub onset_ms: i64,
    pub start_ms: i64,
    pub end_ms: i64,
}

/// One stretch of firing of one alert series: its `anomaly` label names the signal.
#[derive(Clone, Debug, PartialEq)]
pub struct Episode {
    pub labels: Labels,
    pub fired_ms: i64,
    pub last_ms: i64,
}

/// Turns the firing alerts seen at each evaluation into episodes.
#[derive(Default)]
pub struct Tracker {
    open: BTreeMap<Labels, Episode>,
    done: Vec<Episode>,
}

impl Tracker {
    pub fn observe(&mut self, t_ms: i64, firing: impl Iterator<Item = Labels>) {
        let mut now: BTreeMap<Labels, Episode> = BTreeMap::new();
        for labels in firing {
            let episode = self.open.remove(&labels).unwrap_or(Episode {
                labels: labels.clone(),
                fired_ms: t_ms,
                last_ms: t_ms,
            });
            now.insert(labels, Episode { last_ms: t_ms, ..episode });
        }
        self.done.extend(std::mem::take(&mut self.open).into_values());
        self.open = now;
    }

    pub fn finish(mut self) -> Vec<Episode> {
        self.done.extend(std::mem::take(&mut self.open).into_values());
        self.done.sort_by_key(|e| e.fired_ms);
        self.done
    }
}

/// How long after its end an anomaly still explains an alert that fires.
pub const GRACE_MS: i64 = 30 * 60_000;
/// The time-to-detect target.
pub const TARGET_MS: i64 = 10 * 60_000;

fn explains(a: &Labelled, e: &Episode) -> bool {
    e.labels.get("anomaly") == Some(&a.signal)
        && a.labels.iter().all(|(k, v)| e.labels.get(k) == Some(v))
        && e.fired_ms >= a.onset_ms
        && e.fired_ms <= a.end_ms + GRACE_MS
}

/// One detector's figures over a scoring window.
#[derive(Clone, Debug, Default)]
pub struct Scores {
    pub anomalies: usize,
    pub detected: usize,
    pub within_target: usize,
    /// Times to detect, seconds, of the detected ones.
    pub detect_seconds: Vec<f64>,
    pub false_alerts: usize,
    pub days: f64,
    /// Per kind: (anomalies, detected within the target).
    pub by_kind: BTreeMap<String, (usize, usize)>,
    /// The anomalies not detected within the target, one line each.
    pub late: Vec<String>,
}

impl Scores {
    /// Scores `episodes` against the anomalies that start in `[from_ms, to_ms)`; every
    /// episode firing in that window that no anomaly explains is a false alert.
    pub fn of(episodes: &[Episode], anomalies: &[Labelled], from_ms: i64, to_ms: i64) -> Self {
        let scored: Vec<&Labelled> =
            anomalies.iter().filter(|a| a.start_ms >= from_ms && a.start_ms < to_ms).collect();
        let mut s = Scores {
            anomalies: scored.len(),
            days: (to_ms - from_ms) as f64 / 86_400_000.0,
            ..Scores::default()
        };
        for a in &scored {
            let first = episodes.iter().filter(|e| explains(a, e)).map(|e| e.fired_ms).min();
            let kind = s.by_kind.entry(a.kind.clone()).or_default();
            kind.0 += 1;
            let day = (a.start_ms - from_ms) as f64 / 86_400_000.0;
            let what = format!(
                "{} of {} {:?}, day {day:.2} of the scored days",
                a.kind, a.signal, a.labels
            );
            match first {
                Some(fired) if fired - a.start_ms > TARGET_MS => s
                    .late
                    .push(format!("{what}: detected after {} min", (fired - a.start_ms) / 60_000)),
                None => s.late.push(format!("{what}: not detected")),
                Some(_) => {}
            }
            if let Some(fired) = first {
                s.detected += 1;
                // An alert before a drift counts as started detects it at once.
                s.detect_seconds.push((fired - a.start_ms).max(0) as f64 / 1000.0);
                if fired - a.start_ms <= TARGET_MS {
                    s.within_target += 1;
                    kind.1 += 1;
                }
            }
        }
        s.false_alerts = episodes
            .iter()
            .filter(|e| e.fired_ms >= from_ms && e.fired_ms < to_ms)
            .filter(|e| !anomalies.iter().any(|a| explains(a, e)))
            .count();
        s
    }

    pub fn detection_rate(&self) -> f64 {
        if self.anomalies == 0 { 1.0 } else { self.within_target as f64 / self.anomalies as f64 }
    }

    pub fn false_per_day(&self) -> f64 {
        self.false_alerts as f64 / self.days
    }

    pub fn median_detect_seconds(&self) -> Option<f64> {
        let mut v = self.detect_seconds.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    }
}

impl fmt::Display for Scores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let median = self.median_detect_seconds().map_or("-".to_owned(), |s| format!("{s:.0} s"));
        let kinds: Vec<String> =
            self.by_kind.iter().map(|(k, (n, d))| format!("{k} {d}/{n}")).collect();
        write!(
            f,
            "{}/{} within 10 min ({:.0} %), {} detected at all, median time to detect {median}, \
             {} false alerts in {:.1} days ({:.2}/day) [{}]",
            self.within_target,
            self.anomalies,
            100.0 * self.detection_rate(),
            self.detected,
            self.false_alerts,
            self.days,
            self.false_per_day(),
            kinds.join(", ")
        )
    }
}

/// One alert series through Prometheus's rule manager, one evaluation at a time:
/// pending when its condition first holds, firing once it held for `for`, kept firing
/// until its condition has not held for `keep_firing_for`, then resolved.
pub struct RuleState {
    labels: Labels,
    for_ms: i64,
    keep_ms: i64,
    active_since: Option<i64>,
    failing_since: Option<i64>,
    firing: Option<Episode>,
}

impl RuleState {
    pub fn new(labels: Labels, for_ms: i64, keep_ms: i64) -> Self {
        Self { labels, for_ms, keep_ms, active_since: None, failing_since: None, firing: None }
    }

    /// The evaluation at `t_ms`; returns the episode it resolved, if any.
    pub fn step(&mut self, t_ms: i64, holds: bool) -> Option<Episode> {
        if holds {
            self.failing_since = None;
            let since = *self.active_since.get_or_insert(t_ms);
            match self.firing.as_mut() {
                Some(episode) => episode.last_ms = t_ms,
                None if t_ms - since >= self.for_ms => {
                    let labels = self.labels.clone();
                    self.firing = Some(Episode { labels, fired_ms: t_ms, last_ms: t_ms });
                }
                None => {}
            }
            return None;
        }
        let Some(episode) = self.firing.as_mut() else {
            self.active_since = None;
            return None;
        };
        let since = *self.failing_since.get_or_insert(t_ms);
        if t_ms - since < self.keep_ms {
            episode.last_ms = t_ms;
            return None;
        }
        self.active_since = None;
        self.failing_since = None;
        self.firing.take()
    }

    /// The episode still firing at the end.
    pub fn finish(self) -> Option<Episode> {
        self.firing
    }
}

/// The episodes of alert series `labels` whose condition holds at `holds` of the
/// evaluations `times` (ascending), under `for` and `keep_firing_for`.
pub fn episodes(
    labels: &Labels,
    times: impl Iterator<Item = (i64, bool)>,
    (for_ms, keep_ms): (i64, i64),
) -> Vec<Episode> {
    let mut state = RuleState::new(labels.clone(), for_ms, keep_ms);
    let mut out: Vec<Episode> = times.filter_map(|(t, holds)| state.step(t, holds)).collect();
    out.extend(state.finish());
    out
}

/// The z-score baseline over the same recorded signal a minute: out when
/// `|x - mean| > z * stddev` of the previous day, with the same minimum volume, `for`
/// and `keep_firing_for` as the robust rules; episodes labelled like theirs.
pub fn z_score(
    signal: &BTreeMap<Labels, Vec<(i64, f64)>>,
    volume: &BTreeMap<Labels, Vec<(i64, f64)>>,
    min_volume: impl Fn(&str) -> f64,
    (z, for_ms, keep_ms): (f64, i64, i64),
    from_ms: i64,
) -> Vec<Episode> {
    let mut out = Vec::new();
    for (labels, points) in signal {
        let name = labels.get("signal").cloned().unwrap_or_default();
        let volumes: BTreeMap<i64, f64> =
            volume.get(labels).map(|v| v.iter().copied().collect()).unwrap_or_default();
        let mut alert = labels.clone();
        alert.insert("anomaly".to_owned(), name.clone());
        let mut day: std::collections::VecDeque<(i64, f64)> = std::collections::VecDeque::new();
        let (mut sum, mut sum2) = (0.0, 0.0);
        let mut state = RuleState::new(alert, for_ms, keep_ms);
        for &(t, x) in points {
            while day.front().is_some_and(|&(old, _)| old < t - 86_400_000) {
                let (_, old) = day.pop_front().unwrap();
                sum -= old;
                sum2 -= old * old;
            }
            let n = day.len() as f64;
            let out_of_band = n >= 60.0
                && x.is_finite()
                && {
                    let mean = sum / n;
                    let sd = (sum2 / n - mean * mean).max(0.0).sqrt();
                    (x - mean).abs() > z * sd
                }
                && volumes.get(&t).is_some_and(|v| *v >= min_volume(&name));
            if x.is_finite() {
                day.push_back((t, x));
                sum += x;
                sum2 += x * x;
            }
            if t >= from_ms {
                out.extend(state.step(t, out_of_band));
            }
        }
        out.extend(state.finish());
    }
    out.sort_by_key(|e| e.fired_ms);
    out
}
