//! Telnyx media streaming: what its `start` message reveals (snake_case, with the
//! caller's numbers).

use serde_json::Value;

use super::StartInfo;
use super::media_stream::format_byte_rate;

/// Ids, numbers and media format of a Telnyx `start` message.
pub(super) fn start(value: &Value) -> StartInfo {
    let start = value.get("start");
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let format = start.and_then(|s| s.get("media_format"));
    StartInfo {
        call_sid: text(start.and_then(|s| s.get("call_control_id"))),
        stream_sid: text(value.get("stream_id")),
        from: text(start.and_then(|s| s.get("from"))),
        to: text(start.and_then(|s| s.get("to"))),
        byte_rate: format.and_then(|f| format_byte_rate(f, "encoding", "sample_rate")),
    }
}
