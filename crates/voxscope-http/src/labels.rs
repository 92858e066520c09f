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

/// The `status` label: the numeric code, or `cancelled` when no response ever existed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StatusLabel {
    Code(StatusCode),
    Cancelled,
}

impl StatusLabel {
    pub(crate) fn to_shared(self) -> SharedString {
        match self {
            StatusLabel::Code(code) => SharedString::from(code.as_str().to_owned()),
            StatusLabel::Cancelled => SharedString::const_str("cancelled"),
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
    }
}
