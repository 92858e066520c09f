//! Log lines that carry the trace id, for dropped traces too.

use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value as Json};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use tracing_log::NormalizeEvent;

use crate::ids;
use crate::span_fields::SpanFields;

/// A `tracing_subscriber::fmt` event formatter:
/// `[TIMESTAMP] [LEVEL] [SERVICE] [TRACE_ID] message key=value…`, or one JSON object per
/// line with `timestamp`, `level`, `service`, `target`, `trace_id`, `span_id`,
/// `message` and the event's fields. The trace id is `-` (JSON: `null`) outside a
/// request or call. `span_id` is the request's (or the call's) span.
///
/// After the event's fields come those of the spans it happens in (a call's `call.id`
/// and `stream.id`, a provider span's `provider` and `kind`), innermost first; request
/// spans' own fields are left out. Text values are logfmt: a value with a space, `"`,
/// `=` or a control character is quoted and escaped, and the message's control
/// characters are escaped, so one event is always one line. In JSON the line's own keys
/// stay authoritative: an event field named `trace_id` or `level` is written as
/// `fields.trace_id`, `fields.level`. Records of the `log` crate bridged by
/// [`init`](crate::init) show their own target.
///
/// Span fields are recorded by
/// [`TracePipeline::otel_layer`](crate::TracePipeline::otel_layer).
///
/// ```
/// use tracing_subscriber::prelude::*;
/// use voxscope_trace::VoxFormat;
///
/// let subscriber = tracing_subscriber::registry()
///     .with(tracing_subscriber::fmt::layer().event_format(VoxFormat::new("voice-agent", false)));
/// tracing::subscriber::with_default(subscriber, || tracing::info!(call = 7, "call started"));
/// ```
#[derive(Clone, Debug)]
pub struct VoxFormat {
    service: Box<str>,
    json: bool,
}

impl VoxFormat {
    /// Text lines, or JSON lines when `json` is set.
    pub fn new(service: &str, json: bool) -> Self {
        Self { service: service.into(), json }
    }
}

/// The keys a JSON line owns: an event or span field of the same name goes under
/// `fields.<name>` instead of replacing it.
const RESERVED: [&str; 7] =
    ["timestamp", "level", "service", "target", "trace_id", "span_id", "message"];

/// The fields tracing-log adds to a bridged `log` record.
const LOG_FIELDS: [&str; 4] = ["log.target", "log.module_path", "log.file", "log.line"];

impl<S, N> FormatEvent<S, N> for VoxFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        // A `log` record bridged by tracing-log: its target is the record's, and the
        // fields that carried it say nothing more.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        if normalized.is_some() {
            fields.pairs.retain(|(key, _)| !LOG_FIELDS.contains(key));
        }
        // The fields of the spans around the event, innermost first; the event's own and
        // inner spans' win.
        let mut ids = None;
        if let Some(scope) = ctx.event_scope() {
            for span in scope {
                let extensions = span.extensions();
                if ids.is_none() {
                    ids = ids::in_extensions(&extensions);
                }
                if let Some(SpanFields(recorded)) = extensions.get::<SpanFields>() {
                    for (key, value) in recorded {
                        if !fields.pairs.iter().any(|(k, _)| k == key) {
                            fields.pairs.push((key, value.clone()));
                        }
                    }
                }
            }
        }
        let trace_id = ids.map(|ids| ids.trace_id.to_string());
        let span_id = ids.map(|ids| ids.span_id.to_string());
        let timestamp = rfc3339(SystemTime::now());
        if self.json {
            let mut line = Map::new();
            line.insert("timestamp".into(), timestamp.into());
            line.insert("level".into(), meta.level().as_str().into());
            line.insert("service".into(), Json::from(&*self.service));
            line.insert("target".into(), meta.target().into());
            line.insert("trace_id".into(), trace_id.map_or(Json::Null, Json::from));
            line.insert("span_id".into(), span_id.map_or(Json::Null, Json::from));
            line.insert("message".into(), fields.message.into());
            for (key, value) in fields.pairs {
                let key =
                    if RESERVED.contains(&key) { format!("fields.{key}") } else { key.to_owned() };
                line.insert(key, value);
            }
            writeln!(writer, "{}", Json::Object(line))
        } else {
            write!(
                writer,
                "[{timestamp}] [{}] [{}] [{}] ",
                meta.level(),
                self.service,
                trace_id.as_deref().unwrap_or("-"),
            )?;
            write_escaped(&mut writer, &fields.message)?;
            for (key, value) in fields.pairs {
                write!(writer, " {key}=")?;
                match value {
                    Json::String(s) => write_value(&mut writer, &s)?,
                    other => write!(writer, "{other}")?,
                }
            }
            writeln!(writer)
        }
    }
}

