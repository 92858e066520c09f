//! PromQL over the typed [`Expr`]: instant selectors with the 5-minute lookback, range
//! functions, aggregations, arithmetic, comparisons as filters and set operators with
//! one-to-one vector matching, `histogram_quantile`, `absent`, `vector`, `abs` and
//! `offset`.
//!
//! ```
//! use voxscope_alert::eval::{Labels, Query, Storage};
//! use voxscope_alert::expr::{Matcher, Scope, Selector, Window, rate, sum_by};
//!
//! let mut storage = Storage::new(Default::default());
//! let series = Labels::from([
//!     ("__name__".to_owned(), "x_total".to_owned()),
//!     ("job".to_owned(), "api".to_owned()),
//! ]);
//! for minute in 0..=5 {
//!     storage.append(&series, minute * 60_000, minute as f64 * 60.0).unwrap();
//! }
//! let scope = Scope::rules(Matcher::eq("job", "api"), 300);
//! let query = Query::new(&sum_by(&[], rate(Selector::new("x_total"), Window::Fixed(300))), &scope).unwrap();
//! let result = query.at(&storage, 300_000).unwrap();
//! assert_eq!(result[0].value, 1.0);
//! assert_eq!(result[0].labels["job"], "api");
//! ```

use super::Labels;
use super::aggregate::{AggOp, aggregate};
use super::binary::binary;
use super::error::EvalError;
use super::functions::{quantile_over_time, summary_rate};
use super::predict::predict_series;
use super::quantile::histogram_quantile;
use super::select::CompiledSelector;
use super::storage::{METRIC_NAME, Storage};
use crate::expr::{BinOp, Expr, RangeFn, Scope, Window};

/// One element of an instant vector: a label set (with `__name__` while an operation
/// keeps it) and a value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The labels.
    pub labels: Labels,
    /// The value.
    pub value: f64,
}

/// One series of a range query: a label set and its `(unix ms, value)` points.
#[derive(Clone, Debug, PartialEq)]
pub struct RangeSeries {
    /// The labels.
    pub labels: Labels,
    /// The points, in time order.
    pub points: Vec<(i64, f64)>,
}

/// What an expression evaluates to.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Scalar(f64),
    Vector(Vec<Sample>),
}

/// An [`Expr`] compiled under a [`Scope`].
#[derive(Clone, Debug)]
enum Node {
    Select(CompiledSelector),
    Range(RangeFn, CompiledSelector, i64),
    Aggregate(AggOp, Vec<String>, Box<Node>),
    Quantile(f64, Box<Node>),
    Absent(CompiledSelector),
    Vector(Box<Node>),
    /// `abs()` or `sqrt()`: a function of each value, the metric name dropped.
    Math(fn(f64) -> f64, Box<Node>),
    /// The inner node evaluated this many milliseconds earlier.
    Offset(Box<Node>, i64),
    Number(f64),
    Binary(BinOp, Box<Node>, Option<Vec<String>>, Box<Node>),
}

/// A compiled instant query: an [`Expr`] with a [`Scope`]'s job matchers added to every
/// raw selector and its kept labels to every aggregation, as the scope renders it.
#[derive(Clone, Debug)]
pub struct Query {
    node: Node,
}

impl Query {
    /// Compiles `expr` under `scope`. Its windows must be fixed: bind free ones first
    /// ([`Expr::bind`]), as the catalog's typed conditions are.
    ///
    /// # Errors
    /// A regex that does not compile, an unknown aggregation or function, or a free
    /// window.
    pub fn new(expr: &Expr, scope: &Scope) -> Result<Self, EvalError> {
        Ok(Self { node: compile(expr, scope)? })
    }

    /// The result at `t_ms`; a scalar comes back as one sample without labels.
    ///
    /// # Errors
    /// Operands an operator does not take, many-to-many matching, duplicate label sets.
    pub fn at(&self, storage: &Storage, t_ms: i64) -> Result<Vec<Sample>, EvalError> {
        let ctx = Ctx { storage, t_ms };
        Ok(match ctx.eval(&self.node)? {
            Value::Scalar(value) => vec![Sample { labels: Labels::new(), value }],
            Value::Vector(samples) => samples,
        })
    }

