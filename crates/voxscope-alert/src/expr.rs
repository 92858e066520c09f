//! The typed PromQL model every rule, SLO and panel is built from: selectors with their
//! matchers, rates over a window, aggregations and operators. Rendering adds the job
//! scope to every raw selector and binds the free window, so an alert and the panel that
//! shows its value come from one [`Expr`].
//!
//! ```
//! use voxscope_alert::expr::{Expr, Matcher, Scope, Selector, Window, rate, sum_by};
//!
//! let bad = Selector::new("voice_calls_total").with(Matcher::re("outcome", "failed|dropped"));
//! let all = Selector::new("voice_calls_total");
//! let ratio = sum_by(&["transport"], rate(bad, Window::Free))
//!     / sum_by(&["transport"], rate(all, Window::Free));
//! let scope = Scope::rules(Matcher::eq("job", "voice_agent"), 300);
//! assert_eq!(
//!     ratio.gt(0.05).render(&scope),
//!     "sum by (job, transport) (rate(voice_calls_total{job=\"voice_agent\",outcome=~\"failed|dropped\"}[5m])) \
//!      / sum by (job, transport) (rate(voice_calls_total{job=\"voice_agent\"}[5m])) > 0.05"
//! );
//! // Prometheus 3 writes `le="1.0"` where the exposition says `le="1"`: both match.
//! assert_eq!(Matcher::le(1.0).render(), r#"le=~"1(\\.0)?""#);
//! ```

use std::fmt::Write;
use std::ops::{Div, Mul, Sub};

use crate::model::duration;

/// How a matcher compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `=~`
    Re,
    /// `!~`
    NotRe,
}

impl MatchOp {
    const fn as_str(self) -> &'static str {
        match self {
            MatchOp::Eq => "=",
            MatchOp::Ne => "!=",
            MatchOp::Re => "=~",
            MatchOp::NotRe => "!~",
        }
    }
}

/// One label matcher; `value` is the raw string (a regex for `=~`/`!~`), escaped on
/// rendering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matcher {
    /// The label name.
    pub label: String,
    /// The comparison.
    pub op: MatchOp,
    /// The value or regex, unescaped.
    pub value: String,
}

impl Matcher {
    fn new(label: &str, op: MatchOp, value: &str) -> Self {
        Self { label: label.to_owned(), op, value: value.to_owned() }
    }

    /// `label="value"`.
    pub fn eq(label: &str, value: &str) -> Self {
        Self::new(label, MatchOp::Eq, value)
    }

    /// `label!="value"`.
    pub fn ne(label: &str, value: &str) -> Self {
        Self::new(label, MatchOp::Ne, value)
    }

    /// `label=~"regex"`.
    pub fn re(label: &str, regex: &str) -> Self {
        Self::new(label, MatchOp::Re, regex)
    }

    /// `label!~"regex"`.
    pub fn not_re(label: &str, regex: &str) -> Self {
        Self::new(label, MatchOp::NotRe, regex)
    }

    /// The `le` matcher of a bucket bound. Exporters write `le="1"`; Prometheus 3
    /// normalises classic histogram bounds at scrape time to `le="1.0"`, so the matcher
    /// accepts every form either may produce.
    ///
    /// ```
    /// use voxscope_alert::expr::Matcher;
    /// assert_eq!(Matcher::le(0.5).render(), r#"le="0.5""#);
    /// assert_eq!(Matcher::le(2.0).render(), r#"le=~"2(\\.0)?""#);
    /// assert_eq!(Matcher::le(1e-5).render(), r#"le=~"0\\.00001|1e-05""#);
    /// ```
    pub fn le(bound: f64) -> Self {
        let exposed = bound.to_string();
        let normalised = prometheus3_float(bound);
        if exposed == normalised {
            Self::eq("le", &exposed)
        } else if normalised == format!("{exposed}.0") {
            Self::re("le", &format!("{}(\\.0)?", escape_regex(&exposed)))
        } else {
            Self::re("le", &format!("{}|{}", escape_regex(&exposed), escape_regex(&normalised)))
        }
    }