/// A logfmt value: bare when it is one plain word, else quoted with `"` and `\`
/// escaped, control characters written as escapes (a newline never splits a line).
fn write_value(writer: &mut impl fmt::Write, value: &str) -> fmt::Result {
    let plain = !value.is_empty()
        && value.chars().all(|c| !c.is_whitespace() && !c.is_control() && c != '"' && c != '=');
    if plain {
        return writer.write_str(value);
    }
    writer.write_char('"')?;
    for c in value.chars() {
        match c {
            '"' => writer.write_str("\\\"")?,
            '\\' => writer.write_str("\\\\")?,
            c => write_char_escaped(writer, c)?,
        }
    }
    writer.write_char('"')
}

/// The message: written as is but for control characters.
fn write_escaped(writer: &mut impl fmt::Write, text: &str) -> fmt::Result {
    text.chars().try_for_each(|c| write_char_escaped(writer, c))
}

fn write_char_escaped(writer: &mut impl fmt::Write, c: char) -> fmt::Result {
    match c {
        '\n' => writer.write_str("\\n"),
        '\r' => writer.write_str("\\r"),
        '\t' => writer.write_str("\\t"),
        c if c.is_control() => write!(writer, "\\u{{{:04x}}}", u32::from(c)),
        c => writer.write_char(c),
    }
}

/// An event's or a span's fields, as JSON values.
#[derive(Default)]
pub(crate) struct Fields {
    pub(crate) message: String,
    pub(crate) pairs: Vec<(&'static str, Json)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.pairs.push((field.name(), Json::String(format!("{value:?}"))));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.pairs.push((field.name(), value.into()));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.pairs.push((field.name(), value.into()));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.pairs.push((field.name(), value.into()));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.pairs.push((field.name(), value.into()));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.pairs.push((field.name(), value.into()));
    }
}

/// `2026-11-22T11:40:00.123Z`, without a date-time dependency.
fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn logfmt_values_are_bare_words_or_quoted_and_escaped() {
        let cases = [
            ("deepgram", "deepgram"),
            ("", "\"\""),
            ("eleven labs", "\"eleven labs\""),
            ("a=b", "\"a=b\""),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("C:\\x y", "\"C:\\\\x y\""),
            ("line\nbreak", "\"line\\nbreak\""),
            ("bell\u{7}", "\"bell\\u{0007}\""),
        ];
        for (value, expected) in cases {
            let mut out = String::new();
            super::write_value(&mut out, value).expect("write");
            assert_eq!(out, expected, "{value:?}");
        }
    }

    #[test]
    fn formats_rfc3339_dates() {
        assert_eq!(super::rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_millis(951_782_400_123); // 2000-02-29
        assert_eq!(super::rfc3339(leap), "2000-02-29T00:00:00.123Z");
        let later = UNIX_EPOCH + Duration::from_secs(1_795_347_661); // 2026-11-22T11:41:01Z
        assert_eq!(super::rfc3339(later), "2026-11-22T11:41:01.000Z");
    }
}
