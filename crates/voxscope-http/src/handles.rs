//! The warm-handle cache: once a (route, method, status) combination has been seen,
//! recording it takes no allocation and no registry lookup.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use metrics::{Counter, Gauge, Histogram, SharedString};
use voxscope_core::cardinality::OVERFLOW_LABEL_VALUE;
use voxscope_core::catalog::{
    HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_REQUEST_DURATION, HTTP_SERVER_RESPONSE_BODY_BYTES,
    VOXSCOPE_LABEL_OVERFLOW_TOTAL,
};

use crate::labels::{METHOD_LABELS, StatusLabel};

/// Handles of one layer, shared by every clone of its service.
///
/// Handles are registered lazily, on first use, with whichever recorder is current then:
/// a layer built before the recorder was installed still records into it.
#[derive(Debug)]
pub(crate) struct Instruments {
    active: [OnceLock<Gauge>; METHOD_LABELS.len()],
    routes: RwLock<HashMap<Box<str>, Arc<RouteSeries>>>,
    overflow_route: OnceLock<Arc<RouteSeries>>,
    overflow_count: OnceLock<Counter>,
    max_routes: usize,
    record_body_size: bool,
}

impl Instruments {
    pub(crate) fn new(max_routes: usize, record_body_size: bool) -> Self {
        Self {
            active: Default::default(),
            routes: RwLock::new(HashMap::new()),
            overflow_route: OnceLock::new(),
            overflow_count: OnceLock::new(),
            max_routes,
            record_body_size,
        }
    }

    pub(crate) fn active(&self, method: usize) -> &Gauge {
        self.active[method].get_or_init(
            || metrics::gauge!(HTTP_SERVER_ACTIVE_REQUESTS.name, "method" => METHOD_LABELS[method]),
        )
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
            return Arc::clone(self.overflow_route.get_or_init(|| {
                Arc::new(RouteSeries::new(SharedString::const_str(OVERFLOW_LABEL_VALUE)))
            }));
        }
        let series = Arc::new(RouteSeries::new(SharedString::from(route.to_owned())));
        routes.insert(route.into(), Arc::clone(&series));
        series
    }

    pub(crate) fn record_body_size(&self) -> bool {
        self.record_body_size
    }
}

/// The series of one route, per method and status.
#[derive(Debug)]
pub(crate) struct RouteSeries {
    route: SharedString,
    by_method: [RwLock<Vec<(StatusLabel, StatusSeries)>>; METHOD_LABELS.len()],
}

#[derive(Debug)]
struct StatusSeries {
    duration: Histogram,
    body_bytes: Option<Histogram>,
}

impl RouteSeries {
    fn new(route: SharedString) -> Self {
        Self { route, by_method: Default::default() }
    }

    /// Records one finished request. A route sees a handful of statuses per method, so a
    /// short vector beats a map.
    pub(crate) fn record(
        &self,
        method: usize,
        status: StatusLabel,
        seconds: f64,
        body_bytes: Option<u64>,
    ) {
        let table = &self.by_method[method];
        {
            let read = table.read().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, series)) = read.iter().find(|(s, _)| *s == status) {
                series.record(seconds, body_bytes);
                return;
            }
        }
        let mut write = table.write().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, series)) = write.iter().find(|(s, _)| *s == status) {
            series.record(seconds, body_bytes);
            return;
        }
        let series = self.register(method, status, body_bytes.is_some());
        series.record(seconds, body_bytes);
        write.push((status, series));
    }

    fn register(&self, method: usize, status: StatusLabel, with_body: bool) -> StatusSeries {
        let labels = [
            ("method", SharedString::const_str(METHOD_LABELS[method])),
            ("route", self.route.clone()),
            ("status", status.to_shared()),
        ];
        let duration = metrics::histogram!(HTTP_SERVER_REQUEST_DURATION.name, &labels);
        let body_bytes =
            with_body.then(|| metrics::histogram!(HTTP_SERVER_RESPONSE_BODY_BYTES.name, &labels));
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
