//! Aggregation operators (`sum`, `max`, `min`, `avg`, `count` by labels) as Prometheus
//! computes them: groups in order of first appearance, each aggregated in input order,
//! `max` and `min` skipping NaN, `avg` as Prometheus's incremental mean.

use std::collections::HashMap;

use super::Labels;
use super::query::Sample;

/// An aggregation operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AggOp {
    Sum,
    Max,
    Min,
    Avg,
    Count,
}

impl AggOp {
    /// The operator of a PromQL name.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "sum" => AggOp::Sum,
            "max" => AggOp::Max,
            "min" => AggOp::Min,
            "avg" => AggOp::Avg,
            "count" => AggOp::Count,
            _ => return None,
        })
    }
}

fn group_key(labels: &Labels, by: &[String]) -> Labels {
    by.iter()
        .filter_map(|l| labels.get(l).filter(|v| !v.is_empty()).map(|v| (l.clone(), v.clone())))
        .collect()
}

/// `op by (by) (samples)`.
pub(crate) fn aggregate(op: AggOp, by: &[String], samples: Vec<Sample>) -> Vec<Sample> {
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