    /// Parses one matcher as a config writes it: `job="voice_agent"`, `job=~"voice-.*"`.
    ///
    /// ```
    /// use voxscope_alert::expr::{MatchOp, Matcher};
    /// let m = Matcher::parse(r#"job=~"voice-.*""#).unwrap();
    /// assert_eq!((m.label.as_str(), m.op, m.value.as_str()), ("job", MatchOp::Re, "voice-.*"));
    /// assert!(Matcher::parse("job=voice").is_err());
    /// ```
    ///
    /// # Errors
    /// A message saying what is malformed.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let name_end = text
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .ok_or("expected label, operator and quoted value")?;
        let label = &text[..name_end];
        if label.is_empty() || label.starts_with(|c: char| c.is_ascii_digit()) {
            return Err("expected a label name first".to_owned());
        }
        let rest = &text[name_end..];
        let (op, rest) = [("=~", MatchOp::Re), ("!~", MatchOp::NotRe), ("!=", MatchOp::Ne)]
            .into_iter()
            .find_map(|(token, op)| rest.strip_prefix(token).map(|r| (op, r)))
            .or_else(|| rest.strip_prefix('=').map(|r| (MatchOp::Eq, r)))
            .ok_or("expected =, !=, =~ or !~ after the label")?;
        let value = rest
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .filter(|v| !v.contains(['"', '\\', '\n']))
            .ok_or("expected a double-quoted value without quotes or backslashes inside")?;
        Ok(Self::new(label, op, value))
    }

    /// `label op "value"`, the value escaped as a PromQL string.
    pub fn render(&self) -> String {
        let value = self.value.replace('\\', "\\\\").replace('"', "\\\"");
        format!("{}{}\"{value}\"", self.label, self.op.as_str())
    }
}

fn escape_regex(text: &str) -> String {
    text.replace('.', "\\.").replace('+', "\\+")
}

/// A float as Prometheus 3 writes normalised `le` and `quantile` values: Go's shortest
/// `%g`, with `.0` added to whole numbers.
///
/// ```
/// use voxscope_alert::expr::prometheus3_float;
/// assert_eq!(prometheus3_float(1.0), "1.0");
/// assert_eq!(prometheus3_float(0.25), "0.25");
/// assert_eq!(prometheus3_float(1e6), "1e+06");
/// assert_eq!(prometheus3_float(f64::INFINITY), "+Inf");
/// ```
pub fn prometheus3_float(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if value.is_nan() {
        return "NaN".to_owned();
    }
    // Shortest digits and exponent, as `%e` would print them.
    let sci = format!("{value:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let text = if !(-4..6).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    } else {
        value.to_string()
    };
    if text.contains(['.', 'e']) { text } else { format!("{text}.0") }
}

/// A vector selector. Raw metrics are scoped by the job on rendering; recorded series
/// (`level:metric:operations`) are not, their rules already were.
#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    /// The metric or recorded series name.
    pub metric: String,
    /// Matchers besides the job scope.
    pub matchers: Vec<Matcher>,
}

impl Selector {
    /// `metric` with no matcher.
    pub fn new(metric: &str) -> Self {
        Self { metric: metric.to_owned(), matchers: Vec::new() }
    }

    /// The same with one more matcher.
    #[must_use]
    pub fn with(mut self, matcher: Matcher) -> Self {
        self.matchers.push(matcher);
        self
    }

    /// The `_bucket` series of histogram `self`, at bound `le` when given.
    #[must_use]
    pub fn bucket(&self, le: Option<f64>) -> Self {
        let mut out = Self { metric: format!("{}_bucket", self.metric), ..self.clone() };
        out.matchers.extend(le.map(Matcher::le));
        out
    }

    /// The `_sum` or `_count` series of histogram `self`.
    #[must_use]
    pub fn suffixed(&self, suffix: &str) -> Self {
        Self { metric: format!("{}{suffix}", self.metric), ..self.clone() }
    }

    fn recorded(&self) -> bool {
        self.metric.contains(':')
    }

    /// The matchers of `scope` this selector takes: none for a recorded series, and
    /// none on a label it matches itself (the job of a probe or of a node exporter).
    ///
    /// ```
    /// use voxscope_alert::expr::{Expr, Matcher, Scope, Selector};
    /// let scope = Scope::rules(Matcher::eq("job", "voice_agent"), 300);
    /// let probe = Selector::new("probe_success").with(Matcher::eq("job", "blackbox"));
    /// assert_eq!(Expr::vector(probe).render(&scope), "probe_success{job=\"blackbox\"}");
    /// ```
    pub fn scope_matchers<'a>(
        &'a self,
        scope: &'a [Matcher],
    ) -> impl Iterator<Item = &'a Matcher> + 'a {
        let recorded = self.recorded();
        scope
            .iter()
            .filter(move |m| !recorded && !self.matchers.iter().any(|own| own.label == m.label))
    }

    fn render(&self, scope: &Scope) -> String {
        let mut matchers: Vec<String> =
            self.scope_matchers(&scope.job).map(Matcher::render).collect();
        matchers.extend(self.matchers.iter().map(Matcher::render));
        if matchers.is_empty() {
            self.metric.clone()
        } else {
            format!("{}{{{}}}", self.metric, matchers.join(","))
        }
    }
}

