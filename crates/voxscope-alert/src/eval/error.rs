//! Why a query or a rule could not be evaluated.

/// An evaluation error, worded as Prometheus words it where it has the case.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// A matcher's regex does not compile.
    #[error("invalid regex {0:?}: {1}")]
    BadRegex(String, String),
    /// An aggregation or function the evaluator does not know.
    #[error("unsupported {0} {1:?}")]
    Unsupported(&'static str, String),
    /// An operator applied to operands it does not take.
    #[error("{0}")]
    BadOperands(String),
    /// Two series of one side share the labels a binary operator matches on.
    #[error(
        "found duplicate series for the match group {0} on the {1} hand-side of the operation: many-to-many matching not allowed: matching labels must be unique on one side"
    )]
    ManyToMany(String, &'static str),
    /// A result holds two series with one label set.
    #[error("vector cannot contain metrics with the same labelset")]
    DuplicateLabels,
    /// A rule's result holds two series with one label set once its labels are added.
    #[error("vector contains metrics with the same labelset after applying {0} labels")]
    DuplicateAfterRuleLabels(&'static str),
}
