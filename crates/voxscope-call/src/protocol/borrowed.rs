//! The fast path of a media frame: serde_json reads it in place, strings borrowed from
//! the text, unknown fields skipped, nothing allocated unless a string has escapes.
//!
//! It validates the whole text as serde_json does, so it accepts exactly what the full
//! parse accepts; it returns `None` (and the full parse decides) for anything but a
//! `media` frame with a string payload.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::Frame;
use super::media_stream::media_frame;
use super::reading::{Payload, Reading};

/// A `media` frame from the caller: audio length, timestamp and track.
pub(super) fn media(text: &str) -> Option<Frame> {
    media_read(text).map(|reading| reading.frame)
}

/// A `media` frame from the caller, with where its payload is in `text`.
pub(super) fn media_read(text: &str) -> Option<Reading> {
    let (payload, timestamp_ms, caller_track) = read(text)?;
    let frame = media_frame(&payload, timestamp_ms, caller_track);
    Some(Reading { frame, payload: Payload::of(text, payload), json: None })
}

/// A `media` frame to the caller: only the audio length matters.
pub(super) fn outbound_media(text: &str) -> Option<Frame> {
    let (payload, _, _) = read(text)?;
    Some(media_frame(&payload, None, false))
}

fn read(text: &str) -> Option<(Cow<'_, str>, Option<u64>, bool)> {
    let frame: Top<'_> = serde_json::from_str(text).ok()?;
    if !matches!(&frame.event, Loose::Str(event) if event == "media") {
        return None;
    }
    let media = frame.media?;
    let Loose::Str(payload) = media.payload else { return None };
    let timestamp_ms = match media.timestamp {
        Loose::Str(ts) => ts.parse().ok(),
        Loose::U64(ts) => Some(ts),
        Loose::Absent | Loose::Other => None,
    };
    let caller_track = !matches!(&media.track, Loose::Str(track) if track == "outbound");
    Some((payload, timestamp_ms, caller_track))
}

/// A JSON value as far as a media frame cares; the last of duplicate keys wins, as in
/// `serde_json::Value`.
#[derive(Default)]
enum Loose<'a> {
    #[default]
    Absent,
    Str(Cow<'a, str>),
    U64(u64),
    Other,
}

impl<'de> de::Deserialize<'de> for Loose<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Loose::U64(v))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Loose::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Loose::Other)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Loose::Other)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Loose::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Loose::Other)
    }
}

/// The frame's top-level object: `event` and `media`.
struct Top<'a> {
    event: Loose<'a>,
    media: Option<Media<'a>>,
}

/// The `media` object: `payload`, `timestamp`, `track`.
#[derive(Default)]
struct Media<'a> {
    payload: Loose<'a>,
    timestamp: Loose<'a>,
    track: Loose<'a>,
}

impl<'de> de::Deserialize<'de> for Top<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TopVisitor)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a media-stream message object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut top = Top { event: Loose::Absent, media: None };
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Event => top.event = map.next_value()?,
                Key::Media => top.media = map.next_value::<MaybeMedia<'de>>()?.0,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(top)
    }
}

/// `media` as an object, or `None` for any other value (which the full parse reads as
/// a missing payload).
struct MaybeMedia<'a>(Option<Media<'a>>);

impl<'de> de::Deserialize<'de> for MaybeMedia<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MediaVisitor)
    }
}

struct MediaVisitor;

impl<'de> Visitor<'de> for MediaVisitor {
    type Value = MaybeMedia<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a media object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut media = Media::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Payload => media.payload = map.next_value()?,
                Key::Timestamp => media.timestamp = map.next_value()?,
                Key::Track => media.track = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(MaybeMedia(Some(media)))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(MaybeMedia(None))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(MaybeMedia(None))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(MaybeMedia(None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(MaybeMedia(None))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(MaybeMedia(None))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(MaybeMedia(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(MaybeMedia(None))
    }
}

/// The keys a media frame cares about, matched without allocating.
enum Key {
    Event,
    Media,
    Payload,
    Timestamp,
    Track,
    Other,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E>(self, v: &str) -> Result<Key, E> {
        Ok(match v {
            "event" => Key::Event,
            "media" => Key::Media,
            "payload" => Key::Payload,
            "timestamp" => Key::Timestamp,
            "track" => Key::Track,
            _ => Key::Other,
        })
    }
}
