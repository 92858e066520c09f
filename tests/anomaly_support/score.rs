//! Scoring alerts against the labelled anomalies, and the z-score baseline.

use std::collections::BTreeMap;
use std::fmt;

use voxscope::alert::eval::Labels;

/// A labelled anomaly of the month.
#[derive(Clone, Debug)]
pub struct Labelled {
    pub kind: String,
    pub signal: String,
    pub labels: BTreeMap<String, String>,
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
        && e.fired_ms >= a.start_ms
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
            if let Some(fired) = first {
                s.detected += 1;
                s.detect_seconds.push((fired - a.start_ms) as f64 / 1000.0);
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
    let mut episodes = Vec::new();
    for (labels, points) in signal {
        let name = labels.get("signal").cloned().unwrap_or_default();
        let volumes: BTreeMap<i64, f64> =
            volume.get(labels).map(|v| v.iter().copied().collect()).unwrap_or_default();
        let mut alert = labels.clone();
        alert.remove("signal");
        alert.insert("anomaly".to_owned(), name.clone());
        let mut day: std::collections::VecDeque<(i64, f64)> = std::collections::VecDeque::new();
        let (mut sum, mut sum2) = (0.0, 0.0);
        let mut pending_since: Option<i64> = None;
        let mut firing: Option<Episode> = None;
        let mut last_true = i64::MIN;
        for &(t, x) in points {
            while day.front().is_some_and(|&(old, _)| old < t - 86_400_000) {
                let (_, old) = day.pop_front().unwrap();
                sum -= old;
                sum2 -= old * old;
            }
            let n = day.len() as f64;
            let out = n >= 60.0
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
            if t < from_ms {
                continue;
            }
            if out {
                last_true = t;
                let since = *pending_since.get_or_insert(t);
                if firing.is_none() && t - since >= for_ms {
                    firing = Some(Episode { labels: alert.clone(), fired_ms: t, last_ms: t });
                }
            } else {
                pending_since = None;
            }
            if let Some(e) = firing.as_mut() {
                if t - last_true > keep_ms {
                    episodes.push(firing.take().unwrap());
                } else {
                    e.last_ms = t;
                }
            }
        }
        episodes.extend(firing);
    }
    episodes.sort_by_key(|e| e.fired_ms);
    episodes
}
