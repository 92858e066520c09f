//! The route tree compiled for matching, with Alertmanager's rule: an alert takes every
//! matching child in order until one matches without `continue`, and the parent itself
//! when no child matches.

use voxscope_alert::eval::Labels;
use voxscope_alert::routing::{Repeat, Route};

use super::matcher::Matchers;
use crate::Error;

/// One compiled route; `id` is its index in depth-first order.
#[derive(Debug)]
pub(crate) struct CompiledRoute {
    pub id: usize,
    /// Alertmanager's route key: the matchers of every level, `{}` for the root.
    pub key: String,
    pub receiver: String,
    matchers: Matchers,
    pub group_by: Vec<String>,
    pub group_wait_ms: i64,
    pub group_interval_ms: i64,
    pub repeat: Repeat,
    continue_matching: bool,
    children: Vec<CompiledRoute>,
}

fn ms(seconds: u64) -> i64 {
    i64::try_from(seconds.saturating_mul(1_000)).unwrap_or(i64::MAX)
}

impl CompiledRoute {
    /// Compiles `route` and its descendants, numbering them from `next_id`.
    pub fn compile(
        route: &Route,
        parent_key: Option<&str>,
        next_id: &mut usize,
    ) -> Result<Self, Error> {
        let id = *next_id;
        *next_id += 1;
        let own = format!(
            "{{{}}}",
            route.matchers.iter().map(|m| m.render()).collect::<Vec<_>>().join(",")
        );
        let key = match parent_key {
            None => own,
            Some(parent) => format!("{parent}/{own}"),
        };
        let children = route
            .routes
            .iter()
            .map(|child| Self::compile(child, Some(&key), next_id))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            id,
            key,
            receiver: route.receiver.clone(),
            matchers: Matchers::compile(&route.matchers)?,
            group_by: route.group_by.clone(),
            group_wait_ms: ms(route.group_wait_seconds),
            group_interval_ms: ms(route.group_interval_seconds),
            repeat: route.repeat,
            continue_matching: route.continue_matching,
            children,
        })
    }

    /// The routes `labels` take, as Alertmanager's `Route.Match`.
    pub fn matching(&self, labels: &Labels) -> Vec<&CompiledRoute> {
        if !self.matchers.matches(labels) {
            return Vec::new();
        }
        let mut all = Vec::new();
        for child in &self.children {
            let matched = child.matching(labels);
            let stop = !matched.is_empty() && !child.continue_matching;
            all.extend(matched);
            if stop {
                break;
            }
        }
        if all.is_empty() {
            all.push(self);
        }
        all
    }

    /// The route with `id`.
    pub fn find(&self, id: usize) -> Option<&CompiledRoute> {
        if self.id == id {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(id))
    }

    /// The values of the route's `group_by` labels that `labels` carry.
    pub fn group_labels(&self, labels: &Labels) -> Labels {
        self.group_by
            .iter()
            .filter_map(|name| labels.get(name).map(|v| (name.clone(), v.clone())))
            .collect()
    }
}

/// Alertmanager's rendering of a label set: `{a="1", b="2"}`.
pub(crate) fn render_labels(labels: &Labels) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

#[cfg(test)]
mod tests {
    use voxscope_alert::Config;
    use voxscope_alert::expr::Matcher;
    use voxscope_alert::routing::route_tree;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn receivers(root: &CompiledRoute, pairs: &[(&str, &str)]) -> Vec<String> {
        root.matching(&labels(pairs)).iter().map(|r| r.receiver.clone()).collect()
    }

    #[test]
    fn the_first_matching_child_wins_and_continue_goes_on() {
        let mut tree = route_tree(&Config::default());
        let root = CompiledRoute::compile(&tree, None, &mut 0).unwrap();
        assert_eq!(
            receivers(&root, &[("severity", "warning"), ("category", "quality")]),
            ["quality"]
        );
        assert_eq!(receivers(&root, &[("severity", "info")]), ["default"]);
        assert_eq!(receivers(&root, &[("severity", "emergency")]), ["critical"]);

        // An audit route that sees everything and lets matching go on.
        let mut audit = tree.routes[0].clone();
        audit.receiver = "audit".into();
        audit.matchers = vec![Matcher::re("severity", ".+")];
        audit.continue_matching = true;
        tree.routes.insert(0, audit);
        let root = CompiledRoute::compile(&tree, None, &mut 0).unwrap();
        assert_eq!(receivers(&root, &[("severity", "warning")]), ["audit", "warning"]);
        assert_eq!(receivers(&root, &[("alertname", "Watchdog")]), ["watchdog"]);
        assert_eq!(root.find(2).map(|r| r.receiver.as_str()), Some("watchdog"));
    }

    #[test]
    fn route_keys_and_group_labels_read_as_alertmanager_writes_them() {
        let root = CompiledRoute::compile(&route_tree(&Config::default()), None, &mut 0).unwrap();
        let critical = root.matching(&labels(&[("severity", "critical")]))[0];
        assert_eq!(critical.key, "{}/{severity=\"critical\"}");
        let group = critical.group_labels(&labels(&[
            ("alertname", "HighCallErrorRate"),
            ("job", "voice_agent"),
            ("transport", "twilio"),
        ]));
        assert_eq!(render_labels(&group), "{alertname=\"HighCallErrorRate\", job=\"voice_agent\"}");
    }
}
