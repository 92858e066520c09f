//! The warm-handle cache: once a (route, method, status) combination has been seen,
//! recording it takes no allocation, no lock and no registry lookup.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use metrics::{Counter, Gauge, Histogram, SharedString};
use voxscope_core::cardinality::OVERFLOW_LABEL_VALUE;
use voxscope_core::catalog::{
    HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_REQUEST_DURATION, HTTP_SERVER_RESPONSE_BODY_BYTES,
    VOXSCOPE_LABEL_OVERFLOW_TOTAL,
};

use crate::labels::{METHOD_LABELS, StatusLabel};

/// Handles of one layer, shared by every service it built.
///
/// Handles are registered lazily, on first use, with whichever recorder is current then:
/// a layer built before the recorder was installed still records into it.
#[derive(Debug)]
pub(crate) struct Instruments {
    active: Arc<ActiveRequests>,
    routes: RwLock<HashMap<Box<str>, Arc<RouteSeries>>>,
    overflow_route: OnceLock<Arc<RouteSeries>>,
    overflow_count: OnceLock<Counter>,
    max_routes: usize,
    record_body_size: bool,
}

impl Instruments {
    pub(crate) fn new(max_routes: usize, record_body_size: bool) -> Self {
        Self {
            active: Arc::default(),
            routes: RwLock::new(HashMap::new()),
            overflow_route: OnceLock::new(),
            overflow_count: OnceLock::new(),
            max_routes,
            record_body_size,
        }
    }

    /// The series of `route`; past `max_routes` distinct routes, the overflow series.
    pub(crate) fn route(&self, route: &str) -> Arc<RouteSeries> {
        if let Some(series) = self.routes.read().unwrap_or_else(PoisonError::into_inner).get(route)
        {
            return Arc::clone(series);
        }
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(series) = routes.get(route) {
            return Arc::clone(series);
        }
        if routes.len() >= self.max_routes {
            drop(routes);
            self.overflow_count
                .get_or_init(|| {
                    metrics::counter!(
                        VOXSCOPE_LABEL_OVERFLOW_TOTAL.name,
                        "metric" => HTTP_SERVER_REQUEST_DURATION.name
                    )
                })
                .increment(1);
            return Arc::clone(
                self.overflow_route
                    .get_or_init(|| self.new_series(SharedString::const_str(OVERFLOW_LABEL_VALUE))),
            );
        }
        let series = self.new_series(SharedString::from(route.to_owned()));
        routes.insert(route.into(), Arc::clone(&series));
        series
    }

    fn new_series(&self, route: SharedString) -> Arc<RouteSeries> {
        Arc::new(RouteSeries {
            route,
            active: Arc::clone(&self.active),
            record_body_size: self.record_body_size,
            by_method: Default::default(),
        })
    }
}

/// `http_server_active_requests`, one gauge per method.
#[derive(Debug, Default)]
pub(crate) struct ActiveRequests([OnceLock<Gauge>; METHOD_LABELS.len()]);

impl ActiveRequests {
    pub(crate) fn get(&self, method: usize) -> &Gauge {
        self.0[method].get_or_init(
            || metrics::gauge!(HTTP_SERVER_ACTIVE_REQUESTS.name, "method" => METHOD_LABELS[method]),
        )
    }
}

/// A route sees a handful of statuses per method: the first few live in slots that are
/// read without a lock (a shared reader count would bounce between cores under load).
const STATUS_SLOTS: usize = 8;

/// The series of one route, per method and status.
#[derive(Debug)]
pub(crate) struct RouteSeries {
    route: SharedString,
    active: Arc<ActiveRequests>,
    record_body_size: bool,
    by_method: [OnceLock<Box<StatusTable>>; METHOD_LABELS.len()],
}

#[derive(Debug, Default)]
struct StatusTable {
    slots: [OnceLock<(StatusLabel, StatusSeries)>; STATUS_SLOTS],
    /// Statuses past the slots, and the lock that orders slot writers.
    more: Mutex<Vec<(StatusLabel, Arc<StatusSeries>)>>,
}

#[derive(Debug)]
struct StatusSeries {
    duration: Histogram,
    body_bytes: Option<Histogram>,
}

impl RouteSeries {
    /// The route label value.
    pub(crate) fn route(&self) -> &str {
        &self.route
    }

    pub(crate) fn active(&self, method: usize) -> &Gauge {
        self.active.get(method)
    }

    pub(crate) fn records_body_size(&self) -> bool {
        self.record_body_size
    }

    /// Records one finished request.
    pub(crate) fn record(
        &self,
        method: usize,
        status: StatusLabel,
        seconds: f64,
        body_bytes: Option<u64>,
    ) {
        let table = self.by_method[method].get_or_init(Box::default);
        for slot in &table.slots {
            match slot.get() {
                Some((seen, series)) if *seen == status => {
                    return series.record(seconds, body_bytes);
                }
                Some(_) => {}
                None => break,
            }
        }
        self.record_cold(table, method, status, seconds, body_bytes);
    }

    /// First sighting of a status, or one past the slots.
    fn record_cold(
        &self,
        table: &StatusTable,
        method: usize,
        status: StatusLabel,
        seconds: f64,
        body_bytes: Option<u64>,
    ) {
        let mut more = table.more.lock().unwrap_or_else(PoisonError::into_inner);
        for slot in &table.slots {
            match slot.get() {
                Some((seen, series)) if *seen == status => {
                    return series.record(seconds, body_bytes);
                }
                Some(_) => {}
                None => {
                    let series = self.register(method, status);
                    series.record(seconds, body_bytes);
                    let _ = slot.set((status, series));
                    return;
                }
            }
        }
        if let Some((_, series)) = more.iter().find(|(seen, _)| *seen == status) {
            return series.record(seconds, body_bytes);
        }
        let series = Arc::new(self.register(method, status));
        series.record(seconds, body_bytes);
        more.push((status, series));
    }

    fn register(&self, method: usize, status: StatusLabel) -> StatusSeries {
        let mut labels = vec![
            ("method", SharedString::const_str(METHOD_LABELS[method])),
            ("route", self.route.clone()),
            ("status", status.to_shared()),
        ];
        if let Some(error_type) = status.error_type() {
            labels.push(("error_type", SharedString::const_str(error_type)));
        }
        let duration = metrics::histogram!(HTTP_SERVER_REQUEST_DURATION.name, &labels);
        let body_bytes = self
            .record_body_size
            .then(|| metrics::histogram!(HTTP_SERVER_RESPONSE_BODY_BYTES.name, &labels));
        StatusSeries { duration, body_bytes }
    }
}

impl StatusSeries {
    fn record(&self, seconds: f64, body_bytes: Option<u64>) {
        self.duration.record(seconds);
        if let (Some(histogram), Some(bytes)) = (&self.body_bytes, body_bytes) {
            histogram.record(bytes as f64);
        }
    }
}
