//! The page's token: sent as `Authorization: Bearer <token>` like `/metrics` takes it,
//! or, for a browser, as the `voxscope_live` cookie that the login form sets (HttpOnly,
//! SameSite=Strict, limited to the page's path), since neither a page load nor an
//! `EventSource` can carry a header.

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq;

/// The cookie that carries the token.
pub(crate) const COOKIE: &str = "voxscope_live";

/// Whether `token` is one a header and a cookie can carry.
pub(crate) fn valid(token: &str) -> bool {
    !token.is_empty()
        && !token.chars().any(|c| c.is_whitespace() || c.is_control() || c == ';' || c == ',')
}

/// Whether the request carries `expected` (any request does when there is none).
pub(crate) fn authorized(expected: Option<&Arc<str>>, headers: &HeaderMap) -> bool {
    let Some(expected) = expected else { return true };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let cookies = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value);
    bearer
        .into_iter()
        .chain(cookies)
        .any(|given| bool::from(given.as_bytes().ct_eq(expected.as_bytes())))
}

/// The `Set-Cookie` value that keeps `token` for the page at `base`.
pub(crate) fn set_cookie(token: &str, base: &str) -> String {
    format!("{COOKIE}={token}; Path={base}; HttpOnly; SameSite=Strict")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn a_bearer_header_or_the_cookie_carries_the_token() {
        let token: Arc<str> = Arc::from("s3cret");
        let t = Some(&token);
        assert!(authorized(None, &HeaderMap::new()));
        assert!(!authorized(t, &HeaderMap::new()));
        assert!(authorized(t, &headers(&[(header::AUTHORIZATION, "bearer s3cret")])));
        assert!(!authorized(t, &headers(&[(header::AUTHORIZATION, "Basic s3cret")])));
        assert!(authorized(t, &headers(&[(header::COOKIE, "a=b; voxscope_live=s3cret")])));
        assert!(!authorized(t, &headers(&[(header::COOKIE, "voxscope_live=s3cre")])));
        assert!(!authorized(t, &headers(&[(header::COOKIE, "other=s3cret")])));
    }

    #[test]
    fn tokens_a_cookie_cannot_carry_are_refused() {
        assert!(valid("abc-123_~"));
        for bad in ["", "a b", "a;b", "a,b", "a\nb"] {
            assert!(!valid(bad), "{bad:?}");
        }
    }
}
