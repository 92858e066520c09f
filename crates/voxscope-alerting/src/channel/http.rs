//! One JSON or form POST and what its answer means: success, a status worth retrying (with the
//! receiver's `Retry-After`), or a refusal.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::Value;

use super::SendError;

/// How much of a failed answer's body the error keeps.
const BODY_EXCERPT: usize = 256;

/// The HTTP client every channel shares. Timeouts are the delivery's, per attempt. No
/// idle connection is kept: notifications are rare, and a receiver that closed an idle
/// connection would fail the next send.
pub(super) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("voxscope/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap_or_default()
}

/// POSTs `body` as JSON with an optional bearer token; the answer's body on a 2xx.
pub(super) async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    bearer: Option<&str>,
) -> Result<String, SendError> {
    let mut request = client.post(url).json(body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    answer(request).await
}

/// POSTs `fields` as `application/x-www-form-urlencoded` with HTTP basic auth; the
/// answer's body on a 2xx.
pub(super) async fn post_form(
    client: &reqwest::Client,
    url: &str,
    fields: &[(&str, &str)],
    (user, password): (&str, &str),
) -> Result<String, SendError> {
    let body: String =
        form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    let request = client
        .post(url)
        .basic_auth(user, Some(password))
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body);
    answer(request).await
}

/// Sends `request`: its body on a 2xx, else what the status means.
async fn answer(request: reqwest::RequestBuilder) -> Result<String, SendError> {
    let response = request.send().await.map_err(|e| SendError::Unreachable(chain(&e)))?;
    let status = response.status();
    let retry_after = retry_after(response.headers(), SystemTime::now());
    let text = response.text().await.map_err(|e| SendError::Unreachable(chain(&e)))?;
    if status.is_success() {
        return Ok(text);
    }
    let body = excerpt(&text);
    let status = status.as_u16();
    let error = SendError::Status { status, body, retry_after };
    if error.is_retryable() { Err(error) } else { Err(SendError::Refused(error.to_string())) }
}

/// `Retry-After` as seconds or an HTTP date; `None` when absent or unreadable.
pub(super) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

fn excerpt(text: &str) -> String {
    let mut end = text.len().min(BODY_EXCERPT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// The error and its sources, e.g. "error sending request: connection refused".
fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(RETRY_AFTER, value.parse().unwrap());
        map
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(retry_after(&headers("120"), now), Some(Duration::from_secs(120)));
        let later = headers("Sun, 06 Nov 1994 08:50:07 GMT");
        assert_eq!(retry_after(&later, now), Some(Duration::from_secs(30)));
        let past = headers("Sun, 06 Nov 1994 08:00:00 GMT");
        assert_eq!(retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn excerpts_cut_on_a_character_boundary() {
        let long = "é".repeat(200);
        let cut = excerpt(&long);
        assert_eq!(cut.len(), 256);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
