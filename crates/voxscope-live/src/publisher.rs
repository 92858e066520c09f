//! The one task that computes frames: each view at its refresh, on tokio's blocking pool,
//! once for every client. Frames go out through a broadcast channel and the newest of
//! each view is kept for clients that connect later, so the evaluation never waits for
//! a client and a client never waits for an evaluation.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio::time::{Instant, MissedTickBehavior};
use voxscope_alerting::AlertEngine;
use voxscope_trace::TraceStore;

use crate::View;
use crate::forecast::Forecaster;
use crate::panel::LivePanel;
use crate::{alerts, traces};

/// How soon a metric view with no data at all is computed again.
const EMPTY_RETRY: Duration = Duration::from_secs(1);

/// One frame: its view and its JSON text, shared by every client.
pub(crate) type Frame = (View, Arc<str>);

/// What the publisher hands to the stream handlers.
#[derive(Debug)]
pub(crate) struct Frames {
    latest: Mutex<BTreeMap<View, Arc<str>>>,
    sender: broadcast::Sender<Frame>,
}

impl Frames {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { latest: Mutex::new(BTreeMap::new()), sender: broadcast::channel(capacity.max(1)).0 }
    }

    /// The newest frame of every view that has one, in tab order.
    pub(crate) fn latest(&self) -> Vec<Frame> {
        let latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        latest.iter().map(|(view, text)| (*view, Arc::clone(text))).collect()
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.sender.subscribe()
    }

    pub(crate) fn publish(&self, view: View, text: Arc<str>) {
        self.latest.lock().unwrap_or_else(PoisonError::into_inner).insert(view, Arc::clone(&text));
        // No receiver is fine: the frame waits in `latest`.
        let _ = self.sender.send((view, text));
    }
}

/// A metric view's panels and when it is due.
pub(crate) struct MetricView {
    pub(crate) view: View,
    pub(crate) refresh: Duration,
    pub(crate) panels: Vec<LivePanel>,
}

/// Everything the publisher task owns.
pub(crate) struct Publisher {
    pub(crate) engine: AlertEngine,
    pub(crate) traces: Option<TraceStore>,
    pub(crate) trace_limit: usize,
    pub(crate) metric_views: Vec<MetricView>,
    pub(crate) refresh: BTreeMap<View, Duration>,
    pub(crate) window: Duration,
    /// The forecast view's readers; without them the view is not sent.
    forecaster: Option<Forecaster>,
    /// The last body sent of views sent on change.
    sent: BTreeMap<View, String>,
    due: BTreeMap<View, Instant>,
}

impl Publisher {
    pub(crate) fn new(
        engine: AlertEngine,
        traces: Option<TraceStore>,
        trace_limit: usize,
        metric_views: Vec<MetricView>,
        refresh: BTreeMap<View, Duration>,
        window: Duration,
    ) -> Self {
        Self {
            engine,
            traces,
            trace_limit,
            metric_views,
            refresh,
            window,
            forecaster: None,
            sent: BTreeMap::new(),
            due: BTreeMap::new(),
        }
    }

    /// Sends the forecast view, read by `forecaster`.
    pub(crate) fn forecast(mut self, forecaster: Forecaster) -> Self {
        self.forecaster = Some(forecaster);
        self
    }

