//! What the socket found in a frame from the caller besides its meaning for the
//! metrics: where the media payload is, or the JSON the full parse built, so that a
//! handler can use them instead of reading the frame again.

use std::ops::Range;

use serde_json::Value;

use super::Frame;

/// One inbound frame as the socket read it.
#[derive(Debug)]
pub(crate) struct Reading {
    pub(crate) frame: Frame,
    pub(crate) payload: Payload,
    /// The whole frame, for frames the full parse read into a `Value`.
    pub(crate) json: Option<Value>,
}

/// Where a media frame's payload is.
#[derive(Debug, Default)]
pub(crate) enum Payload {
    /// Not a media frame read by the fast path (the JSON may still hold one).
    #[default]
    None,
    /// These bytes of the frame's text, as they are (no escapes in them).
    At(Range<usize>),
    /// Unescaped from a payload that had escapes (`\/`, as PHP writes slashes).
    Owned(String),
}

impl Reading {
    /// A frame read for its meaning alone.
    pub(crate) fn frame(frame: Frame) -> Self {
        Self { frame, payload: Payload::None, json: None }
    }
}

impl Payload {
    /// The base64 payload of a media frame whose text is `text` and whose full parse,
    /// if it took one, is `json`.
    pub(crate) fn find<'a>(&'a self, text: &'a str, json: Option<&'a Value>) -> Option<&'a str> {
        match self {
            Payload::At(range) => text.get(range.clone()),
            Payload::Owned(payload) => Some(payload),
            Payload::None => {
                let json = json?;
                if json.get("event")?.as_str()? != "media" {
                    return None;
                }
                json.get("media")?.get("payload")?.as_str()
            }
        }
    }

    /// Where `payload`, read from `text`, is: borrowed from it, or unescaped.
    pub(crate) fn of(text: &str, payload: std::borrow::Cow<'_, str>) -> Self {
        match payload {
            std::borrow::Cow::Borrowed(part) => {
                let start = (part.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
                let range = start..start.wrapping_add(part.len());
                // Borrowed from `text` by construction; checked all the same.
                match text.get(range.clone()) {
                    Some(found) if std::ptr::eq(found, part) => Payload::At(range),
                    _ => Payload::Owned(part.to_owned()),
                }
            }
            std::borrow::Cow::Owned(payload) => Payload::Owned(payload),
        }
    }
}
