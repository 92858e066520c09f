//! What each metric view shows: the Grafana boards' panels where the page shows the
//! same thing (so the page and Grafana run the same typed query), and the totals the
//! boards leave out, which an operator compares with `/metrics`.

use voxscope_alert::RuleCatalog;
use voxscope_alert::expr::{Expr, Selector, aggregate, sum_by};
use voxscope_alert::grafana::{self, Dashboard};

use crate::View;
use crate::error::Error;
use crate::panel::{PanelDef, Shape};

fn board<'a>(boards: &'a [Dashboard], uid: &str) -> Result<&'a Dashboard, Error> {
    boards.iter().find(|b| b.uid == uid).ok_or_else(|| Error::Board(uid.to_owned()))
}

/// The board's panel whose title starts with `title`, drawn as `shape`.
fn from(board: &Dashboard, title: &str, shape: Shape) -> Result<PanelDef, Error> {
    board
        .panels
        .iter()
        .find(|p| p.title.starts_with(title))
        .map(|p| PanelDef::from_board(p, shape))
        .ok_or_else(|| Error::Board(format!("{} / {title}", board.uid)))
}

fn total(title: &str, metric: &str, by: &[&str]) -> PanelDef {
    let legend = by.iter().map(|l| format!("{{{{{l}}}}}")).collect::<Vec<_>>().join(" ");
    PanelDef::new(
        title,
        Shape::Table,
        "short",
        sum_by(by, Expr::vector(Selector::new(metric))),
        &legend,
    )
}

/// The panels of a metric view (alerts and traces are not metric views: none), without
/// those that read a family `enabled_metrics` leaves out.
pub(crate) fn panels(catalog: &RuleCatalog, view: View) -> Result<Vec<PanelDef>, Error> {
    let mut every_family = catalog.clone();
    every_family.config.enabled_metrics = None;
    let mut panels = view_panels(&every_family, view)?;
    panels.retain(|p| p.queries.iter().all(|(query, _)| catalog.records(query)));
    Ok(panels)
}