/// The range of a range function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// This many seconds, in every output.
    Fixed(u64),
    /// The window the [`Scope`] binds: the rule's window, or `$__rate_interval` on a
    /// dashboard.
    Free,
}

/// Functions over a range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RangeFn {
    /// `rate`
    Rate,
    /// `increase`
    Increase,
    /// `predict_linear(range, seconds)`: the gauge's value this many seconds ahead, by
    /// least squares over the range.
    PredictLinear(u64),
    /// `quantile_over_time(q, range)`: the `q`-quantile (0 to 1) of the range's samples,
    /// interpolated between the two nearest ranks as Prometheus does.
    QuantileOverTime(f64),
    /// `max_over_time(range)`: the largest of the range's samples; a series with no
    /// sample in the range gives none.
    MaxOverTime,
}

/// Binary operators, by PromQL precedence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `or`
    Or,
    /// `and`
    And,
    /// `unless`
    Unless,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `==`
    EqualTo,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

impl BinOp {
    const fn as_str(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Unless => "unless",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Lt => "<",
            BinOp::EqualTo => "==",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        }
    }

    const fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And | BinOp::Unless => 2,
            BinOp::Gt | BinOp::Ge | BinOp::Lt | BinOp::EqualTo => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div => 5,
        }
    }
}

