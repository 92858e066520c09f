//! Alerts on what the blackbox exporter sees of the service from outside.

use crate::config::Config;
use crate::expr::{Expr, Matcher, Selector};
use crate::fixture::labels;
use crate::model::{Category, Fixture, Severity, ValueFormat};

use super::{Spec, dash, gauge};

pub(super) fn probe_alerts(config: &Config) -> Vec<Spec> {
    let probe = &config.probe;
    let success = Expr::vector(Selector::new("probe_success").with(Matcher::eq("job", &probe.job)));
    // The instance is the probed URL (the scrape job's relabeling puts it there).
    let instance = [("instance", "http://voice-agent:3000/health")];
    let probed = |v: f64| gauge("probe_success", &instance, v);
    vec![Spec {
        name: "EndpointDown",
        labels: Vec::new(),
        severity: Severity::Critical,
        category: Category::Availability,
        for_minutes: 2,
        dashboard: dash::SERVICE,
        measure: success.clone(),
        condition: success.equal_to(0.0),
        summary: "{{ $labels.instance }} does not answer",
        description: "The blackbox probe of {{ $labels.instance }} fails: the endpoint is \
                      down, unreachable from outside, or answers an error, whatever the \
                      scrape of the service's metrics says."
            .to_owned(),
        value_format: ValueFormat::Hidden,
        fixture: Fixture {
            firing: probed(0.0),
            quiet: probed(1.0),
            also_quiet: Vec::new(),
            labels: labels(&instance),
            value: 0.0,
        },
    }]
}
