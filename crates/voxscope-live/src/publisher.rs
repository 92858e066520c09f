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
use crate::panel::LivePanel;
use crate::{alerts, traces};

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
            sent: BTreeMap::new(),
            due: BTreeMap::new(),
        }
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
            self.due.insert(view, now + refresh);
            let Some(body) = self.body(view) else { continue };
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
