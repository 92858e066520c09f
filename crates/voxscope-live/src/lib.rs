//! The live page of a voxscope service: operations, providers, HTTP, summary, business,
//! forecast, alerts and traces views, pushed to the browser over one server-sent-events
//! stream.
//!
//! ```no_run
//! # fn run(app: axum::Router, engine: &voxscope_alerting::AlertEngine) -> Result<axum::Router, voxscope_live::Error> {
//! let app = app.merge(voxscope_live::LivePage::builder(engine).build()?.router()); // GET /live
//! # Ok(app) }
//! ```
//!
//! Every panel is a typed query ([`voxscope_alert::expr::Expr`]) evaluated in-process
//! over the alerting engine's store, the same store its rules read; where the Grafana
//! boards show the same thing, the page runs the board's own query. One task computes
//! each view at its refresh (operations every 10 s, providers and HTTP every 5 s, the
//! summary, business and forecast views every 30 s, alerts when they change) and every
//! client shares its frames.
//!
//! The forecast view draws live calls against `[capacity] max_concurrent_calls` and each
//! daily budget's 24-hour usage against the budget, with the trend the
//! `CallCapacityForecast` and `ProviderQuotaForecast` rules fit extended to the horizon
//! and the time it reaches the limit, and lists the recommendations the weekly report
//! derives, over the last day of the store (see
//! [`LivePageBuilder::recommendation_period`]).
//!
//! | route | what |
//! | --- | --- |
//! | `GET {path}` | the page (401 and a token form without the token) |
//! | `GET {path}/events` | the event stream: one event per frame, named after its view, the frame's JSON as data |
//! | `GET {path}/assets/{name}` | the embedded scripts, styles and vendored uPlot |
//! | `POST {path}/login` | the token form: a good token is kept in an HttpOnly cookie |
//!
//! Every response carries a Content-Security-Policy that allows the page's own origin
//! only ([`CONTENT_SECURITY_POLICY`]). Acknowledging and silencing alerts go from the
//! page to the engine's API with the engine's token, which the user types in the page.
//!
//! Frames are JSON objects: `view`, `at_ms` (the engine's clock), `refresh_ms`, and
//! per view `panels` (metric views: each with `id`, `title`, `shape` of `stat`, `chart`
//! or `table`, `unit`, `thresholds`, and `series` of `name`, `labels`, `value` and, for
//! charts, `points` as `[unix ms, value]` pairs), `alerts` and `silences` (alerts),
//! `traces` (each with its `spans`' `offset_ms` and `duration_ms`), or `projections`
//! and `recommendations` (forecast). A projection has `id` (`calls`, `tokens-groq`),
//! `title`, `unit`, `limit`, `rule`, `current`, `line` (`value` now and `slope` per
//! second), `points` (the quantity over the trend window), `projection` (the line from
//! the window's start to the horizon's end), `seconds_to_limit`, `limit_at_ms` and
//! `within_horizon`; a recommendation has `key`, `text`, `figures` and `runbook`.
#![deny(missing_docs)]

mod alerts;
mod assets;
mod auth;
mod boards;
mod error;
mod forecast;
mod page;
mod panel;
mod publisher;
mod stream;
mod traces;
mod view;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::sync::Semaphore;
use voxscope_alert::expr::{Matcher, Scope};
use voxscope_alerting::AlertEngine;
use voxscope_trace::TraceStore;

pub use assets::CONTENT_SECURITY_POLICY;
pub use error::Error;
pub use view::View;

use forecast::Forecaster;
use page::Shared;
use publisher::{Frames, MetricView, Publisher};

/// The default path of the page.
pub const DEFAULT_PATH: &str = "/live";

/// The default bound of clients on the event stream.
pub const DEFAULT_MAX_CLIENTS: usize = 32;