    /// The result at every `step_ms` from `start_ms` to `end_ms` (both included when the
    /// steps land on it), as Prometheus's `query_range` gives it: one series per label
    /// set, its points in time order, a step where the set has no value left out.
    ///
    /// ```
    /// use voxscope_alert::eval::{Labels, Query, Storage};
    /// use voxscope_alert::expr::{Matcher, Scope, Selector, Window, rate};
    ///
    /// let mut storage = Storage::new(Default::default());
    /// let series = Labels::from([("__name__".to_owned(), "x_total".to_owned())]);
    /// for minute in 0..=10 {
    ///     storage.append(&series, minute * 60_000, minute as f64 * 120.0).unwrap();
    /// }
    /// let scope = Scope::rules(Matcher::re("job", ".*"), 60);
    /// let query = Query::new(&rate(Selector::new("x_total"), Window::Fixed(120)), &scope).unwrap();
    /// let series = query.range(&storage, 300_000, 600_000, 60_000).unwrap();
    /// assert_eq!(series.len(), 1);
    /// assert_eq!(series[0].points.len(), 6);
    /// assert!(series[0].points.iter().all(|&(_, v)| v == 2.0));
    /// ```
    ///
    /// # Errors
    /// As [`Query::at`]; a step that is not positive.
    pub fn range(
        &self,
        storage: &Storage,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Vec<RangeSeries>, EvalError> {
        if step_ms <= 0 {
            return Err(EvalError::Unsupported("step", format!("{step_ms} ms")));
        }
        let mut series: std::collections::BTreeMap<Labels, Vec<(i64, f64)>> =
            std::collections::BTreeMap::new();
        let mut t_ms = start_ms;
        while t_ms <= end_ms {
            for sample in self.at(storage, t_ms)? {
                series.entry(sample.labels).or_default().push((t_ms, sample.value));
            }
            t_ms = t_ms.saturating_add(step_ms);
        }
        Ok(series.into_iter().map(|(labels, points)| RangeSeries { labels, points }).collect())
    }

    /// The milliseconds of every range read: the storage reaches back that far.
    pub(crate) fn ranges(&self) -> Vec<i64> {
        let mut out = Vec::new();
        collect_ranges(&self.node, &mut out);
        out
    }
}

fn collect_ranges(node: &Node, out: &mut Vec<i64>) {
    match node {
        Node::Range(_, _, ms) => out.push(*ms),
        Node::Aggregate(_, _, inner)
        | Node::Quantile(_, inner)
        | Node::Vector(inner)
        | Node::Math(_, inner) => {
            collect_ranges(inner, out);
        }
        Node::Offset(inner, ms) => {
            let mut inner_ranges = Vec::new();
            collect_ranges(inner, &mut inner_ranges);
            out.extend(inner_ranges.into_iter().map(|range| range + ms));
            out.push(*ms);
        }
        Node::Binary(_, lhs, _, rhs) => {
            collect_ranges(lhs, out);
            collect_ranges(rhs, out);
        }
        Node::Select(_) | Node::Absent(_) | Node::Number(_) => {}
    }
}

fn window_ms(window: Window) -> Result<i64, EvalError> {
    match window {
        Window::Fixed(seconds) => Ok(seconds as i64 * 1000),
        Window::Free => Err(EvalError::Unsupported("window", "free (bind it first)".to_owned())),
    }
}

/// `by` with the scope's kept labels first, each once.
fn grouping(scope: &Scope, by: &[String]) -> Vec<String> {
    let mut out: Vec<String> = scope.keep.iter().filter(|k| !by.contains(k)).cloned().collect();
    out.extend(by.iter().cloned());
    out
}

fn compile(expr: &Expr, scope: &Scope) -> Result<Node, EvalError> {
    Ok(match expr {
        Expr::Vector(selector) => Node::Select(CompiledSelector::new(selector, &scope.job)?),
        Expr::Range(f, selector, window) => {
            Node::Range(*f, CompiledSelector::new(selector, &scope.job)?, window_ms(*window)?)
        }
        Expr::Aggregate(op, by, inner) => {
            let Some(op) = AggOp::parse(op) else {
                return Err(EvalError::Unsupported("aggregation", (*op).to_owned()));
            };
            Node::Aggregate(op, grouping(scope, by), Box::new(compile(inner, scope)?))
        }
        Expr::Quantile(q, by, bucket, window) => {
            let mut labels = vec!["le".to_owned()];
            labels.extend(grouping(scope, by));
            let rate = Node::Range(
                RangeFn::Rate,
                CompiledSelector::new(bucket, &scope.job)?,
                window_ms(*window)?,
            );
            Node::Quantile(*q, Box::new(Node::Aggregate(AggOp::Sum, labels, Box::new(rate))))
        }
        Expr::Call("absent", inner) => match inner.as_ref() {
            Expr::Vector(selector) => Node::Absent(CompiledSelector::new(selector, &scope.job)?),
            _ => return Err(EvalError::Unsupported("absent() of", "a non-selector".to_owned())),
        },
        Expr::Call("vector", inner) => Node::Vector(Box::new(compile(inner, scope)?)),
        Expr::Call("abs", inner) => Node::Math(f64::abs, Box::new(compile(inner, scope)?)),
        Expr::Call("sqrt", inner) => Node::Math(f64::sqrt, Box::new(compile(inner, scope)?)),
        Expr::Offset(inner, seconds) => {
            Node::Offset(Box::new(compile(inner, scope)?), *seconds as i64 * 1000)
        }
        Expr::Call(other, _) => {
            return Err(EvalError::Unsupported("function", (*other).to_owned()));
        }
        Expr::Number(value) => Node::Number(*value),
        Expr::Binary(op, lhs, on, rhs) => Node::Binary(
            *op,
            Box::new(compile(lhs, scope)?),
            on.clone(),
            Box::new(compile(rhs, scope)?),
        ),
    })
}

struct Ctx<'a> {
    storage: &'a Storage,
    t_ms: i64,
}