/// A PromQL expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// An instant vector selector.
    Vector(Selector),
    /// `rate(selector[window])`, `increase(...)` or `predict_linear(..., seconds)`.
    Range(RangeFn, Selector, Window),
    /// `op by (labels) (expr)`; `op` is `sum`, `max`, ...
    Aggregate(&'static str, Vec<String>, Box<Expr>),
    /// `histogram_quantile(q, sum by (le, labels) (rate(bucket[window])))`.
    Quantile(f64, Vec<String>, Selector, Window),
    /// `function(expr)`: `absent`, `vector`, `time` ...
    Call(&'static str, Box<Expr>),
    /// A number.
    Number(f64),
    /// `lhs op on (labels) rhs`; `on` only when `Some`.
    Binary(BinOp, Box<Expr>, Option<Vec<String>>, Box<Expr>),
    /// The expression as it was this many seconds ago: every selector in it renders
    /// with `offset`.
    Offset(Box<Expr>, u64),
}

/// `rate(selector[window])`.
pub fn rate(selector: Selector, window: Window) -> Expr {
    Expr::Range(RangeFn::Rate, selector, window)
}

/// `increase(selector[window])`.
pub fn increase(selector: Selector, window: Window) -> Expr {
    Expr::Range(RangeFn::Increase, selector, window)
}

/// `predict_linear(selector[window], seconds)`: where the gauge will be `seconds` from
/// now if it keeps the trend of the window.
///
/// ```
/// use voxscope_alert::expr::{Matcher, Scope, Selector, Window, predict_linear};
/// let free = Selector::new("node_filesystem_avail_bytes");
/// let scope = Scope::rules(Matcher::eq("job", "node"), 300);
/// assert_eq!(
///     predict_linear(free, Window::Fixed(3600), 14400).lt(0.0).render(&scope),
///     "predict_linear(node_filesystem_avail_bytes{job=\"node\"}[1h], 14400) < 0"
/// );
/// ```
pub fn predict_linear(selector: Selector, window: Window, seconds: u64) -> Expr {
    Expr::Range(RangeFn::PredictLinear(seconds), selector, window)
}

/// `quantile_over_time(q, selector[window])`: the `q`-quantile of the samples in the
/// window, e.g. the median of a recorded series over a day.
///
/// ```
/// use voxscope_alert::expr::{Matcher, Scope, Selector, Window, quantile_over_time};
/// let median = quantile_over_time(0.5, Selector::new("anomaly:signal"), Window::Fixed(86400));
/// let scope = Scope::rules(Matcher::eq("job", "voice_agent"), 300);
/// assert_eq!(median.render(&scope), "quantile_over_time(0.5, anomaly:signal[1d])");
/// ```
pub fn quantile_over_time(q: f64, selector: Selector, window: Window) -> Expr {
    Expr::Range(RangeFn::QuantileOverTime(q), selector, window)
}

/// `max_over_time(selector[window])`: the largest sample in the window, e.g. whether
/// a recorded check held at any minute of an hour last week.
///
/// ```
/// use voxscope_alert::expr::{Matcher, Scope, Selector, Window, max_over_time};
/// let held = max_over_time(Selector::new("anomaly:signal:out_1w"), Window::Fixed(3600));
/// let scope = Scope::rules(Matcher::eq("job", "voice_agent"), 300);
/// assert_eq!(held.render(&scope), "max_over_time(anomaly:signal:out_1w[1h])");
/// ```
pub fn max_over_time(selector: Selector, window: Window) -> Expr {
    Expr::Range(RangeFn::MaxOverTime, selector, window)
}

/// `abs(expr)`.
///
/// ```
/// use voxscope_alert::expr::{Expr, Matcher, Scope, Selector, abs};
/// let scope = Scope::rules(Matcher::eq("job", "j"), 300);
/// let gap = Expr::vector(Selector::new("a:x")) - Expr::vector(Selector::new("b:x"));
/// assert_eq!(abs(gap).render(&scope), "abs(a:x - b:x)");
/// ```
pub fn abs(expr: Expr) -> Expr {
    Expr::Call("abs", Box::new(expr))
}

/// `sqrt(expr)`: the square root of each value (NaN below zero), as PromQL's `sqrt()`.
///
/// ```
/// use voxscope_alert::expr::{Expr, Matcher, Scope, Selector, sqrt};
/// let scope = Scope::rules(Matcher::eq("job", "j"), 300);
/// let spread = sqrt(Expr::vector(Selector::new("a:x")) / Expr::vector(Selector::new("b:x")));
/// assert_eq!(spread.render(&scope), "sqrt(a:x / b:x)");
/// ```
pub fn sqrt(expr: Expr) -> Expr {
    Expr::Call("sqrt", Box::new(expr))
}

/// `sum by (labels) (expr)`; `sum(expr)` without labels.
pub fn sum_by(labels: &[&str], expr: Expr) -> Expr {
    aggregate("sum", labels, expr)
}

/// `op by (labels) (expr)`.
pub fn aggregate(op: &'static str, labels: &[&str], expr: Expr) -> Expr {
    Expr::Aggregate(op, labels.iter().map(|s| (*s).to_owned()).collect(), Box::new(expr))
}

/// `histogram_quantile(q, sum by (le, labels) (rate(histogram_bucket[window])))`;
/// `histogram` is the base name.
pub fn quantile(q: f64, labels: &[&str], histogram: Selector, window: Window) -> Expr {
    let labels = labels.iter().map(|s| (*s).to_owned()).collect();
    Expr::Quantile(q, labels, histogram.bucket(None), window)
}

/// A plain number.
pub fn number(value: f64) -> Expr {
    Expr::Number(value)
}

impl Expr {
    /// A raw selector.
    pub fn vector(selector: Selector) -> Self {
        Expr::Vector(selector)
    }

    fn binary(self, op: BinOp, on: Option<&[&str]>, rhs: Expr) -> Self {
        let on = on.map(|labels| labels.iter().map(|s| (*s).to_owned()).collect());
        Expr::Binary(op, Box::new(self), on, Box::new(rhs))
    }

    /// `self > threshold`.
    pub fn gt(self, threshold: f64) -> Self {
        self.binary(BinOp::Gt, None, number(threshold))
    }

    /// `self >= threshold`.
    pub fn ge(self, threshold: f64) -> Self {
        self.binary(BinOp::Ge, None, number(threshold))
    }

    /// `self < threshold`.
    pub fn lt(self, threshold: f64) -> Self {
        self.binary(BinOp::Lt, None, number(threshold))
    }

    /// `self == value`.
    pub fn equal_to(self, value: f64) -> Self {
        self.binary(BinOp::EqualTo, None, number(value))
    }

    /// `self > rhs`, for thresholds that read better as arithmetic (`14.4 * (1 - 0.99)`).
    pub fn above(self, rhs: Expr) -> Self {
        self.binary(BinOp::Gt, None, rhs)
    }

    /// `self and rhs`.
    pub fn and(self, rhs: Expr) -> Self {
        self.binary(BinOp::And, None, rhs)
    }

    /// `self and on (labels) rhs`.
    pub fn and_on(self, labels: &[&str], rhs: Expr) -> Self {
        self.binary(BinOp::And, Some(labels), rhs)
    }

    /// `self or rhs`.
    pub fn or(self, rhs: Expr) -> Self {
        self.binary(BinOp::Or, None, rhs)
    }

    /// `self unless rhs`: the series of `self` that have no series with the same labels
    /// in `rhs`.
    pub fn unless(self, rhs: Expr) -> Self {
        self.binary(BinOp::Unless, None, rhs)
    }

    /// `self unless on (labels) rhs`.
    pub fn unless_on(self, labels: &[&str], rhs: Expr) -> Self {
        self.binary(BinOp::Unless, Some(labels), rhs)
    }

    /// `self + rhs`.
    #[must_use]
    pub fn plus(self, rhs: Expr) -> Self {
        self.binary(BinOp::Add, None, rhs)
    }

    /// The same expression `seconds` ago: every selector in it is read with `offset`.
    ///
    /// ```
    /// use voxscope_alert::expr::{Matcher, Scope, Selector, Window, quantile_over_time};
    /// let last_week = quantile_over_time(0.5, Selector::new("anomaly:signal"), Window::Fixed(3600))
    ///     .offset(7 * 86400 - 1800);
    /// let scope = Scope::rules(Matcher::eq("job", "voice_agent"), 300);
    /// assert_eq!(
    ///     last_week.render(&scope),
    ///     "quantile_over_time(0.5, anomaly:signal[1h] offset 6d23h30m)"
    /// );
    /// ```
    #[must_use]
    pub fn offset(self, seconds: u64) -> Self {
        Expr::Offset(Box::new(self), seconds)
    }

    /// The same expression with every `rate` turned into `increase`: the number of
    /// events an SLI's denominator counted in its window.
    #[must_use]
    pub fn increase(&self) -> Self {
        match self {
            Expr::Range(RangeFn::Rate, selector, window) => {
                Expr::Range(RangeFn::Increase, selector.clone(), *window)
            }
            Expr::Aggregate(op, by, inner) => {
                Expr::Aggregate(op, by.clone(), Box::new(inner.increase()))
            }
            Expr::Call(f, inner) => Expr::Call(f, Box::new(inner.increase())),
            Expr::Binary(op, lhs, on, rhs) => {
                Expr::Binary(*op, Box::new(lhs.increase()), on.clone(), Box::new(rhs.increase()))
            }
            other => other.clone(),
        }
    }

    /// The same expression with every free window fixed to `seconds`.
    #[must_use]
    pub fn bind(&self, seconds: u64) -> Self {
        let fix = |w: &Window| if *w == Window::Free { Window::Fixed(seconds) } else { *w };
        match self {
            Expr::Range(f, selector, window) => Expr::Range(*f, selector.clone(), fix(window)),
            Expr::Quantile(q, by, bucket, window) => {
                Expr::Quantile(*q, by.clone(), bucket.clone(), fix(window))
            }
            Expr::Aggregate(op, by, inner) => {
                Expr::Aggregate(op, by.clone(), Box::new(inner.bind(seconds)))
            }
            Expr::Call(f, inner) => Expr::Call(f, Box::new(inner.bind(seconds))),
            Expr::Binary(op, lhs, on, rhs) => Expr::Binary(
                *op,
                Box::new(lhs.bind(seconds)),
                on.clone(),
                Box::new(rhs.bind(seconds)),
            ),
            Expr::Offset(inner, by) => Expr::Offset(Box::new(inner.bind(seconds)), *by),
            other => other.clone(),
        }
    }

    /// The same expression without NaN where nothing happened: every division by a
    /// vector divides by its positive part (`a / (b > 0)`), and every quantile keeps
    /// only groups that observed something in the window. Alerts need no such guard
    /// (NaN compares false); dashboards and recorded panels do.
    ///
    /// ```
    /// use voxscope_alert::expr::{Expr, Matcher, Scope, Selector, Window, quantile};
    /// let p95 = quantile(0.95, &["route"], Selector::new("d_seconds"), Window::Free);
    /// let scope = Scope::rules(Matcher::eq("job", "j"), 60);
    /// assert_eq!(
    ///     p95.defined().render(&scope),
    ///     "histogram_quantile(0.95, sum by (le, job, route) (rate(d_seconds_bucket{job=\"j\"}[1m]))) \
    ///      and sum by (job, route) (rate(d_seconds_count{job=\"j\"}[1m])) > 0"
    /// );
    /// ```
    #[must_use]
    pub fn defined(&self) -> Self {
        match self {
            Expr::Quantile(_, by, bucket, window) => {
                let count = Selector {
                    metric: bucket.metric.trim_end_matches("_bucket").to_owned() + "_count",
                    matchers: bucket.matchers.clone(),
                };
                let by: Vec<&str> = by.iter().map(String::as_str).collect();
                self.clone().and(sum_by(&by, rate(count, *window)).gt(0.0))
            }
            Expr::Binary(BinOp::Div, lhs, on, rhs) if rhs.selects() => Expr::Binary(
                BinOp::Div,
                Box::new(lhs.defined()),
                on.clone(),
                Box::new(rhs.defined().gt(0.0)),
            ),
            Expr::Binary(op, lhs, on, rhs) => {
                Expr::Binary(*op, Box::new(lhs.defined()), on.clone(), Box::new(rhs.defined()))
            }
            Expr::Aggregate(op, by, inner) => {
                Expr::Aggregate(op, by.clone(), Box::new(inner.defined()))
            }
            other => other.clone(),
        }
    }

    /// The metric names its selectors read, each once, in order (a quantile reads its
    /// `_bucket` series).
    ///
    /// ```
    /// use voxscope_alert::expr::{Selector, Window, quantile, rate};
    /// let e = rate(Selector::new("a_total"), Window::Free)
    ///     / quantile(0.5, &[], Selector::new("h_seconds"), Window::Free);
    /// assert_eq!(e.metrics(), ["a_total", "h_seconds_bucket"]);
    /// ```
    pub fn metrics(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for selector in self.selectors() {
            if !out.contains(&selector.metric) {
                out.push(selector.metric.clone());
            }
        }
        out
    }

    /// Every selector it reads, in order (a quantile's is its `_bucket` selector).
    ///
    /// ```
    /// use voxscope_alert::expr::{Matcher, Selector, Window, quantile, rate};
    /// let tts = Selector::new("t_seconds").with(Matcher::eq("kind", "tts"));
    /// let e = rate(Selector::new("a_total"), Window::Free) / quantile(0.5, &[], tts, Window::Free);
    /// let read: Vec<_> = e.selectors().iter().map(|s| s.metric.as_str()).collect();
    /// assert_eq!(read, ["a_total", "t_seconds_bucket"]);
    /// assert_eq!(e.selectors()[1].matchers[0].value, "tts");
    /// ```
    pub fn selectors(&self) -> Vec<&Selector> {
        fn walk<'a>(expr: &'a Expr, out: &mut Vec<&'a Selector>) {
            match expr {
                Expr::Vector(selector) | Expr::Range(_, selector, _) => out.push(selector),
                Expr::Quantile(_, _, bucket, _) => out.push(bucket),
                Expr::Aggregate(_, _, inner) | Expr::Call(_, inner) | Expr::Offset(inner, _) => {
                    walk(inner, out)
                }
                Expr::Binary(_, lhs, _, rhs) => {
                    walk(lhs, out);
                    walk(rhs, out);
                }
                Expr::Number(_) => {}
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }

    /// The job an equality matcher of its selectors names: set when the expression
    /// watches another scrape job than the service's (a probe, a node exporter), whose
    /// selectors then keep their own job ([`Selector::scope_matchers`]).
    ///
    /// ```
    /// use voxscope_alert::expr::{Expr, Matcher, Selector};
    /// let probe = Selector::new("probe_success").with(Matcher::eq("job", "blackbox"));
    /// assert_eq!(Expr::vector(probe).equal_to(0.0).own_job(), Some("blackbox"));
    /// assert_eq!(Expr::vector(Selector::new("up")).own_job(), None);
    /// ```
    pub fn own_job(&self) -> Option<&str> {
        match self {
            Expr::Vector(s) | Expr::Range(_, s, _) | Expr::Quantile(_, _, s, _) => s
                .matchers
                .iter()
                .find(|m| m.label == "job" && m.op == MatchOp::Eq)
                .map(|m| m.value.as_str()),
            Expr::Aggregate(_, _, inner) | Expr::Call(_, inner) | Expr::Offset(inner, _) => {
                inner.own_job()
            }
            Expr::Binary(_, lhs, _, rhs) => lhs.own_job().or_else(|| rhs.own_job()),
            Expr::Number(_) => None,
        }
    }

    /// Whether it reads any series (else it is a scalar).
    fn selects(&self) -> bool {
        match self {
            Expr::Vector(_) | Expr::Range(..) | Expr::Quantile(..) => true,
            Expr::Aggregate(_, _, inner) | Expr::Call(_, inner) | Expr::Offset(inner, _) => {
                inner.selects()
            }
            Expr::Binary(_, lhs, _, rhs) => lhs.selects() || rhs.selects(),
            Expr::Number(_) => false,
        }
    }

    /// The PromQL text under `scope`.
    pub fn render(&self, scope: &Scope) -> String {
        let mut out = String::new();
        self.write(&mut out, scope, None);
        out
    }

    fn precedence(&self) -> u8 {
        match self {
            Expr::Binary(op, ..) => op.precedence(),
            _ => u8::MAX,
        }
    }

    /// Writes the PromQL text; `offset` (seconds) goes after every selector.
    fn write(&self, out: &mut String, scope: &Scope, offset: Option<u64>) {
        let offset_text = offset.map(|s| format!(" offset {}", duration(s))).unwrap_or_default();
        match self {
            Expr::Vector(selector) => {
                out.push_str(&selector.render(scope));
                out.push_str(&offset_text);
            }
            Expr::Range(f, selector, window) => {
                let (f, before, ahead) = match f {
                    RangeFn::Rate => ("rate", None, None),
                    RangeFn::Increase => ("increase", None, None),
                    RangeFn::PredictLinear(seconds) => ("predict_linear", None, Some(seconds)),
                    RangeFn::QuantileOverTime(q) => ("quantile_over_time", Some(q), None),
                    RangeFn::MaxOverTime => ("max_over_time", None, None),
                };
                let _ = write!(out, "{f}(");
                if let Some(q) = before {
                    let _ = write!(out, "{q}, ");
                }
                let _ = write!(
                    out,
                    "{}[{}]{offset_text}",
                    selector.render(scope),
                    scope.window(*window)
                );
                if let Some(seconds) = ahead {
                    let _ = write!(out, ", {seconds}");
                }
                out.push(')');
            }
            Expr::Offset(inner, seconds) => {
                inner.write(out, scope, Some(offset.unwrap_or(0) + seconds));
            }
            Expr::Aggregate(op, by, inner) => {
                out.push_str(op);
                let by = scope.grouping(by);
                if !by.is_empty() {
                    let _ = write!(out, " by ({}) ", by.join(", "));
                }
                out.push('(');
                inner.write(out, scope, offset);
                out.push(')');
            }
            Expr::Quantile(q, by, bucket, window) => {
                let mut labels = vec!["le".to_owned()];
                labels.extend(scope.grouping(by));
                let _ = write!(
                    out,
                    "histogram_quantile({q}, sum by ({}) (rate({}[{}]{offset_text})))",
                    labels.join(", "),
                    bucket.render(scope),
                    scope.window(*window)
                );
            }
            Expr::Call(f, inner) => {
                let _ = write!(out, "{f}(");
                inner.write(out, scope, offset);
                out.push(')');
            }
            Expr::Number(value) => {
                let _ = write!(out, "{value}");
            }
            Expr::Binary(op, lhs, on, rhs) => {
                let p = op.precedence();
                let paren = |e: &Expr, out: &mut String, strict: bool| {
                    let wrap = if strict { e.precedence() <= p } else { e.precedence() < p };
                    if wrap {
                        out.push('(');
                    }
                    e.write(out, scope, offset);
                    if wrap {
                        out.push(')');
                    }
                };
                paren(lhs, out, false);
                let _ = write!(out, " {}", op.as_str());
                if let Some(labels) = on {
                    let _ = write!(out, " on ({})", labels.join(", "));
                }
                out.push(' ');
                paren(rhs, out, true);
            }
        }
    }
}

impl Div for Expr {
    type Output = Expr;

    /// `self / rhs`.
    fn div(self, rhs: Expr) -> Expr {
        self.binary(BinOp::Div, None, rhs)
    }
}

impl Sub for Expr {
    type Output = Expr;

    /// `self - rhs`.
    fn sub(self, rhs: Expr) -> Expr {
        self.binary(BinOp::Sub, None, rhs)
    }
}

impl Mul for Expr {
    type Output = Expr;

    /// `self * rhs`.
    fn mul(self, rhs: Expr) -> Expr {
        self.binary(BinOp::Mul, None, rhs)
    }
}

/// What rendering adds: the job scope of raw selectors, and the free window.
#[derive(Clone, Debug, PartialEq)]
pub struct Scope {
    /// Matchers added to every raw selector.
    pub job: Vec<Matcher>,
    /// What [`Window::Free`] renders as.
    pub window: String,
    /// Render every window, fixed ones included, as `window` (dashboards).
    pub override_windows: bool,
    /// Labels every aggregation keeps besides its own (`job` for rules, so that each
    /// alert names the job it is about and Alertmanager can mute by it).
    pub keep: Vec<String>,
}

impl Scope {
    /// Rules of `job`, free windows bound to `window_seconds`.
    pub fn rules(job: Matcher, window_seconds: u64) -> Self {
        let keep = vec![job.label.clone()];
        Self { job: vec![job], window: duration(window_seconds), override_windows: false, keep }
    }

    /// Dashboard panels: the `$job` and `$instance` variables, `$__rate_interval`.
    pub fn dashboard() -> Self {
        Self {
            job: vec![Matcher::re("job", "$job"), Matcher::re("instance", "$instance")],
            window: "$__rate_interval".to_owned(),
            override_windows: true,
            keep: Vec::new(),
        }
    }

    /// The same scope rendering fixed windows as they are (a 30-day budget panel).
    #[must_use]
    pub fn keep_windows(mut self) -> Self {
        self.override_windows = false;
        self
    }

    /// The same scope with free windows bound to `window_seconds`.
    #[must_use]
    pub fn with_window(&self, window_seconds: u64) -> Self {
        if self.override_windows {
            return self.clone();
        }
        Self { window: duration(window_seconds), ..self.clone() }
    }

    /// `by` with the kept labels first, each once.
    fn grouping(&self, by: &[String]) -> Vec<String> {
        let mut out: Vec<String> = self.keep.iter().filter(|k| !by.contains(k)).cloned().collect();
        out.extend(by.iter().cloned());
        out
    }

    fn window(&self, window: Window) -> String {
        match window {
            Window::Fixed(seconds) if !self.override_windows => duration(seconds),
            _ => self.window.clone(),
        }
    }
}

/// `absent(selector)`.
pub fn absent(selector: Selector) -> Expr {
    Expr::Call("absent", Box::new(Expr::Vector(selector)))
}

/// `vector(value)`.
pub fn vector(value: f64) -> Expr {
    Expr::Call("vector", Box::new(number(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope::rules(Matcher::eq("job", "j"), 300)
    }

    #[test]
    fn operators_of_lower_precedence_are_parenthesised() {
        let a = Expr::vector(Selector::new("a"));
        let b = Expr::vector(Selector::new("b"));
        let c = Expr::vector(Selector::new("c"));
        let sum = a.clone().sub(b.clone().or(number(0.0))).div(a.clone());
        assert_eq!(sum.render(&scope()), "(a{job=\"j\"} - (b{job=\"j\"} or 0)) / a{job=\"j\"}");
        let chained = a.clone().gt(1.0).and(b.clone().gt(2.0)).or(c.gt(3.0));
        assert_eq!(
            chained.render(&scope()),
            "a{job=\"j\"} > 1 and b{job=\"j\"} > 2 or c{job=\"j\"} > 3"
        );
        // Right operands of equal precedence keep their grouping.
        assert_eq!(a.sub(b.sub(number(1.0))).render(&scope()), "a{job=\"j\"} - (b{job=\"j\"} - 1)");
    }

    #[test]
    fn recorded_series_are_not_scoped_and_dashboards_use_variables() {
        let recorded = Expr::vector(Selector::new("slo:x:ratio").with(Matcher::eq("slo", "s")));
        assert_eq!(recorded.render(&scope()), "slo:x:ratio{slo=\"s\"}");
        let fixed = rate(Selector::new("x_total"), Window::Fixed(600));
        assert_eq!(fixed.render(&scope()), "rate(x_total{job=\"j\"}[10m])");
        assert_eq!(
            fixed.render(&Scope::dashboard()),
            "rate(x_total{job=~\"$job\",instance=~\"$instance\"}[$__rate_interval])"
        );
    }

    #[test]
    fn increase_turns_every_rate_into_an_event_count() {
        let e = sum_by(&["k"], rate(Selector::new("x_total"), Window::Free));
        assert_eq!(
            e.increase().render(&scope()),
            "sum by (job, k) (increase(x_total{job=\"j\"}[5m]))"
        );
    }

    #[test]
    fn le_matches_both_the_exposition_and_the_prometheus_3_form() {
        for (bound, exposed, normalised) in
            [(1.0, "1", "1.0"), (0.5, "0.5", "0.5"), (2.5, "2.5", "2.5"), (10.0, "10", "10.0")]
        {
            assert_eq!(bound.to_string(), exposed);
            assert_eq!(prometheus3_float(bound), normalised);
        }
        assert_eq!(Matcher::le(10.0).value, "10(\\.0)?");
        assert_eq!(prometheus3_float(0.0001), "0.0001");
        assert_eq!(prometheus3_float(123456.0), "123456.0");
    }
}