/// How a [`LivePage`] is set up; [`LivePageBuilder::build`] starts it.
#[derive(Clone, Debug)]
pub struct LivePageBuilder {
    engine: AlertEngine,
    traces: Option<TraceStore>,
    path: String,
    token: Option<String>,
    max_clients: usize,
    refresh: BTreeMap<View, Duration>,
    window: Duration,
    alertmanager_prefix: String,
    trace_limit: usize,
    recommendation_period: Duration,
}

impl LivePageBuilder {
    /// Shows the kept traces of `store` (e.g. `TracePipeline::store`) in the traces
    /// view; without it the view says there is no trace store.
    #[must_use]
    pub fn traces(mut self, store: TraceStore) -> Self {
        self.traces = Some(store);
        self
    }

    /// Serves the page at `path` (default [`DEFAULT_PATH`]).
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Requires the token: `Authorization: Bearer <token>`, or the cookie the page's
    /// token form sets. Without one the page is open, like `/metrics` without a token.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The most clients on the event stream at once (default [`DEFAULT_MAX_CLIENTS`]);
    /// further ones get 503.
    #[must_use]
    pub fn max_clients(mut self, clients: usize) -> Self {
        self.max_clients = clients;
        self
    }

    /// How often `view` is recomputed, instead of [`View::default_refresh`].
    #[must_use]
    pub fn refresh(mut self, view: View, every: Duration) -> Self {
        self.refresh.insert(view, every);
        self
    }

    /// How much history the charts show (default 15 minutes).
    #[must_use]
    pub fn chart_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The period the forecast view's recommendations cover, ending now (default a
    /// day; the weekly report covers a week). Provider fallbacks are counted over it;
    /// the capacity and quota trends are read over `[capacity] trend_minutes` whatever
    /// it is.
    #[must_use]
    pub fn recommendation_period(mut self, period: Duration) -> Self {
        self.recommendation_period = period;
        self
    }

    /// Where the engine's Alertmanager-compatible routes are, for the page's silences
    /// (default `/alertmanager`, where [`AlertEngine::router`] serves them).
    #[must_use]
    pub fn alertmanager_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.alertmanager_prefix = prefix.into();
        self
    }

    /// Compiles every panel's queries and starts the task that publishes frames.
    ///
    /// # Errors
    /// [`Error::Path`] for a path that is not one fixed absolute path of letters,
    /// digits, `-`, `_`, `.` and `/`; [`Error::Token`] for a token no client could send;
    /// [`Error::Invalid`] for no clients, a zero refresh or window, or a recommendation
    /// period under a minute; [`Error::Query`]
    /// or [`Error::Board`] if the catalog's panels do not compile; [`Error::NoRuntime`]
    /// outside a tokio runtime.
    pub fn build(self) -> Result<LivePage, Error> {
        let base = checked_path(&self.path)?;
        let alertmanager = checked_path(&self.alertmanager_prefix)?;
        if self.token.as_deref().is_some_and(|token| !auth::valid(token)) {
            return Err(Error::Token);
        }
        let invalid = |field, reason| Err(Error::Invalid { field, reason });
        if self.max_clients == 0 {
            return invalid("max_clients", "must be at least 1");
        }
        if self.window.is_zero() || self.refresh.values().any(Duration::is_zero) {
            return invalid("refresh", "refreshes and the chart window must be longer than zero");
        }
        if self.recommendation_period < Duration::from_secs(60) {
            return invalid("recommendation_period", "must be a minute at least");
        }
        tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;

        let catalog = self.engine.catalog();
        let job = Matcher::eq("job", &catalog.config.service.job);
        // Rates over four evaluations at least, a minute at least.
        let window_s = (catalog.config.engine.interval_seconds * 4).max(60);
        let scope = Scope::rules(job, window_s);
        let mut metric_views = Vec::new();
        for view in [View::Operations, View::Providers, View::Http, View::Summary, View::Business] {
            let panels = boards::panels(catalog, view)?
                .into_iter()
                .map(|def| def.compile(&scope, window_s))
                .collect::<Result<Vec<_>, _>>()?;
            let refresh =
                self.refresh.get(&view).copied().unwrap_or_else(|| view.default_refresh());
            metric_views.push(MetricView { view, refresh, panels });
        }

        let frames = Arc::new(Frames::new(4 * View::ALL.len()));
        let forecaster = Forecaster::new(catalog, self.recommendation_period);
        let publisher = Publisher::new(
            self.engine.clone(),
            self.traces,
            self.trace_limit,
            metric_views,
            self.refresh,
            self.window,
        )
        .forecast(forecaster);
        tokio::spawn(publisher.run(Arc::downgrade(&frames)));
        let fill = |template: &str| {
            template.replace("{{base}}", &base).replace("{{alertmanager}}", &alertmanager)
        };
        let shared = Arc::new(Shared {
            index: fill(assets::INDEX),
            login: fill(assets::LOGIN),
            base,
            token: self.token.map(Arc::from),
            clients: Arc::new(Semaphore::new(self.max_clients)),
            frames,
        });
        Ok(LivePage { shared })
    }
}