impl Ctx<'_> {
    fn series<'s>(
        &'s self,
        selector: &'s CompiledSelector,
    ) -> impl Iterator<Item = (&'s Labels, &'s super::series::Series)> + 's {
        self.storage
            .metrics
            .get(&selector.metric)
            .into_iter()
            .flatten()
            .filter(|(labels, _)| selector.matches(&selector.metric, labels))
    }

    fn eval(&self, node: &Node) -> Result<Value, EvalError> {
        Ok(match node {
            Node::Number(value) => Value::Scalar(*value),
            Node::Select(selector) => Value::Vector(
                self.series(selector)
                    .filter_map(|(labels, s)| {
                        let value = s.instant(&self.storage.limits, self.t_ms)?;
                        Some(Sample { labels: labels.clone(), value })
                    })
                    .collect(),
            ),
            Node::Range(f, selector, range) => {
                let mut out = Vec::new();
                let from = self.t_ms - range;
                for (labels, series) in self.series(selector) {
                    let value = match f {
                        RangeFn::PredictLinear(seconds) => {
                            predict_series(series, from, self.t_ms, *seconds as f64)
                        }
                        RangeFn::QuantileOverTime(q) => {
                            let mut values = series.values(&self.storage.limits, from, self.t_ms);
                            quantile_over_time(*q, &mut values)
                        }
                        RangeFn::MaxOverTime => series
                            .values(&self.storage.limits, from, self.t_ms)
                            .into_iter()
                            .reduce(|max, v| if v > max || max.is_nan() { v } else { max }),
                        _ => series
                            .range(&self.storage.limits, from, self.t_ms)
                            .and_then(|s| summary_rate(*f, &s, self.t_ms, *range)),
                    };
                    if let Some(value) = value {
                        let mut labels = labels.clone();
                        labels.remove(METRIC_NAME);
                        out.push(Sample { labels, value });
                    }
                }
                Value::Vector(out)
            }
            Node::Absent(selector) => {
                let present = self
                    .series(selector)
                    .any(|(_, s)| s.instant(&self.storage.limits, self.t_ms).is_some());
                let absent = Sample { labels: selector.absent_labels(), value: 1.0 };
                Value::Vector(if present { Vec::new() } else { vec![absent] })
            }
            Node::Vector(inner) => match self.eval(inner)? {
                Value::Scalar(value) => {
                    Value::Vector(vec![Sample { labels: Labels::new(), value }])
                }
                Value::Vector(_) => {
                    return Err(EvalError::BadOperands("vector() takes a scalar".to_owned()));
                }
            },
            Node::Math(f, inner) => match self.eval(inner)? {
                Value::Scalar(value) => Value::Scalar(f(value)),
                Value::Vector(mut samples) => {
                    for sample in &mut samples {
                        sample.labels.remove(METRIC_NAME);
                        sample.value = f(sample.value);
                    }
                    Value::Vector(samples)
                }
            },
            Node::Offset(inner, ms) => {
                Ctx { storage: self.storage, t_ms: self.t_ms - ms }.eval(inner)?
            }
            Node::Aggregate(op, by, inner) => {
                Value::Vector(aggregate(*op, by, self.vector(inner)?))
            }
            Node::Quantile(q, inner) => Value::Vector(histogram_quantile(*q, self.vector(inner)?)),
            Node::Binary(op, lhs, on, rhs) => {
                let lhs = self.eval(lhs)?;
                let rhs = self.eval(rhs)?;
                binary(*op, lhs, on.as_deref(), rhs)?
            }
        })
    }

    fn vector(&self, node: &Node) -> Result<Vec<Sample>, EvalError> {
        match self.eval(node)? {
            Value::Vector(samples) => Ok(samples),
            Value::Scalar(_) => {
                Err(EvalError::BadOperands("expected a vector, got a scalar".to_owned()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{Matcher, Selector, absent, aggregate, number, vector};

    type Row<'a> = (&'a str, &'a [(&'a str, &'a str)], f64);

    fn storage(series: &[Row<'_>]) -> Storage {
        let mut storage = Storage::new(Default::default());
        for (name, labels, value) in series {
            let mut l: Labels =
                labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            l.insert(METRIC_NAME.to_owned(), (*name).to_owned());
            storage.append(&l, 0, *value).unwrap();
        }
        storage
    }

    fn unscoped() -> Scope {
        Scope {
            job: Vec::new(),
            window: "5m".to_owned(),
            override_windows: false,
            keep: Vec::new(),
        }
    }

    fn run(expr: &Expr, storage: &Storage) -> Result<Vec<(Labels, f64)>, EvalError> {
        let mut out: Vec<(Labels, f64)> = Query::new(expr, &unscoped())?
            .at(storage, 0)?
            .into_iter()
            .map(|s| (s.labels, s.value))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    fn v(name: &str) -> Expr {
        Expr::vector(Selector::new(name))
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn arithmetic_matches_one_to_one_and_drops_the_name() {
        let s = storage(&[
            ("a", &[("k", "1")], 6.0),
            ("a", &[("k", "2")], 8.0),
            ("b", &[("k", "1")], 3.0),
            ("b", &[("k", "3")], 1.0),
        ]);
        assert_eq!(run(&(v("a") / v("b")), &s).unwrap(), vec![(labels(&[("k", "1")]), 2.0)]);
    }

    #[test]
    fn comparisons_filter_and_keep_the_vector_value_on_either_side() {
        let s = storage(&[("a", &[("k", "1")], 6.0), ("a", &[("k", "2")], 1.0)]);
        let kept = vec![(labels(&[("__name__", "a"), ("k", "1")]), 6.0)];
        assert_eq!(run(&v("a").gt(2.0), &s).unwrap(), kept);
        let scalar_left = Expr::Binary(BinOp::Lt, Box::new(number(2.0)), None, Box::new(v("a")));
        assert_eq!(run(&scalar_left, &s).unwrap(), kept);
        // NaN compares false.
        let nan = storage(&[("a", &[], f64::NAN)]);
        assert_eq!(run(&v("a").gt(0.0), &nan).unwrap(), vec![]);
        assert_eq!(run(&v("a").lt(0.0), &nan).unwrap(), vec![]);
    }

    #[test]
    fn set_operators_match_on_all_labels_or_only_on() {
        let s = storage(&[
            ("a", &[("job", "j"), ("k", "1")], 1.0),
            ("a", &[("job", "j"), ("k", "2")], 2.0),
            ("b", &[("job", "j"), ("k", "1")], 9.0),
            ("c", &[("job", "j")], 5.0),
        ]);
        let one = labels(&[("__name__", "a"), ("job", "j"), ("k", "1")]);
        let two = labels(&[("__name__", "a"), ("job", "j"), ("k", "2")]);
        assert_eq!(run(&v("a").and(v("b")), &s).unwrap(), vec![(one.clone(), 1.0)]);
        let unless = v("a").unless_on(&["k"], v("b"));
        assert_eq!(run(&unless, &s).unwrap(), vec![(two.clone(), 2.0)]);
        assert_eq!(run(&v("a").and_on(&["job"], v("c")), &s).unwrap().len(), 2);
        assert_eq!(run(&v("a").and(v("c")), &s).unwrap(), vec![]);
        let or = run(&v("b").or(v("a")), &s).unwrap();
        assert_eq!(or.len(), 2, "a{{k=1}} is shadowed by b{{k=1}}: {or:?}");
        assert!(or.iter().any(|(l, v)| l == &two && *v == 2.0));
    }

    #[test]
    fn many_to_many_and_many_to_one_matching_are_errors() {
        let s = storage(&[
            ("a", &[("job", "j"), ("k", "1")], 1.0),
            ("a", &[("job", "j"), ("k", "2")], 2.0),
            ("c", &[("job", "j")], 5.0),
        ]);
        let on_job = |l: Expr, r: Expr| {
            Expr::Binary(BinOp::Div, Box::new(l), Some(vec!["job".to_owned()]), Box::new(r))
        };
        assert!(matches!(run(&on_job(v("c"), v("a")), &s), Err(EvalError::ManyToMany(..))));
        assert!(matches!(run(&on_job(v("a"), v("c")), &s), Err(EvalError::BadOperands(_))));
        // Matching on job keeps only job in the result.
        let s = storage(&[("a", &[("job", "j"), ("k", "1")], 10.0), ("c", &[("job", "j")], 5.0)]);
        assert_eq!(run(&on_job(v("a"), v("c")), &s).unwrap(), vec![(labels(&[("job", "j")]), 2.0)]);
    }

    #[test]
    fn aggregations_group_by_their_labels_and_max_skips_nan() {
        let s = storage(&[
            ("a", &[("k", "1"), ("x", "p")], f64::NAN),
            ("a", &[("k", "1"), ("x", "q")], 4.0),
            ("a", &[("k", "2"), ("x", "p")], 3.0),
        ]);
        let max = run(&aggregate("max", &["k"], v("a")), &s).unwrap();
        assert_eq!(max, vec![(labels(&[("k", "1")]), 4.0), (labels(&[("k", "2")]), 3.0)]);
        let sum = run(&aggregate("sum", &[], v("a")), &s).unwrap();
        assert!(sum[0].1.is_nan() && sum[0].0.is_empty());
        let count = run(&aggregate("count", &["x"], v("a")), &s).unwrap();
        assert_eq!(count, vec![(labels(&[("x", "p")]), 2.0), (labels(&[("x", "q")]), 1.0)]);
        assert!(matches!(
            Query::new(&aggregate("stddev", &[], v("a")), &unscoped()),
            Err(EvalError::Unsupported("aggregation", _))
        ));
    }

    #[test]
    fn absent_carries_the_equality_matchers_and_vector_has_no_labels() {
        let s = storage(&[("up", &[("job", "other")], 1.0)]);
        let scope = Scope::rules(Matcher::eq("job", "j"), 300);
        let selector = Selector::new("up").with(Matcher::re("instance", "a.*"));
        let query = Query::new(&absent(selector), &scope).unwrap();
        let result = query.at(&s, 0).unwrap();
        assert_eq!(result, vec![Sample { labels: labels(&[("job", "j")]), value: 1.0 }]);
        let present = Query::new(&absent(Selector::new("up")), &unscoped()).unwrap();
        assert_eq!(present.at(&s, 0).unwrap(), vec![]);
        let one = Query::new(&vector(1.0), &scope).unwrap().at(&s, 0).unwrap();
        assert_eq!(one, vec![Sample { labels: Labels::new(), value: 1.0 }]);
    }

    #[test]
    fn the_scope_adds_the_job_to_raw_selectors_and_aggregations_not_to_recorded_series() {
        let s = storage(&[
            ("x_total", &[("job", "j"), ("route", "/a")], 5.0),
            ("x_total", &[("job", "other"), ("route", "/a")], 50.0),
            ("slo:x:ratio", &[("slo", "s")], 0.5),
        ]);
        let scope = Scope::rules(Matcher::eq("job", "j"), 300);
        let sum = Query::new(&aggregate("sum", &["route"], v("x_total")), &scope).unwrap();
        assert_eq!(
            sum.at(&s, 0).unwrap(),
            vec![Sample { labels: labels(&[("job", "j"), ("route", "/a")]), value: 5.0 }]
        );
        let recorded = Query::new(&v("slo:x:ratio"), &scope).unwrap();
        assert_eq!(recorded.at(&s, 0).unwrap().len(), 1);
    }

    #[test]
    fn quantile_over_time_reads_the_minute_steps_and_the_raw_samples_of_a_day() {
        // Two days, a sample a minute: the value is the minute of the hour. The raw tier
        // keeps the last hour, the minute steps the rest: a day reads 1440 values, each
        // minute of the hour 24 times, plus the one at the window's start.
        let mut storage = Storage::new(Default::default());
        let series = labels(&[("__name__", "x:signal"), ("k", "1")]);
        let end = 2 * 1440 * 60_000;
        for minute in 0..=2 * 1440 {
            storage.append(&series, minute * 60_000, (minute % 60) as f64).unwrap();
        }
        storage.compact(end);
        let day = Window::Fixed(86_400);
        let median = crate::expr::quantile_over_time(0.5, Selector::new("x:signal"), day);
        let got = Query::new(&median, &unscoped()).unwrap().at(&storage, end).unwrap();
        let mut expected: Vec<f64> = (1440..=2 * 1440).map(|m| (m % 60) as f64).collect();
        let expected = quantile_over_time(0.5, &mut expected).unwrap();
        assert_eq!(got, vec![Sample { labels: labels(&[("k", "1")]), value: expected }]);
        let p90 = crate::expr::quantile_over_time(0.9, Selector::new("x:signal"), day);
        let got = Query::new(&p90, &unscoped()).unwrap().at(&storage, end).unwrap();
        assert_eq!(got[0].value, 53.0);
    }

    #[test]
    fn offset_reads_the_past_and_abs_drops_the_sign_and_the_name() {
        let mut storage = Storage::new(Default::default());
        let series = labels(&[("__name__", "x:signal")]);
        for minute in 0..=120 {
            storage.append(&series, minute * 60_000, 100.0 - minute as f64).unwrap();
        }
        let now = 120 * 60_000;
        let hour_ago = Query::new(&v("x:signal").offset(3600), &unscoped()).unwrap();
        assert_eq!(hour_ago.at(&storage, now).unwrap()[0].value, 40.0);
        assert_eq!(hour_ago.ranges(), vec![3_600_000]);
        let change = crate::expr::abs(v("x:signal") - v("x:signal").offset(3600));
        let got = Query::new(&change, &unscoped()).unwrap().at(&storage, now).unwrap();
        assert_eq!(got, vec![Sample { labels: Labels::new(), value: 60.0 }]);
        let gone = crate::expr::abs(v("x:signal"));
        let got = Query::new(&gone, &unscoped()).unwrap().at(&storage, now).unwrap();
        assert_eq!(got, vec![Sample { labels: Labels::new(), value: 20.0 }]);
        let window =
            crate::expr::quantile_over_time(0.5, Selector::new("x:signal"), Window::Fixed(600))
                .offset(3600);
        let q = Query::new(&window, &unscoped()).unwrap();
        // Minutes 50..=60 hold 50..=40: their median is 45.
        assert_eq!(q.at(&storage, now).unwrap()[0].value, 45.0);
        assert_eq!(q.ranges(), vec![4_200_000, 3_600_000]);
    }

    #[test]
    fn max_over_time_is_the_largest_sample_and_none_without_samples() {
        // A check recorded only while it held: minutes 30 to 34 of two hours.
        let mut storage = Storage::new(Default::default());
        let held = labels(&[("__name__", "x:out"), ("signal", "calls")]);
        for minute in 30..=34 {
            storage.append(&held, minute * 60_000, f64::from(minute as u8 % 7)).unwrap();
        }
        let hour = crate::expr::max_over_time(Selector::new("x:out"), Window::Fixed(3600));
        let at = |query: &crate::expr::Expr, minute: i64| {
            Query::new(query, &unscoped()).unwrap().at(&storage, minute * 60_000).unwrap()
        };
        // 30..=34 modulo 7: 2, 3, 4, 5, 6.
        assert_eq!(
            at(&hour, 60),
            vec![Sample { labels: labels(&[("signal", "calls")]), value: 6.0 }]
        );
        assert_eq!(
            at(&hour.clone().offset(3600), 100),
            vec![Sample { labels: labels(&[("signal", "calls")]), value: 6.0 }]
        );
        assert_eq!(at(&hour, 120), Vec::new(), "nothing recorded in the last hour");
    }

    #[test]
    fn a_regex_matcher_is_anchored_and_a_bad_one_is_an_error() {
        let s = storage(&[
            ("h", &[("le", "1")], 1.0),
            ("h", &[("le", "1.0")], 2.0),
            ("h", &[("le", "10")], 3.0),
        ]);
        let sel = Selector::new("h").with(Matcher::le(1.0));
        assert_eq!(run(&Expr::vector(sel), &s).unwrap().len(), 2);
        let bad = Selector::new("h").with(Matcher::re("le", "("));
        assert!(matches!(
            Query::new(&Expr::vector(bad), &unscoped()),
            Err(EvalError::BadRegex(..))
        ));
    }
}
