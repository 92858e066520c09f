//! A [`Storage`] as a file holds it: every series in its tiers, with the layout it was
//! written under, so a restart keeps history. Serialize a storage with any serde format;
//! read it back with [`Storage::restore`], which checks what it reads.
//!
//! ```
//! use voxscope_alert::eval::{Labels, SavedHistory, Storage, StorageLimits};
//! let mut storage = Storage::new(StorageLimits::default());
//! let up = Labels::from([("__name__".to_owned(), "up".to_owned())]);
//! storage.append(&up, 60_000, 1.0).unwrap();
//! let text = serde_json::to_string(&storage).unwrap();
//! let saved: SavedHistory = serde_json::from_str(&text).unwrap();
//! let back = Storage::restore(StorageLimits::default(), saved).unwrap();
//! assert_eq!(back.sample_count(), storage.sample_count());
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Labels;
use super::series::Series;
use super::storage::{METRIC_NAME, Storage, StorageLimits};

/// What a saved history starts with: files of anything else are refused.
const FORMAT: &str = "voxscope-history";

/// The layout this build writes and reads.
const VERSION: u32 = 1;

/// A saved [`Storage`], as read from a file: give it to [`Storage::restore`].
#[derive(Clone, Debug, Deserialize)]
pub struct SavedHistory {
    format: String,
    version: u32,
    aggregate_step_ms: i64,
    summary_step_ms: i64,
    series: Vec<(Labels, Series)>,
}

#[derive(Serialize)]
struct Saving<'a> {
    format: &'static str,
    version: u32,
    aggregate_step_ms: i64,
    summary_step_ms: i64,
    series: Vec<(&'a Labels, &'a Series)>,
}

impl Serialize for Storage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Saving {
            format: FORMAT,
            version: VERSION,
            aggregate_step_ms: self.limits.aggregates.step_ms,
            summary_step_ms: self.limits.summaries.step_ms,
            series: self.metrics.values().flat_map(BTreeMap::iter).collect(),
        }
        .serialize(serializer)
    }
}

/// Why a saved history was not restored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// Not a saved history, or one of another layout version.
    #[error("not a voxscope history of version {VERSION} (format {format:?}, version {version})")]
    Foreign {
        /// The format it names.
        format: String,
        /// The version it names.
        version: u32,
    },
    /// A series that does not hold together (samples out of order, times no clock
    /// gives, no metric name).
    #[error("series {0:?} is inconsistent")]
    Inconsistent(Labels),
}

impl Storage {
    /// A storage of `limits` holding what `saved` holds. A step tier saved with another
    /// step than the limits' is left out (its steps cannot be read at the new step);
    /// each series is cut to the limits' tier sizes; series past
    /// [`StorageLimits::max_series`] are counted in [`Storage::rejected`].
    ///
    /// # Errors
    /// [`RestoreError::Foreign`] for another format or version,
    /// [`RestoreError::Inconsistent`] for a series that does not hold together.
    pub fn restore(limits: StorageLimits, saved: SavedHistory) -> Result<Self, RestoreError> {
        if saved.format != FORMAT || saved.version != VERSION {
            return Err(RestoreError::Foreign { format: saved.format, version: saved.version });
        }
        let keep_aggregates = saved.aggregate_step_ms == limits.aggregates.step_ms;
        let keep_summaries = saved.summary_step_ms == limits.summaries.step_ms;
        let mut storage = Storage::new(limits);
        for (labels, mut series) in saved.series {
            let Some(name) = labels.get(METRIC_NAME).cloned() else {
                return Err(RestoreError::Inconsistent(labels));
            };
            if !series.is_consistent() {
                return Err(RestoreError::Inconsistent(labels));
            }
            if storage.series >= storage.limits.max_series {
                storage.rejected += 1;
                continue;
            }
            if !keep_aggregates {
                series.aggregates = Default::default();
            }
            if !keep_summaries {
                series.summaries = Default::default();
            }
            let latest = series.latest.unwrap_or(i64::MIN);
            if !series.evict(&storage.limits, latest) {
                continue;
            }
            let known = storage.metrics.entry(name).or_default().insert(labels.clone(), series);
            if known.is_some() {
                return Err(RestoreError::Inconsistent(labels));
            }
            storage.series += 1;
        }
        Ok(storage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::StepTier;

    fn filled() -> Storage {
        let mut storage = Storage::new(StorageLimits::default());
        let x = Labels::from([("__name__".to_owned(), "x_total".to_owned())]);
        for minute in 0..180 {
            storage.append(&x, minute * 60_000, minute as f64).unwrap();
        }
        storage.mark_stale(&x, 180 * 60_000);
        storage
    }

    fn round_trip(storage: &Storage) -> SavedHistory {
        serde_json::from_str(&serde_json::to_string(storage).unwrap()).unwrap()
    }

    #[test]
    fn a_restored_storage_reads_as_the_saved_one() {
        let storage = filled();
        let back = Storage::restore(StorageLimits::default(), round_trip(&storage)).unwrap();
        // Bit for bit, staleness markers (NaN) included.
        assert_eq!(serde_json::to_string(&back).unwrap(), serde_json::to_string(&storage).unwrap());
        let counts = |s: &Storage| {
            let stats = s.stats();
            (stats.series, stats.raw_samples, stats.aggregate_steps, stats.summary_steps)
        };
        // Three hours of minute samples: the last hour raw, every minute, three hours.
        assert_eq!(counts(&back), (1, 61, 181, 4));
        assert_eq!(counts(&back), counts(&storage));
    }

    #[test]
    fn another_step_drops_that_tier_and_foreign_files_are_refused() {
        let storage = filled();
        let limits = StorageLimits {
            aggregates: StepTier { step_ms: 120_000, retention_ms: 86_400_000 },
            ..StorageLimits::default()
        };
        let back = Storage::restore(limits, round_trip(&storage)).unwrap();
        let (before, after) = (storage.stats(), back.stats());
        assert_eq!(after.aggregate_steps, 0);
        assert_eq!(
            (after.raw_samples, after.summary_steps),
            (before.raw_samples, before.summary_steps)
        );

        let mut foreign = round_trip(&storage);
        foreign.version = 99;
        let err = Storage::restore(StorageLimits::default(), foreign).unwrap_err();
        assert!(matches!(err, RestoreError::Foreign { version: 99, .. }));
    }

    #[test]
    fn series_out_of_order_are_inconsistent_and_past_the_limit_counted() {
        let storage = filled();
        let mut saved = round_trip(&storage);
        saved.series[0].1.raw.swap(0, 1);
        assert!(matches!(
            Storage::restore(StorageLimits::default(), saved),
            Err(RestoreError::Inconsistent(_))
        ));
        let limits = StorageLimits { max_series: 0, ..StorageLimits::default() };
        let back = Storage::restore(limits, round_trip(&storage)).unwrap();
        assert_eq!((back.series_count(), back.rejected()), (0, 1));
    }
}
