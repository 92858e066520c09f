//! Vonage WebSockets: a JSON header, then binary 16-bit linear PCM; `websocket:*`
//! events from Vonage and `action` messages from the app.

use serde_json::Value;

use super::reading::{Payload, Reading};
use super::{Frame, ProtocolErrorKind, StartInfo, codec_byte_rate};

/// A Vonage text frame: the `content-type` header first, then `websocket:*` events.
pub(super) fn text(text: &str) -> Frame {
    read(text).frame
}

/// A Vonage text frame, with the `Value` it was read into.
pub(super) fn read(text: &str) -> Reading {
    match serde_json::from_str(text) {
        Ok(value) => Reading { frame: classify(&value), payload: Payload::None, json: Some(value) },
        Err(_) => Reading::frame(Frame::Error(ProtocolErrorKind::InvalidJson)),
    }
}

fn classify(value: &Value) -> Frame {
    if let Some(content_type) = value.get("content-type").and_then(Value::as_str) {
        let rate = content_type
            .split(';')
            .find_map(|part| part.trim().strip_prefix("rate="))
            .and_then(|rate| rate.parse::<u32>().ok());
        let byte_rate = rate.and_then(|rate| codec_byte_rate("l16", rate, 1));
        let call_sid = value.get("uuid").and_then(Value::as_str).map(str::to_owned);
        return Frame::Start(Box::new(StartInfo { call_sid, byte_rate, ..StartInfo::default() }));
    }
    // What the app sends Vonage: `{"action":"clear"}`, `{"action":"notify",...}`.
    if value.get("action").is_some_and(Value::is_string) {
        return Frame::Control;
    }
    match value.get("event").and_then(Value::as_str) {
        Some(event) if event.starts_with("websocket:") => Frame::Control,
        Some(_) => Frame::Error(ProtocolErrorKind::UnknownEvent),
        None => Frame::Error(ProtocolErrorKind::MissingField),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_announces_the_rate_and_events_are_control() {
        let header = r#"{"event":"websocket:connected","content-type":"audio/l16;rate=8000"}"#;
        let Frame::Start(info) = text(header) else { panic!() };
        assert_eq!(info.byte_rate, Some(16_000));
        assert_eq!(text(r#"{"event":"websocket:dtmf","digit":"1"}"#), Frame::Control);
    }

    #[test]
    fn vonage_actions_sent_by_the_app_are_control_messages() {
        assert_eq!(text(r#"{"action":"clear"}"#), Frame::Control);
        let notify = r#"{"action":"notify","payload":{"reason":"turn_done"}}"#;
        assert_eq!(text(notify), Frame::Control);
        assert_eq!(text(r#"{"action":7}"#), Frame::Error(ProtocolErrorKind::MissingField));
    }
}