/// `path` if it is one fixed absolute path the page's HTML can hold as it is.
fn checked_path(path: &str) -> Result<String, Error> {
    let reason = if !path.starts_with('/') {
        Some("must start with /")
    } else if path == "/" {
        Some("must name a path below /")
    } else if path.len() > 1 && path.ends_with('/') {
        Some("must not end with /")
    } else if !path.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
        Some("must hold only letters, digits, '-', '_', '.' and '/'")
    } else if path.contains("//") || path.split('/').any(|s| s == "..") {
        Some("must not hold empty or '..' segments")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::Path { path: path.to_owned(), reason }),
        None => Ok(path.to_owned()),
    }
}

/// A running live page: its publisher task runs until every router from
/// [`LivePage::router`] is dropped.
#[derive(Clone)]
pub struct LivePage {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LivePage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LivePage").field("path", &self.shared.base).finish_non_exhaustive()
    }
}

impl LivePage {
    /// A page over `engine`'s store, alerts and silences.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let catalog = voxscope_alert::RuleCatalog::new(Default::default())?;
    /// let engine = voxscope_alerting::AlertEngine::builder(catalog).scrape(String::new).start()?;
    /// let page = voxscope_live::LivePage::builder(&engine).path("/ops/live").max_clients(8).build()?;
    /// assert_eq!(page.path(), "/ops/live");
    /// let app: axum::Router = page.router();
    /// # let _ = app; Ok(()) }
    /// ```
    pub fn builder(engine: &AlertEngine) -> LivePageBuilder {
        LivePageBuilder {
            engine: engine.clone(),
            traces: None,
            path: DEFAULT_PATH.to_owned(),
            token: None,
            max_clients: DEFAULT_MAX_CLIENTS,
            refresh: BTreeMap::new(),
            window: Duration::from_secs(15 * 60),
            alertmanager_prefix: voxscope_alerting::api::DEFAULT_ALERTMANAGER_PREFIX.to_owned(),
            trace_limit: 20,
            recommendation_period: Duration::from_secs(86_400),
        }
    }

    /// Where the page is served.
    pub fn path(&self) -> &str {
        &self.shared.base
    }

    /// The page's routes; merge them into the service's router (before its layers).
    pub fn router(&self) -> Router {
        page::router(Arc::clone(&self.shared))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_fixed_absolute_and_safe_in_html() {
        assert_eq!(checked_path("/live").unwrap(), "/live");
        assert_eq!(checked_path("/ops/live-2").unwrap(), "/ops/live-2");
        for bad in ["/", "live", "/live/", "/a//b", "/a/../b", "/li\"ve", "/{id}", "/a b"] {
            let error = checked_path(bad).unwrap_err().to_string();
            assert!(error.starts_with("live.path: "), "{bad}: {error}");
        }
    }
}
