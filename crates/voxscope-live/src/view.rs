//! The page's views and how often each is refreshed.

use std::time::Duration;

/// One view of the live page: the name of its tab and of its events on the stream.
///
/// ```
/// use voxscope_live::View;
/// assert_eq!(View::Operations.name(), "operations");
/// assert_eq!(View::Operations.default_refresh().as_secs(), 10);
/// assert_eq!(View::ALL.len(), 8);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum View {
    /// Live calls against capacity, outcomes, turn latency, audio quality.
    Operations,
    /// Time to first byte per provider against its thresholds, errors by class,
    /// fallback share, circuit states, request and fallback totals.
    Providers,
    /// HTTP routes: rate, status, 5xx share, latency.
    Http,
    /// The executive summary: targets up, missing settings, errors, SLO budgets.
    Summary,
    /// The application's own metrics (its business dashboard's panels).
    Business,
    /// Live calls and provider quota use against their limits with the trend the
    /// capacity alerts fit, extended to the horizon, and the current recommendations.
    Forecast,
    /// Pending, firing and silenced alerts, with acknowledgements.
    Alerts,
    /// The most recent kept traces with their spans.
    Traces,
}

impl View {
    /// Every view, in tab order.
    pub const ALL: [View; 8] = [
        View::Operations,
        View::Providers,
        View::Http,
        View::Summary,
        View::Business,
        View::Forecast,
        View::Alerts,
        View::Traces,
    ];

    /// The tab's name and the SSE event name of its frames.
    pub fn name(self) -> &'static str {
        match self {
            View::Operations => "operations",
            View::Providers => "providers",
            View::Http => "http",
            View::Summary => "summary",
            View::Business => "business",
            View::Forecast => "forecast",
            View::Alerts => "alerts",
            View::Traces => "traces",
        }
    }

    /// How often its frame is recomputed unless the builder says otherwise: operations
    /// every 10 s, providers and HTTP (the development views) every 5 s, the summary
    /// the business view and the forecast every 30 s. Alerts are checked every second and sent when
    /// they change; traces every 5 s, sent when they change.
    pub fn default_refresh(self) -> Duration {
        Duration::from_secs(match self {
            View::Operations => 10,
            View::Providers | View::Http | View::Traces => 5,
            View::Summary | View::Business | View::Forecast => 30,
            View::Alerts => 1,
        })
    }

    /// Whether a frame is sent only when it differs from the last one sent.
    pub(crate) fn on_change(self) -> bool {
        matches!(self, View::Alerts | View::Traces)
    }
}
