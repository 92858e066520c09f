//! The engine's state across restarts: the evaluator's active alerts with their
//! `active_at`, acknowledgements, escalation progress, the dedup log, silences and
//! history, written atomically (a temporary file, synced, renamed over the old one) to
//! one JSON file in the state directory, and read back at start.
//!
//! ```
//! use voxscope_alerting::persist::{Snapshot, StateDir};
//! let dir = std::env::temp_dir().join(format!("voxscope-doc-{}", std::process::id()));
//! let state = StateDir::new(&dir);
//! assert!(state.load().unwrap().is_none());
//! state.save(&Snapshot { saved_at_ms: 42, ..Snapshot::default() }).unwrap();
//! assert_eq!(state.load().unwrap().unwrap().saved_at_ms, 42);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use voxscope_alert::eval::ActiveAlert;

use crate::Error;
use crate::ack::Ack;
use crate::dispatch::LogEntry;
use crate::escalation::Escalating;
use crate::history::Entry;

mod history;

pub use history::HISTORY_FILE;

/// The version of the file format this build writes and reads.
pub const VERSION: u32 = 1;

/// Everything the engine keeps across a restart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Snapshot {
    /// [`VERSION`].
    pub version: u32,
    /// When it was written, unix milliseconds.
    pub saved_at_ms: i64,
    /// The evaluator's alerts of its last tick, for `RuleEvaluator::restore`.
    pub active_alerts: Vec<ActiveAlert>,
    /// Acknowledgements of firing alerts.
    pub acks: Vec<Ack>,
    /// Escalation progress of firing alerts.
    pub escalations: Vec<Escalating>,
    /// What each group last told each receiver.
    pub notify_log: Vec<LogEntry>,
    /// The silences, as the silence store writes them.
    pub silences: serde_json::Value,
    /// The history.
    pub history: Vec<Entry>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Self {
            version: VERSION,
            saved_at_ms: 0,
            active_alerts: Vec::new(),
            acks: Vec::new(),
            escalations: Vec::new(),
            notify_log: Vec::new(),
            silences: serde_json::Value::Null,
            history: Vec::new(),
        }
    }
}

/// The state directory.
#[derive(Clone, Debug)]
pub struct StateDir {
    dir: PathBuf,
}

/// The state file's name inside the directory.
pub const FILE: &str = "alerting-state.json";

impl StateDir {
    /// The state directory at `dir` (created on the first save).
    pub fn new(dir: impl AsRef<Path>) -> Self {
        Self { dir: dir.as_ref().to_owned() }
    }

    /// The directory `[engine] state_dir` names; `None` when it is empty.
    pub fn from_config(engine: &voxscope_alert::engine::Engine) -> Option<Self> {
        (!engine.state_dir.is_empty()).then(|| Self::new(&engine.state_dir))
    }

    /// The state file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// The saved state; `None` when nothing was saved yet.
    ///
    /// # Errors
    /// [`Error::Io`] when the file exists but cannot be read, [`Error::Corrupt`] when it
    /// does not parse.
    pub fn load(&self) -> Result<Option<Snapshot>, Error> {
        let path = self.path();
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Io { path, source }),
        };
        serde_json::from_slice(&text).map(Some).map_err(|source| Error::Corrupt { path, source })
    }

    /// Writes `snapshot`: a temporary file beside the state file, synced, then renamed
    /// over it, so a crash leaves the old state or the new one, never half of one.
    ///
    /// # Errors
    /// [`Error::Io`] naming the path that failed.
    pub fn save(&self, snapshot: &Snapshot) -> Result<(), Error> {
        let mut clean = snapshot.clone();
        for alert in &mut clean.active_alerts {
            // JSON has no NaN or infinity; the next evaluation computes the value anew.
            if !alert.value.is_finite() {
                alert.value = 0.0;
            }
        }
        let text = serde_json::to_vec(&clean)
            .map_err(|source| Error::Corrupt { path: self.path(), source })?;
        self.write_atomically(FILE, &text)
    }

    /// Writes `bytes` to `name` in the directory: a temporary file beside it, synced,
    /// then renamed over it, so a crash leaves the old file or the new one.
    pub(crate) fn write_atomically(&self, name: &str, bytes: &[u8]) -> Result<(), Error> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::Io { path, source }
        };
        fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let (path, temporary) = (self.dir.join(name), self.dir.join(format!("{name}.tmp")));
        let mut file = File::create(&temporary).map_err(io(&temporary))?;
        file.write_all(bytes).map_err(io(&temporary))?;
        file.sync_all().map_err(io(&temporary))?;
        drop(file);
        fs::rename(&temporary, &path).map_err(io(&path))?;
        // The rename is durable once the directory is synced (where that is possible).
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}
