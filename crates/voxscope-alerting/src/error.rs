//! The one error type of the runtime half of the engine.

use std::path::PathBuf;

/// What went wrong building, acknowledging or persisting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A matcher of the route tree or an inhibit rule whose label or regex is invalid.
    #[error("matcher {matcher}: {reason}")]
    Matcher {
        /// The matcher as written.
        matcher: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The engine cannot start as built: what is missing or wrong.
    #[error("alerting engine: {0}")]
    Setup(String),
    /// An acknowledgement of an alert that is not firing.
    #[error("no firing alert has fingerprint {0}")]
    UnknownAlert(String),
    /// The state directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The saved state is not what this version writes.
    #[error("{}: unreadable saved state: {source}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why it does not parse.
        source: serde_json::Error,
    },
    /// The saved metric history cannot be used: not a voxscope history, or damaged.
    #[error("{}: unreadable saved history: {reason}", path.display())]
    History {
        /// The file.
        path: PathBuf,
        /// Why it cannot be read.
        reason: String,
    },
}
