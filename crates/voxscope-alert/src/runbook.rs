//! One Markdown runbook per alertname: what it means, how to confirm it with a query,
//! first actions.
//!
//! ```
//! let catalog = voxscope_alert::RuleCatalog::new(Default::default()).unwrap();
//! let books = voxscope_alert::runbook::runbooks(&catalog);
//! let (_, config_missing) = books.iter().find(|(name, _)| name == "ConfigMissing").unwrap();
//! assert!(config_missing.contains("## First actions"));
//! ```

use std::fmt::Write;

use crate::{AlertRule, RuleCatalog};

/// What an alert means and what to do first, written for the person on call.
pub fn guide(alertname: &str) -> Option<(&'static str, &'static [&'static str])> {
    Some(match alertname {
        "HighCallLatency" => (
            "Callers wait too long between the end of their turn and the agent's first audio. \
             The turn is the sum of endpointing, STT, LLM and TTS time.",
            &[
                "Open the Providers dashboard: the kind whose TTFB rose at the same time is the usual cause.",
                "If every provider is fast, check endpointing settings and CPU of the service.",
                "Switch the slow provider to its fallback if it stays slow for more than 10 minutes.",
            ],
        ),
        "HighAIResponseTime" => (
            "LLM requests take longer than the threshold at p95: long prompts, a slow model or a degraded provider.",
            &[
                "Compare providers on the LLM request duration panel; check the provider's status page.",
                "Look for prompt growth (token usage panel) after a deploy.",
                "Route traffic to a faster model or the fallback provider.",
            ],
        ),
        "HighProviderTTFB" => (
            "A provider takes too long to send its first chunk, token or audio byte; callers hear silence.",
            &[
                "Find the kind and provider in the alert labels; compare with the other providers of that kind.",
                "Check the provider's status page and our network path (DNS, TLS handshakes).",
                "Critical: fail over to the next provider in the chain; warning: watch and open a ticket.",
            ],
        ),
        "LowAudioQuality" => (
            "Inbound media frames arrive late: callers' audio is choppy and STT accuracy drops.",
            &[
                "Check media gaps by transport; a single transport points at the carrier or its region.",
                "Check CPU and event-loop stalls of the service (Service dashboard).",
                "Contact the carrier if gaps persist on one transport only.",
            ],
        ),
        "NegativeSentiment" => (
            "Most calls score negative sentiment: callers are unhappy with the answers or the experience.",
            &[
                "Listen to a sample of recent calls; look for a prompt or flow change in the last deploy.",
                "Check turn latency and audio quality: slow or choppy calls sour sentiment.",
                "Roll back the last prompt or flow change if it lines up.",
            ],
        ),
        "HighCallErrorRate" => (
            "Too many calls end failed or dropped instead of completed.",
            &[
                "Split outcomes by transport on the Calls dashboard; check protocol errors.",
                "Check provider errors and circuit state: a provider outage fails calls.",
                "Check the service logs for the failing call ids (they are on spans, not labels).",
            ],
        ),
        "HighHTTPErrorRate" => (
            "A route answers with 5xx statuses too often.",
            &[
                "Find the route in the alert; check the logs of recent 5xx responses on it.",
                "Check dependencies of the route (providers, databases) and the last deploy.",
                "Roll back if the errors started with a deploy.",
            ],
        ),
        "HighResponseTime" => (
            "A route answers slowly at p95.",
            &[
                "Check whether the slowness is one route or all of them (HTTP dashboard).",
                "All routes: check CPU, memory and in-flight requests; one route: its dependencies.",
            ],
        ),
        "ProviderErrors" => (
            "A provider returns errors steadily. The error label tells the class: auth (a bad or \
             missing key), rate_limited, timeout, unavailable (an outage), bad_request.",
            &[
                "auth: check the API key setting and the ConfigMissing alert; rotate the key if it was revoked.",
                "rate_limited: lower concurrency or raise the quota with the provider.",
                "unavailable or timeout: check the provider's status page; the fallback chain should take over.",
            ],
        ),
        "HighFallbackRate" => (
            "Many turns of a chain switch to a fallback provider: the primary is failing or its circuit \
             is open. The share is fallbacks per turn: voice_provider_fallbacks_total over the chain's \
             requests (voice_provider_chain_duration_seconds_count). Dividing by all provider \
             requests would count the fallbacks' own requests and retries as turns and read 9.8 % \
             where 10.9 % of turns fall back.",
            &[
                "Check the circuit state and errors of the primary provider (Providers dashboard).",
                "Confirm the fallback provider has the quota for the extra traffic.",
                "Open an incident with the primary provider if it stays degraded.",
            ],
        ),
        "ConfigMissing" => (
            "A required setting is absent or a placeholder, so every feature that needs it fails. \
             A gauge, not a counter: it fires even if the warning was logged before the first scrape.",
            &[
                "Read the field label; set it in the service's environment or secret store.",
                "Restart or reload the service and confirm the gauge drops to 0.",
            ],
        ),
        "CallsNearCapacity" => (
            "Live calls approach the configured capacity; at 100 % new calls are rejected.",
            &[
                "Scale out the service or raise capacity if the hosts have headroom (CPU, memory).",
                "Check for calls that never end (call duration panel): a leak looks like load.",
            ],
        ),
        "HighCPUUsage" => (
            "The process uses most of a CPU core; latency will follow.",
            &[
                "Check request and call rates for a traffic spike; scale out if so.",
                "Without a spike, profile the process; check for a hot loop after a deploy.",
            ],
        ),
        "HighMemoryUsage" => (
            "The process holds more resident memory than the threshold; it may be killed. \
             The emergency variant means over 95 % of its memory limit: the kill is imminent.",
            &[
                "Emergency: shed load now (lower call capacity, drain the instance) before the kernel kills it mid-call.",
                "Check live calls and in-flight requests: memory should follow them.",
                "If memory grows without load, restart one instance and open a leak investigation.",
            ],
        ),
        "ServiceDown" => (
            "Prometheus cannot scrape the service: it is down, restarting or unreachable.",
            &[
                "Check the process or container state and its last log lines.",
                "Check the network path and the /metrics endpoint (a bearer token mismatch looks like down).",
                "Restart the service; if it crash-loops, roll back the last deploy.",
            ],
        ),
        "EndpointDown" => (
            "The blackbox exporter's probe of the health endpoint fails: callers cannot reach \
             the service, even if Prometheus still scrapes its metrics (a broken load balancer, \
             TLS certificate, DNS record or route shows here and not in ServiceDown).",
            &[
                "Open the probed URL (the instance label) yourself; note the status, TLS or DNS error.",
                "Query probe_http_status_code and probe_duration_seconds of the instance for what failed.",
                "If ServiceDown fires too, the process is down: handle that first. Else check the path \
                 in front of it (load balancer, ingress, certificate, DNS).",
            ],
        ),
        "HostHighCPU" => (
            "The host's cores are busy most of the time: the service competes for CPU with \
             everything else on the machine, and latency follows.",
            &[
                "Open the Host dashboard: one core pegged points at a single-threaded hot loop, all of them at load.",
                "Compare with the service's own CPU (Service dashboard): if it is not the service, find the process on the host.",
                "Scale out or move the noisy neighbour.",
            ],
        ),
        "HostLowMemory" => (
            "Little memory is left available on the host: the kernel will soon reclaim page \
             cache aggressively and then kill a process, perhaps the service mid-call.",
            &[
                "Check the service's resident memory (HighMemoryUsage) against the host's used memory.",
                "Find the largest processes on the host; stop what does not belong there.",
                "Add memory or move the service to a larger host.",
            ],
        ),
        "HostDiskFilling" => (
            "A filesystem of the host runs out of space within hours at the last hour's pace, \
             and little of it is free now. A full disk stops logs, state and the service's writes.",
            &[
                "Find what grows on the mountpoint (logs, core dumps, the engine's state_dir) with du.",
                "Free or rotate it now; raise the volume if the growth is legitimate.",
            ],
        ),
        "CallCapacityForecast" => (
            "Live calls grow fast enough that their trend reaches `[capacity] max_concurrent_calls` \
             within the horizon. Calls beyond the capacity are rejected.",
            &[
                "Open the Calls dashboard: a steady climb is real demand, a step after a deploy may be calls that do not end.",
                "Add instances (or raise the capacity if the hosts have headroom) before the forecast time.",
                "If calls do not end, check call durations and dropped calls before scaling.",
            ],
        ),
        "ProviderQuotaForecast" => (
            "A provider's usage over the last 24 hours grows fast enough to pass its daily budget \
             (`[capacity] daily_tokens` or `daily_characters`) within the horizon; once over, the \
             provider answers `rate_limited` or the bill exceeds the plan.",
            &[
                "Check the usage panel: longer prompts or answers after a deploy raise usage per call, more calls raise it per day.",
                "Raise the quota with the provider, or route part of the traffic to the fallback provider.",
                "Trim prompts or cap answer length if usage per call grew.",
            ],
        ),
        "AnomalousTurnLatency" => (
            "Mean voice-to-voice turn latency on a transport left the band its own history \
             sets: further from the day's median than 4 MADs and 5 %, and (once a week of \
             data exists) from this hour last week too. No fixed threshold was crossed: \
             callers notice the change before an objective burns.",
            &[
                "Open the Calls dashboard: a step points at a deploy or a provider change, a ramp at growing load or a slowing provider.",
                "Compare the providers' TTFB panels: the stage whose time to first byte moved with it is the cause.",
                "If nothing moved but traffic, check CPU and the event loop (HighCPUUsage, the service dashboard).",
            ],
        ),
        "AnomalousProviderTTFB" => (
            "A provider's mean time to first byte left the band its own history sets (median ± \
             4 MADs and 5 % over a day, confirmed by this hour last week once a week exists). \
             Turns through it start speaking later.",
            &[
                "Check the provider's status page and the region the service calls.",
                "Look at its error ratio and fallbacks: a slow provider often starts timing out next.",
                "If it persists, move traffic to the fallback provider of its chain.",
            ],
        ),
        "AnomalousProviderErrorRatio" => (
            "A provider's share of requests ending `error` or `timeout` left the band its own \
             history sets: above the day's median by 4 MADs, half a point, 3 standard errors \
             of the share and 3 failed requests, so a quiet hour's single failure does not \
             page. Its chain falls back more often.",
            &[
                "Open the Providers dashboard: the error classes (rate_limited, unavailable, timeout) tell quota from outage.",
                "rate_limited: check the quota and the request rate; unavailable or timeout: the provider's status page.",
                "If the fallback provider serves well, keep it; raise the quota or open a ticket otherwise.",
            ],
        ),
        "AnomalousCallVolume" => (
            "Calls ended per second left the band of this time last week (this time yesterday \
             in the first week): 4 MADs of its counting noise and 10 %, and at least 3 calls \
             over 5 minutes. An hour whose reference last week was itself unusual is not \
             compared, so last week's incident does not page again. A drop is lost callers \
             (telephony, routing, a failing answer path); a surge is load to plan for.",
            &[
                "A drop: check the transport's webhook and media endpoints, ServiceDown and EndpointDown, and the telephony provider.",
                "A surge: check capacity (CallCapacityForecast, CallsNearCapacity) and whether a campaign or an outage elsewhere explains it.",
            ],
        ),
        "ProviderCircuitOpen" => (
            "A provider failed repeatedly and its circuit breaker opened: the chain skips it and \
             serves its fallback. Its error, TTFB and fallback alerts are muted meanwhile.",
            &[
                "Check the provider's status page and the errors-by-class panel for the cause (auth, rate limits, outage).",
                "If the fallback copes (fallback share and turn latency panels), wait for the breaker to close.",
                "Auth errors: rotate the key; rate limits: raise the quota or lower concurrency.",
            ],
        ),
        "Watchdog" => (
            "Always firing: proves that Prometheus evaluates rules and Alertmanager delivers them.",
            &[
                "Nothing to do while it fires. Route it to a dead-man's-switch service that pages when the heartbeat stops.",
                "If the dead-man's switch pages: check that Prometheus and Alertmanager run and reach each other.",
            ],
        ),
        "CallAvailabilityBudgetBurn" => (
            "Calls fail often enough to spend the 30-day error budget early. Page: hours to exhaustion; ticket: days.",
            &[
                "Check HighCallErrorRate and provider alerts: they name the cause.",
                "Page: mitigate first (fail over, roll back), investigate after.",
            ],
        ),
        "HTTPAvailabilityBudgetBurn" => (
            "5xx responses spend the 30-day error budget early.",
            &["Check HighHTTPErrorRate for the route; roll back a recent deploy if it lines up."],
        ),
        "TurnLatencyBudgetBurn" => (
            "Too many turns exceed the latency threshold; callers notice the delay.",
            &["Check HighProviderTTFB and HighCallLatency; fail over the slow provider."],
        ),
        "ProviderTTFBBudgetBurn" => (
            "A provider kind misses its first-byte objective often enough to spend its budget early.",
            &[
                "The slo label names the kind; check that kind's TTFB panel for the provider at fault.",
                "Fail over to the next provider in the chain.",
            ],
        ),
        _ => return None,
    })
}

/// `(alertname, markdown)` for every alertname of `catalog`.
pub fn runbooks(catalog: &RuleCatalog) -> Vec<(String, String)> {
    catalog.alertnames().into_iter().map(|name| (name.to_owned(), runbook(catalog, name))).collect()
}

fn runbook(catalog: &RuleCatalog, name: &str) -> String {
    let rules: Vec<_> = catalog.alerts.iter().filter(|a| a.name == name).collect();
    let mut out = format!("# {name}\n\n");
    out.push_str("Generated by voxscope-alert. Do not edit: run `voxscope runbooks`.\n\n");
    let (meaning, actions) = guide(name).unwrap_or(("", &[]));
    let _ = writeln!(out, "## What it means\n\n{meaning}\n");
    out.push_str("| rule | category | for | summary |\n|---|---|---|---|\n");
    for rule in &rules {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            tag(rule),
            rule.category,
            crate::model::duration(rule.for_seconds),
            rule.summary.replace('|', "\\|")
        );
    }
    out.push_str("\n## Confirm it\n\nRun in Prometheus (or Grafana Explore); a result means the alert holds:\n\n");
    for rule in &rules {
        let _ = writeln!(out, "{}:\n\n```promql\n{}\n```\n", tag(rule), rule.expr);
    }
    if let Some(rule) = rules.first() {
        let dashboard = catalog.annotations(rule).remove("dashboard").unwrap_or_default();
        let _ = writeln!(out, "Dashboard: <{dashboard}>\n");
    }
    out.push_str("## First actions\n\n");
    for (i, action) in actions.iter().enumerate() {
        let _ = writeln!(out, "{}. {action}", i + 1);
    }
    out
}

/// The severity, and the static labels that tell rules of one alertname apart.
fn tag(rule: &AlertRule) -> String {
    let mut tag = rule.severity.to_string();
    for (key, value) in &rule.labels {
        let _ = write!(tag, ", {key}={value}");
    }
    tag
}
