//! Twilio Media Streams: what its `start` message reveals.

use serde_json::Value;

use super::StartInfo;
use super::media_stream::format_byte_rate;

/// Ids and media format of a Twilio `start` message.
pub(super) fn start(value: &Value) -> StartInfo {
    let start = value.get("start");
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let format = start.and_then(|s| s.get("mediaFormat"));
    StartInfo {
        call_sid: text(start.and_then(|s| s.get("callSid"))),
        stream_sid: text(value.get("streamSid")).or_else(|| text(start?.get("streamSid"))),
        from: None,
        to: None,
        byte_rate: format.and_then(|f| format_byte_rate(f, "encoding", "sampleRate")),
    }
}
