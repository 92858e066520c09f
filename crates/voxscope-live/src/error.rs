//! Why a live page could not be built.

/// Why [`LivePageBuilder::build`](crate::LivePageBuilder::build) failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The path is not one fixed absolute path.
    #[error("live.path: {reason} (got {path:?})")]
    Path {
        /// The path given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The token is empty or holds characters no client could send.
    #[error("live.token: must be non-empty, without whitespace, control characters, ';' or ','")]
    Token,
    /// A setting out of range.
    #[error("live.{field}: {reason}")]
    Invalid {
        /// The setting.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A panel's query does not compile for in-process evaluation.
    #[error("live page panel {panel:?}: {source}")]
    Query {
        /// The panel's title.
        panel: String,
        /// Why.
        source: voxscope_alert::eval::EvalError,
    },
    /// A Grafana board or panel the page reuses is missing.
    #[error("live page: the dashboards have no {0}")]
    Board(String),
    /// Built outside a tokio runtime: the page's publisher is a task.
    #[error("live page: build it inside a tokio runtime")]
    NoRuntime,
}
