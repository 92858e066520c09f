//! Method and status label values: closed sets, so series stay bounded.

use http::{Method, StatusCode};
use metrics::SharedString;

/// The nine standard verbs, then `_OTHER` for anything else.
pub(crate) const METHOD_LABELS: [&str; 10] =
    ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "_OTHER"];

/// Index into [`METHOD_LABELS`]; custom verbs share `_OTHER` so they cannot add series.
pub(crate) fn method_index(method: &Method) -> usize {
    const STANDARD: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::CONNECT,
        Method::OPTIONS,
        Method::TRACE,
        Method::PATCH,
    ];
    STANDARD.iter().position(|m| m == method).unwrap_or(METHOD_LABELS.len() - 1)
}

/// The `status` label: the numeric code, or `cancelled` when no response ever existed;
/// with the `error_type` label of a response whose body did not reach its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum StatusLabel {
    /// The response and its whole body were handed over.
    Code(StatusCode),
    /// No response ever existed.
    Cancelled,
    /// The response started, then its body was dropped before its end.
    Aborted(StatusCode),
    /// The response started, then its body failed.
    BodyError(StatusCode),
}

/// `error_type` of a body dropped before its end (the client went away, the server shut
/// down).
const ABORTED: &str = "aborted";
/// `error_type` of a body that failed (the stream behind it broke).
const BODY_ERROR: &str = "body_error";

impl StatusLabel {
    pub(crate) fn to_shared(self) -> SharedString {
        match self {
            StatusLabel::Code(code) | StatusLabel::Aborted(code) | StatusLabel::BodyError(code) => {
                SharedString::from(code.as_str().to_owned())
            }
            StatusLabel::Cancelled => SharedString::const_str("cancelled"),
        }
    }

    /// The `error_type` label, present only when the body did not reach its end.
    pub(crate) fn error_type(self) -> Option<&'static str> {
        match self {
            StatusLabel::Aborted(_) => Some(ABORTED),
            StatusLabel::BodyError(_) => Some(BODY_ERROR),
            StatusLabel::Code(_) | StatusLabel::Cancelled => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_verbs_map_to_themselves_and_others_to_other() {
        for (i, label) in METHOD_LABELS.iter().enumerate().take(9) {
            let method = Method::from_bytes(label.as_bytes()).unwrap();
            assert_eq!(method_index(&method), i);
        }
        let custom = Method::from_bytes(b"PROPFIND").unwrap();
        assert_eq!(METHOD_LABELS[method_index(&custom)], "_OTHER");
    }

    #[test]
    fn statuses_render_as_codes_or_cancelled() {
        assert_eq!(StatusLabel::Code(StatusCode::NOT_FOUND).to_shared().as_ref(), "404");
        assert_eq!(StatusLabel::Cancelled.to_shared().as_ref(), "cancelled");
        let aborted = StatusLabel::Aborted(StatusCode::OK);
        assert_eq!((aborted.to_shared().as_ref(), aborted.error_type()), ("200", Some("aborted")));
        let failed = StatusLabel::BodyError(StatusCode::OK);
        assert_eq!((failed.to_shared().as_ref(), failed.error_type()), ("200", Some("body_error")));
        assert_eq!(StatusLabel::Code(StatusCode::OK).error_type(), None);
    }
}
