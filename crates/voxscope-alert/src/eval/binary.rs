//! Binary operators between scalars and instant vectors, as Prometheus applies them:
//! arithmetic drops the metric name, comparisons filter and keep the vector's value,
//! `and`/`or`/`unless` keep or drop by label sets, and two vectors match one-to-one on
//! all labels but the name, or on the `on` labels only (the result keeping just those).

use std::collections::{HashMap, HashSet};

use super::Labels;
use super::error::EvalError;
use super::query::{Sample, Value};
use super::storage::METRIC_NAME;
use crate::expr::BinOp;

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

pub(crate) fn binary(
    op: BinOp,
    lhs: Value,
    on: Option<&[String]>,
    rhs: Value,
) -> Result<Value, EvalError> {
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
