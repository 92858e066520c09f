//! Log lines that carry the trace id, for dropped traces too.

use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value as Json};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::ids;

/// A `tracing_subscriber::fmt` event formatter:
/// `[TIMESTAMP] [LEVEL] [SERVICE] [TRACE_ID] message key=value…`, or one JSON object per
/// line with `timestamp`, `level`, `service`, `target`, `trace_id`, `span_id`,
/// `message` and the event's fields. The trace id is `-` (JSON: `null`) outside a
/// request. `span_id` is the request span's: a formatter runs inside the dispatcher,
/// where tracing-opentelemetry's context of a nested span cannot be looked up.
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
        let ids = ctx
            .event_scope()
            .and_then(|mut scope| scope.next())
            .and_then(|leaf| ids::of_scope(&leaf));
        let trace_id = ids.map(|ids| ids.trace_id.to_string());
        let span_id = ids.map(|ids| ids.span_id.to_string());
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
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
                line.insert(key.into(), value);
            }
            writeln!(writer, "{}", Json::Object(line))
        } else {
            write!(
                writer,
                "[{timestamp}] [{}] [{}] [{}] {}",
                meta.level(),
                self.service,
                trace_id.as_deref().unwrap_or("-"),
                fields.message
            )?;
            for (key, value) in fields.pairs {
                match value {
                    Json::String(s) => write!(writer, " {key}={s}")?,
                    other => write!(writer, " {key}={other}")?,
                }
            }
            writeln!(writer)
        }
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    pairs: Vec<(&'static str, Json)>,
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
    fn formats_rfc3339_dates() {
        assert_eq!(super::rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_millis(951_782_400_123); // 2000-02-29
        assert_eq!(super::rfc3339(leap), "2000-02-29T00:00:00.123Z");
        let later = UNIX_EPOCH + Duration::from_secs(1_795_347_661); // 2026-11-22T11:41:01Z
        assert_eq!(super::rfc3339(later), "2026-11-22T11:41:01.000Z");
    }
}