fn view_panels(catalog: &RuleCatalog, view: View) -> Result<Vec<PanelDef>, Error> {
    let boards = grafana::dashboards(catalog);
    let calls = board(&boards, "voxscope-calls")?;
    let providers = board(&boards, "voxscope-providers")?;
    let http = board(&boards, "voxscope-http")?;
    let service = board(&boards, "voxscope-service")?;
    let slo = board(&boards, "voxscope-slo")?;
    Ok(match view {
        View::Operations => vec![
            PanelDef::new(
                "Live calls",
                Shape::Stat,
                "short",
                sum_by(&[], Expr::vector(Selector::new("voice_calls_active"))),
                "live calls",
            ),
            from(calls, "Live calls of capacity", Shape::Stat)?,
            from(calls, "Failed and dropped share", Shape::Stat)?,
            from(calls, "Turn latency p95", Shape::Stat)?,
            from(calls, "Live calls vs capacity", Shape::Chart)?,
            from(calls, "Call outcomes", Shape::Chart)?,
            from(calls, "Turn latency (voice to voice)", Shape::Chart)?,
            from(calls, "Audio quality", Shape::Chart)?,
            total("Calls by outcome (total)", "voice_calls_total", &["transport", "outcome"]),
        ],
        View::Providers => {
            let mut panels = vec![
                from(providers, "Turns falling back", Shape::Stat)?,
                from(providers, "Open circuits", Shape::Stat)?,
                from(providers, "Provider errors per minute", Shape::Stat)?,
            ];
            for kind in ["STT", "LLM", "TTS"] {
                panels.push(from(
                    providers,
                    &format!("{kind} time to first byte (goal"),
                    Shape::Chart,
                )?);
            }
            panels.extend([
                from(providers, "Errors per minute by class", Shape::Chart)?,
                from(providers, "Fallback share of turns", Shape::Chart)?,
                PanelDef::new(
                    "Circuit state (1: open)",
                    Shape::Table,
                    "short",
                    aggregate(
                        "max",
                        &["kind", "provider"],
                        Expr::vector(Selector::new("voice_provider_circuit_open")),
                    ),
                    "{{kind}} {{provider}}",
                ),
                total(
                    "Requests by provider and outcome (total)",
                    "voice_provider_requests_total",
                    &["kind", "provider", "outcome"],
                ),
                total(
                    "Fallbacks (total)",
                    "voice_provider_fallbacks_total",
                    &["kind", "from", "to", "reason"],
                ),
                total(
                    "Errors by class (total)",
                    "voice_provider_errors_total",
                    &["kind", "provider", "error"],
                ),
            ]);
            panels
        }
        View::Http => vec![
            from(http, "Request rate by route", Shape::Chart)?,
            from(http, "Responses by status", Shape::Chart)?,
            from(http, "5xx share by route", Shape::Chart)?,
            from(http, "Latency by route", Shape::Chart)?,
            from(http, "Requests in flight", Shape::Chart)?,
            total(
                "Requests by route and status (total)",
                "http_server_request_duration_seconds_count",
                &["method", "route", "status"],
            ),
        ],
        View::Summary => {
            let mut panels = vec![
                from(service, "Targets up", Shape::Stat)?,
                from(service, "Missing settings", Shape::Stat)?,
                from(service, "Errors per minute", Shape::Stat)?,
                from(service, "Live calls of capacity", Shape::Stat)?,
            ];
            for panel in slo.panels.iter().filter(|p| p.kind == grafana::Kind::Stat) {
                panels.push(PanelDef::from_board(panel, Shape::Stat));
            }
            panels
        }
        View::Business => boards
            .iter()
            .filter(|b| b.uid == grafana::BUSINESS)
            .flat_map(|b| &b.panels)
            .map(|p| PanelDef::from_board(p, Shape::Chart))
            .collect(),
        View::Forecast | View::Alerts | View::Traces => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_view_finds_its_board_panels_under_the_default_and_a_custom_config() {
        let mut config = voxscope_alert::Config::default();
        config.thresholds.ttfb.tts.warning = 0.2;
        for config in [voxscope_alert::Config::default(), config] {
            let catalog = RuleCatalog::new(config).unwrap();
            let counts: Vec<usize> = [View::Operations, View::Providers, View::Http]
                .iter()
                .map(|&v| panels(&catalog, v).unwrap().len())
                .collect();
            assert_eq!(counts, [9, 12, 6]);
            // Four service stats and one budget per SLO.
            let summary = panels(&catalog, View::Summary).unwrap();
            assert_eq!(summary.len(), 4 + catalog.slos.len());
        }
    }

    #[test]
    fn the_business_view_charts_each_app_metric_and_disabled_families_leave_no_panel() {
        let config = voxscope_alert::Config::from_toml(
            r#"
            enabled_metrics = ["calls", "providers.llm", "shop"]
            [[metrics]]
            name = "orders_total"
            kind = "counter"
            help = "Orders placed."
            family = "shop"
            [[metrics]]
            name = "queue_depth"
            kind = "gauge"
            help = "Jobs waiting."
            family = "ops"
            "#,
        )
        .unwrap();
        let catalog = RuleCatalog::new(config).unwrap();
        let business = panels(&catalog, View::Business).unwrap();
        let titles: Vec<&str> = business.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["Orders placed."]);
        assert!(panels(&catalog, View::Http).unwrap().is_empty());
        let providers = panels(&catalog, View::Providers).unwrap();
        let scope = voxscope_alert::expr::Scope::dashboard();
        let text: Vec<String> =
            providers.iter().flat_map(|p| &p.queries).map(|(q, _)| q.render(&scope)).collect();
        assert!(text.iter().any(|q| q.contains(r#"kind="llm""#)), "{text:?}");
        assert!(text.iter().all(|q| !q.contains(r#"kind="tts""#)), "{text:?}");
        let default = RuleCatalog::new(voxscope_alert::Config::default()).unwrap();
        assert!(panels(&default, View::Business).unwrap().is_empty());
    }

    #[test]
    fn the_page_shows_the_boards_queries_not_copies() {
        let catalog = RuleCatalog::new(Default::default()).unwrap();
        let boards = grafana::dashboards(&catalog);
        let providers = board(&boards, "voxscope-providers").unwrap();
        let fallback = from(providers, "Fallback share of turns", Shape::Chart).unwrap();
        let on_board =
            providers.panels.iter().find(|p| p.title == "Fallback share of turns").unwrap();
        let scope = voxscope_alert::expr::Scope::dashboard();
        assert_eq!(fallback.queries[0].0.render(&scope), on_board.queries[0].0);
    }
}
