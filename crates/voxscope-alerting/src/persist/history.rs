//! The engine's metric history in the state directory: one CBOR file holding every
//! series in its tiers, written atomically every `[history] save_interval_seconds` and
//! at shutdown, read back at start (and by anything that wants the history without an
//! engine).
//!
//! A write costs one sequential write of the whole history: at most about 230 KB per
//! series at full tiers with the default limits (up to 29 bytes a raw sample and 19 a
//! step as CBOR encodes them; a plain counter takes 131 KB), so at most 2.3 MB a save
//! for 10 series, 115 MB for 500. One file is replaced, never appended to: nothing past
//! the retention is left behind.
//!
//! ```
//! use voxscope_alert::eval::{Labels, Storage, StorageLimits};
//! use voxscope_alerting::persist::StateDir;
//! let dir = std::env::temp_dir().join(format!("voxscope-history-doc-{}", std::process::id()));
//! let state = StateDir::new(&dir);
//! let limits = StorageLimits::default();
//! assert!(state.load_history(&limits).unwrap().is_none());
//! let mut storage = Storage::new(limits.clone());
//! let up = Labels::from([("__name__".to_owned(), "up".to_owned())]);
//! storage.append(&up, 60_000, 1.0).unwrap();
//! state.save_history(&storage).unwrap();
//! let back = state.load_history(&limits).unwrap().unwrap();
//! assert_eq!(back.sample_count(), storage.sample_count());
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::fs;
use std::path::PathBuf;

use voxscope_alert::eval::{SavedHistory, Storage, StorageLimits};

use super::StateDir;
use crate::Error;

/// The history file's name inside the state directory.
pub const HISTORY_FILE: &str = "metrics-history.cbor";

impl StateDir {
    /// The history file's path.
    pub fn history_path(&self) -> PathBuf {
        self.dir.join(HISTORY_FILE)
    }

    /// The saved metric history as a storage of `limits` (a tier saved with another step
    /// is left out); `None` when no history was saved.
    ///
    /// # Errors
    /// [`Error::Io`] when the file exists but cannot be read, [`Error::History`] when it
    /// is not a voxscope history of this version or a series in it does not hold
    /// together.
    pub fn load_history(&self, limits: &StorageLimits) -> Result<Option<Storage>, Error> {
        let path = self.history_path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Io { path, source }),
        };
        let saved: SavedHistory = ciborium::from_reader(bytes.as_slice())
            .map_err(|e| Error::History { path: path.clone(), reason: e.to_string() })?;
        Storage::restore(limits.clone(), saved)
            .map(Some)
            .map_err(|e| Error::History { path, reason: e.to_string() })
    }

    /// Writes `storage` as the saved history (atomically, as [`StateDir::save`]);
    /// returns the bytes written.
    ///
    /// # Errors
    /// [`Error::Io`] naming the path that failed.
    pub fn save_history(&self, storage: &Storage) -> Result<usize, Error> {
        let bytes = self.encode_history(storage)?;
        self.write_history(&bytes)?;
        Ok(bytes.len())
    }

    /// `storage` as the history file holds it.
    pub(crate) fn encode_history(&self, storage: &Storage) -> Result<Vec<u8>, Error> {
        let mut bytes = Vec::new();
        ciborium::into_writer(storage, &mut bytes)
            .map_err(|e| Error::History { path: self.history_path(), reason: e.to_string() })?;
        Ok(bytes)
    }

    /// Replaces the history file with `bytes`.
    pub(crate) fn write_history(&self, bytes: &[u8]) -> Result<(), Error> {
        self.write_atomically(HISTORY_FILE, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use voxscope_alert::eval::Labels;

    struct TempDir(PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn temp(name: &str) -> (TempDir, StateDir) {
        let dir = std::env::temp_dir().join(format!("voxscope-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        (TempDir(dir.clone()), StateDir::new(&dir))
    }

    #[test]
    fn a_foreign_or_damaged_file_is_an_error_naming_it() {
        let (_dir, state) = temp("history-foreign");
        let limits = StorageLimits::default();
        // The alert state's JSON, random bytes, a truncated history.
        let mut storage = Storage::new(limits.clone());
        let x = Labels::from([("__name__".to_owned(), "x".to_owned())]);
        for minute in 0..30 {
            storage.append(&x, minute * 60_000, minute as f64).unwrap();
        }
        let good = state.encode_history(&storage).unwrap();
        let cases: [&[u8]; 4] =
            [b"{\"version\":1}", &[0xff, 0x00, 0x13, 0x37], &good[..good.len() / 2], b""];
        for bytes in cases {
            fs::write(state.history_path(), bytes).unwrap();
            let err = state.load_history(&limits).unwrap_err();
            assert!(matches!(err, Error::History { .. }), "{err}");
            assert!(err.to_string().contains(HISTORY_FILE), "{err}");
        }
        fs::write(state.history_path(), &good).unwrap();
        let back = state.load_history(&limits).unwrap().unwrap();
        // 30 raw samples, 30 minute steps, the hour steps ending at 0 and at 1 h.
        assert_eq!((back.series_count(), back.sample_count()), (1, 30 + 30 + 2));
    }
}