    /// Runs until every router of the page is gone.
    pub(crate) async fn run(mut self, frames: Weak<Frames>) {
        let tick = self.refresh.values().copied().min().unwrap_or(Duration::from_secs(1));
        let mut interval = tokio::time::interval(tick.min(Duration::from_secs(1)));
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            interval.tick().await;
            let Some(out) = frames.upgrade() else { return };
            let now = Instant::now();
            // Evaluation is CPU work: off the workers that carry calls.
            let Ok((this, ready)) = tokio::task::spawn_blocking(move || {
                let ready = self.due_frames(now);
                (self, ready)
            })
            .await
            else {
                tracing::error!(target: "voxscope::live", "a live-page frame computation panicked; the page stops updating");
                return;
            };
            self = this;
            for (view, text) in ready {
                out.publish(view, text);
            }
        }
    }

    /// The frames due at `now`, computed; views sent on change only when they changed.
    fn due_frames(&mut self, now: Instant) -> Vec<Frame> {
        let mut ready = Vec::new();
        for view in View::ALL {
            if self.due.get(&view).is_some_and(|&at| at > now) {
                continue;
            }
            let refresh =
                self.refresh.get(&view).copied().unwrap_or_else(|| view.default_refresh());
            let Some(body) = self.body(view) else {
                self.due.insert(view, now + refresh);
                continue;
            };
            // A view with nothing to show yet (the engine has not scraped) is tried again
            // within a second, not after its whole refresh.
            let empty = body["panels"].as_array().is_some_and(|panels| {
                panels.iter().all(|p| p["series"].as_array().is_none_or(Vec::is_empty))
            });
            self.due.insert(view, now + if empty { refresh.min(EMPTY_RETRY) } else { refresh });
            if view.on_change() {
                let text = body.to_string();
                if self.sent.get(&view) == Some(&text) {
                    continue;
                }
                self.sent.insert(view, text);
            }
            let mut frame = json!({
                "view": view.name(),
                "at_ms": self.engine.clock().now_ms(),
                "refresh_ms": refresh.as_millis() as u64,
            });
            if let (Value::Object(frame), Value::Object(body)) = (&mut frame, body) {
                frame.extend(body);
            }
            ready.push((view, Arc::from(frame.to_string())));
        }
        ready
    }

    fn body(&mut self, view: View) -> Option<Value> {
        match view {
            View::Alerts => Some(alerts::frame(&self.engine)),
            View::Traces => Some(traces::frame(self.traces.as_ref()?, self.trace_limit)),
            View::Forecast => {
                let forecaster = self.forecaster.as_ref()?;
                let now_ms = self.engine.clock().now_ms();
                Some(self.engine.with_storage(|storage| forecaster.body(storage, now_ms)))
            }
            _ => {
                let now_ms = self.engine.clock().now_ms();
                let window_ms = self.window.as_millis() as i64;
                let metric = self.metric_views.iter_mut().find(|m| m.view == view)?;
                let step_ms = (metric.refresh.as_millis() as i64).max(1);
                let panels: Vec<Value> = self.engine.with_storage(|storage| {
                    metric
                        .panels
                        .iter_mut()
                        .map(|p| p.frame(storage, now_ms, window_ms, step_ms))
                        .collect()
                });
                Some(json!({ "panels": panels, "window_ms": window_ms }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use voxscope_alert::RuleCatalog;
    use voxscope_alert::expr::{Matcher, Scope};

    use super::*;
    use crate::boards;
    use crate::forecast::Forecaster;

    fn summary(frames: &[Frame]) -> Option<Value> {
        let (_, text) = frames.iter().find(|(view, _)| *view == View::Summary)?;
        serde_json::from_str(text).ok()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_view_without_data_is_retried_within_a_second_not_after_its_refresh() {
        let catalog = RuleCatalog::new(Default::default()).unwrap();
        let engine = AlertEngine::builder(catalog.clone())
            .scrape(|| {
                "# TYPE voxscope_config_missing gauge\nvoxscope_config_missing{field=\"K\"} 1\n"
                    .to_owned()
            })
            .start()
            .unwrap();
        let scope = Scope::rules(Matcher::eq("job", &catalog.config.service.job), 60);
        let panels = boards::panels(&catalog, View::Summary)
            .unwrap()
            .into_iter()
            .map(|def| def.compile(&scope, 60).unwrap())
            .collect();
        let refresh = View::Summary.default_refresh();
        let views = vec![MetricView { view: View::Summary, refresh, panels }];
        let mut publisher = Publisher::new(
            engine.clone(),
            None,
            20,
            views,
            BTreeMap::new(),
            Duration::from_secs(900),
        );
        let t0 = Instant::now();
        // Before the engine's first scrape: a frame with nothing in it.
        let first = summary(&publisher.due_frames(t0)).unwrap();
        assert!(first["panels"].as_array().unwrap().iter().all(|p| p["series"] == json!([])));
        engine.evaluate_now();
        assert!(summary(&publisher.due_frames(t0 + Duration::from_millis(500))).is_none());
        let second =
            summary(&publisher.due_frames(t0 + EMPTY_RETRY)).expect("retried after a second");
        let missing = second["panels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == "missing-settings-0-every-key-configured")
            .unwrap();
        assert_eq!(missing["series"][0]["value"], 1.0);
        // With data, the view waits its whole refresh.
        assert!(
            summary(&publisher.due_frames(t0 + EMPTY_RETRY + Duration::from_secs(29))).is_none()
        );
        assert!(summary(&publisher.due_frames(t0 + EMPTY_RETRY + refresh)).is_some());
    }

    fn forecast(frames: &[Frame]) -> Option<Value> {
        let (_, text) = frames.iter().find(|(view, _)| *view == View::Forecast)?;
        serde_json::from_str(text).ok()
    }

    /// The forecast view follows the store: no recommendation while calls hold still,
    /// the capacity recommendation on the first refresh after they start rising, none
    /// again once they hold still for the trend's window.
    #[test]
    fn the_forecast_view_lists_recommendations_as_the_store_calls_for_them() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(forecast_follows_the_store());
        // The engine's tasks are not waited for.
        runtime.shutdown_background();
    }

    async fn forecast_follows_the_store() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let config = voxscope_alert::Config::from_toml(
            "[engine]\ninterval_seconds = 15\n\
             [capacity]\nmax_concurrent_calls = 200\nhorizon_hours = 1\ntrend_minutes = 5\n",
        )
        .unwrap();
        let catalog = RuleCatalog::new(config).unwrap();
        let calls = Arc::new(AtomicU64::new(100));
        let scraped = Arc::clone(&calls);
        let engine = AlertEngine::builder(catalog.clone())
            .scrape(move || {
                let n = scraped.load(Ordering::Relaxed);
                format!("# TYPE voice_calls_active gauge\nvoice_calls_active{{transport=\"twilio\"}} {n}\n")
            })
            .clock(voxscope_alerting::Clock::starting_at(1_800_000_000_000))
            .start()
            .unwrap();
        let mut publisher = Publisher::new(
            engine.clone(),
            None,
            20,
            Vec::new(),
            BTreeMap::new(),
            Duration::from_secs(900),
        )
        .forecast(Forecaster::new(&catalog, Duration::from_secs(3600)));
        // Moves the paused clock on and lets the engine's evaluations due meanwhile run.
        async fn pass(time: Duration) {
            tokio::time::advance(time).await;
            for _ in 0..4 {
                tokio::task::yield_now().await;
            }
        }
        // Calls moving by `step` every 15 s for `minutes`, each value scraped once; the
        // forecast frame then.
        let mut run = async |minutes: u64, step: i64| {
            for _ in 0..minutes * 4 {
                let n = calls.load(Ordering::Relaxed) as i64 + step;
                calls.store(n as u64, Ordering::Relaxed);
                pass(Duration::from_secs(15)).await;
            }
            forecast(&publisher.due_frames(Instant::now())).expect("the forecast is due")
        };
        let still = run(5, 0).await;
        assert_eq!(still["recommendations"], json!([]), "{still}");
        assert_eq!(still["projections"][0]["current"], 100.0);
        // Three more calls every 15 s for the trend's 5 minutes: 160 now, 0.2 more a
        // second: 200 in 200 s.
        let rising = run(5, 3).await;
        let listed = rising["recommendations"].as_array().unwrap();
        assert_eq!(listed.len(), 1, "{rising}");
        assert_eq!(listed[0]["key"], "call_capacity");
        let figure = |name: &str| listed[0]["figures"][name].as_f64().unwrap();
        assert_eq!(figure("calls_now"), 160.0);
        assert!((figure("calls_per_hour") - 720.0).abs() < 1e-6, "{rising}");
        assert!((figure("seconds_to_capacity") - 200.0).abs() < 1e-6, "{rising}");
        assert_eq!(rising["projections"][0]["within_horizon"], true);
        // Down to 120 and holding for the trend's window.
        calls.store(120, Ordering::Relaxed);
        let calm = run(5, 0).await;
        assert_eq!(calm["recommendations"], json!([]), "{calm}");
        assert_eq!(calm["projections"][0]["current"], 120.0);
        assert_eq!(calm["projections"][0]["within_horizon"], false);
    }
}
