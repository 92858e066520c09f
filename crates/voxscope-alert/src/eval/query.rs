//! PromQL over the typed [`Expr`]: instant selectors with the 5-minute lookback, range
//! functions, aggregations, arithmetic, comparisons as filters and set operators with
//! one-to-one vector matching, `histogram_quantile`, `absent` and `vector`.
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

use std::collections::{HashMap, HashSet};

use super::Labels;
use super::error::EvalError;
use super::functions::summary_rate;
use super::quantile::bucket_quantile;
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

/// What an expression evaluates to.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Scalar(f64),
    Vector(Vec<Sample>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AggOp {
    Sum,
    Max,
    Min,
    Avg,
    Count,
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

    /// `(selector, range ms)` of every range read: the storage keeps those series that
    /// long.
    pub(crate) fn ranges(&self) -> Vec<(CompiledSelector, i64)> {
        let mut out = Vec::new();
        collect_ranges(&self.node, &mut out);
        out
    }
}

fn collect_ranges(node: &Node, out: &mut Vec<(CompiledSelector, i64)>) {
    match node {
        Node::Range(_, selector, ms) => out.push((selector.clone(), *ms)),
        Node::Aggregate(_, _, inner) | Node::Quantile(_, inner) | Node::Vector(inner) => {
            collect_ranges(inner, out);
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
            let op = match *op {
                "sum" => AggOp::Sum,
                "max" => AggOp::Max,
                "min" => AggOp::Min,
                "avg" => AggOp::Avg,
                "count" => AggOp::Count,
                other => return Err(EvalError::Unsupported("aggregation", other.to_owned())),
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
    ) -> impl Iterator<Item = (&'s Labels, &'s super::storage::Series)> + 's {
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
                        let value = s.instant(self.t_ms)?;
                        Some(Sample { labels: labels.clone(), value })
                    })
                    .collect(),
            ),
            Node::Range(f, selector, range) => {
                let mut out = Vec::new();
                for (labels, series) in self.series(selector) {
                    let summary = series.range(self.t_ms - range, self.t_ms);
                    if let Some(value) =
                        summary.and_then(|s| summary_rate(*f, &s, self.t_ms, *range))
                    {
                        let mut labels = labels.clone();
                        labels.remove(METRIC_NAME);
                        out.push(Sample { labels, value });
                    }
                }
                Value::Vector(out)
            }
            Node::Absent(selector) => {
                let present = self.series(selector).any(|(_, s)| s.instant(self.t_ms).is_some());
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

fn group_key(labels: &Labels, by: &[String]) -> Labels {
    by.iter()
        .filter_map(|l| labels.get(l).filter(|v| !v.is_empty()).map(|v| (l.clone(), v.clone())))
        .collect()
}

/// Groups in order of first appearance, each aggregated in input order, as Prometheus.
fn aggregate(op: AggOp, by: &[String], samples: Vec<Sample>) -> Vec<Sample> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    // (labels, value, count)
    let mut groups: Vec<(Labels, f64, f64)> = Vec::new();
    for sample in samples {
        let key = group_key(&sample.labels, by);
        let v = sample.value;
        match index.get(&key) {
            None => {
                index.insert(key.clone(), groups.len());
                groups.push((key, if op == AggOp::Count { 1.0 } else { v }, 1.0));
            }
            Some(&i) => {
                let group = &mut groups[i];
                group.2 += 1.0;
                match op {
                    AggOp::Sum => group.1 += v,
                    AggOp::Count => group.1 += 1.0,
                    AggOp::Max => {
                        if group.1 < v || group.1.is_nan() {
                            group.1 = v;
                        }
                    }
                    AggOp::Min => {
                        if group.1 > v || group.1.is_nan() {
                            group.1 = v;
                        }
                    }
                    // Prometheus's incremental mean.
                    AggOp::Avg => group.1 += v / group.2 - group.1 / group.2,
                }
            }
        }
    }
    groups.into_iter().map(|(labels, value, _)| Sample { labels, value }).collect()
}

fn histogram_quantile(q: f64, samples: Vec<Sample>) -> Vec<Sample> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<(Labels, Vec<(f64, f64)>)> = Vec::new();
    for mut sample in samples {
        let Some(bound) = sample.labels.remove("le").and_then(|le| le.parse::<f64>().ok()) else {
            continue;
        };
        sample.labels.remove(METRIC_NAME);
        let i = *index.entry(sample.labels.clone()).or_insert_with(|| {
            groups.push((sample.labels, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push((bound, sample.value));
    }
    groups
        .into_iter()
        .map(|(labels, buckets)| Sample { labels, value: bucket_quantile(q, &buckets) })
        .collect()
}

/// `(value, keep)` of `l op r`; comparisons keep `l` when true.
fn apply(op: BinOp, l: f64, r: f64) -> (f64, bool) {
    match op {
        BinOp::Add => (l + r, true),
        BinOp::Sub => (l - r, true),
        BinOp::Mul => (l * r, true),
        BinOp::Div => (l / r, true),
        BinOp::Gt => (l, l > r),
        BinOp::Ge => (l, l >= r),
        BinOp::Lt => (l, l < r),
        BinOp::EqualTo => (l, l == r),
        BinOp::And | BinOp::Or | BinOp::Unless => (l, true),
    }
}

fn is_comparison(op: BinOp) -> bool {
    matches!(op, BinOp::Gt | BinOp::Ge | BinOp::Lt | BinOp::EqualTo)
}

fn is_set(op: BinOp) -> bool {
    matches!(op, BinOp::And | BinOp::Or | BinOp::Unless)
}

/// The labels a sample matches on: `on` labels, else all but the name.
fn signature(labels: &Labels, on: Option<&[String]>) -> Labels {
    match on {
        Some(on) => {
            on.iter().filter_map(|l| labels.get(l).map(|v| (l.clone(), v.clone()))).collect()
        }
        None => {
            let mut out = labels.clone();
            out.remove(METRIC_NAME);
            out
        }
    }
}

fn render_labels(labels: &Labels) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{{{}}}", pairs.join(", "))
}

fn no_duplicates(samples: &[Sample]) -> Result<(), EvalError> {
    let mut seen = HashSet::with_capacity(samples.len());
    if samples.iter().all(|s| seen.insert(&s.labels)) {
        Ok(())
    } else {
        Err(EvalError::DuplicateLabels)
    }
}

fn binary(op: BinOp, lhs: Value, on: Option<&[String]>, rhs: Value) -> Result<Value, EvalError> {
    let drop_name = !is_comparison(op) && !is_set(op);
    match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => {
            if is_comparison(op) || is_set(op) {
                return Err(EvalError::BadOperands(format!(
                    "{op:?} between two scalars needs the bool modifier"
                )));
            }
            Ok(Value::Scalar(apply(op, l, r).0))
        }
        (Value::Vector(v), Value::Scalar(s)) | (Value::Scalar(s), Value::Vector(v))
            if is_set(op) =>
        {
            let _ = (v, s);
            Err(EvalError::BadOperands(format!("{op:?} needs vectors on both sides")))
        }
        (Value::Vector(v), Value::Scalar(s)) => scalar_op(op, v, s, false, drop_name),
        (Value::Scalar(s), Value::Vector(v)) => scalar_op(op, v, s, true, drop_name),
        (Value::Vector(l), Value::Vector(r)) => match op {
            BinOp::And | BinOp::Unless => {
                let sigs: HashSet<Labels> = r.iter().map(|s| signature(&s.labels, on)).collect();
                let keep = op == BinOp::And;
                Ok(Value::Vector(
                    l.into_iter()
                        .filter(|s| sigs.contains(&signature(&s.labels, on)) == keep)
                        .collect(),
                ))
            }
            BinOp::Or => {
                let sigs: HashSet<Labels> = l.iter().map(|s| signature(&s.labels, on)).collect();
                let mut out = l;
                out.extend(r.into_iter().filter(|s| !sigs.contains(&signature(&s.labels, on))));
                Ok(Value::Vector(out))
            }
            _ => vector_op(op, l, on, r, drop_name),
        },
    }
}

fn scalar_op(
    op: BinOp,
    v: Vec<Sample>,
    s: f64,
    scalar_left: bool,
    drop_name: bool,
) -> Result<Value, EvalError> {
    let mut out = Vec::with_capacity(v.len());
    for mut sample in v {
        let (l, r) = if scalar_left { (s, sample.value) } else { (sample.value, s) };
        let (mut value, keep) = apply(op, l, r);
        if !keep {
            continue;
        }
        if is_comparison(op) {
            // The vector's value, whichever side it is on.
            value = sample.value;
        }
        if drop_name {
            sample.labels.remove(METRIC_NAME);
        }
        sample.value = value;
        out.push(sample);
    }
    if drop_name {
        no_duplicates(&out)?;
    }
    Ok(Value::Vector(out))
}

fn vector_op(
    op: BinOp,
    lhs: Vec<Sample>,
    on: Option<&[String]>,
    rhs: Vec<Sample>,
    drop_name: bool,
) -> Result<Value, EvalError> {
    let mut right: HashMap<Labels, &Sample> = HashMap::with_capacity(rhs.len());
    for sample in &rhs {
        let sig = signature(&sample.labels, on);
        if right.insert(sig.clone(), sample).is_some() {
            return Err(EvalError::ManyToMany(render_labels(&sig), "right"));
        }
    }
    let mut matched: HashSet<Labels> = HashSet::new();
    let mut out = Vec::new();
    for sample in &lhs {
        let sig = signature(&sample.labels, on);
        let Some(r) = right.get(&sig) else { continue };
        if !matched.insert(sig.clone()) {
            return Err(EvalError::BadOperands(format!(
                "multiple matches for labels: many-to-one matching must be explicit \
                 (group_left/group_right): {}",
                render_labels(&sig)
            )));
        }
        let (value, keep) = apply(op, sample.value, r.value);
        if !keep {
            continue;
        }
        let mut labels = sample.labels.clone();
        if drop_name {
            labels.remove(METRIC_NAME);
        }
        if let Some(on) = on {
            labels.retain(|k, _| on.contains(k));
        }
        out.push(Sample { labels, value });
    }
    no_duplicates(&out)?;
    Ok(Value::Vector(out))
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
