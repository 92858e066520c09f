//! The warm-handle cache: once a (route, method, status) combination has been seen,
//! recording it takes no allocation, no lock and no registry lookup.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use metrics::{Gauge, Histogram, SharedString};
use voxscope_core::cardinality::{FoldCounter, OVERFLOW_LABEL_VALUE};
use voxscope_core::catalog::{
    HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_REQUEST_DURATION, HTTP_SERVER_RESPONSE_BODY_BYTES,
};

use crate::labels::{METHOD_LABELS, StatusLabel};

/// Handles of one layer, shared by every service it built.
///
/// Handles are registered lazily, on first use, with whichever recorder is current then:
/// a layer built before the recorder was installed still records into it.
#[derive(Debug)]
pub(crate) struct Instruments {
    active: Arc<ActiveRequests>,
    /// Read without a lock on every request whose service has not seen its route last
    /// (a `RouteFn` service sees them all), hashed with foldhash: route templates are
    /// short, and at most `max_routes` of them are ever stored. Each route is decided
    /// once, by whichever request gets there first: concurrent first requests of a route
    /// all get its series, or all get the overflow series.
    routes:
        papaya::HashMap<Box<str>, OnceLock<Option<Arc<RouteSeries>>>, foldhash::fast::RandomState>,
    /// Routes given a series so far; slots are never given back, so once it reaches
    /// `max_routes` every route not in the map is an overflow route, without a store.
    admitted: AtomicUsize,
    overflow_route: OnceLock<Arc<RouteSeries>>,
    max_routes: usize,
    record_body_size: bool,
}

impl Instruments {
    pub(crate) fn new(max_routes: usize, record_body_size: bool) -> Self {
        Self {
            active: Arc::default(),
            routes: papaya::HashMap::default(),
            admitted: AtomicUsize::new(0),
            overflow_route: OnceLock::new(),
            max_routes,
            record_body_size,
        }
    }

    /// The series of `route`; past `max_routes` distinct routes, the overflow series.
    pub(crate) fn route(&self, route: &str) -> Arc<RouteSeries> {
        let routes = self.routes.pin();
        let decision = match routes.get(route) {
            Some(decision) => decision,
            None if self.admitted.load(Ordering::Acquire) >= self.max_routes => {
                return self.overflow_route();
            }
            None => routes.get_or_insert_with(route.into(), OnceLock::new),
        };
        let series = decision.get_or_init(|| {
            let reserved = self
                .admitted
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < self.max_routes).then_some(n + 1)
                })
                .is_ok();
            reserved.then(|| self.new_series(SharedString::from(route.to_owned()), false))
        });
        match series {
            Some(series) => Arc::clone(series),
            None => {
                // Refused for good (the map is full): drop the entry to keep the map bounded.
                routes.remove(route);
                self.overflow_route()
            }
        }
    }

    fn overflow_route(&self) -> Arc<RouteSeries> {
        Arc::clone(
            self.overflow_route.get_or_init(|| {
                self.new_series(SharedString::const_str(OVERFLOW_LABEL_VALUE), true)
            }),
        )
    }

    fn new_series(&self, route: SharedString, overflow: bool) -> Arc<RouteSeries> {
        Arc::new(RouteSeries {
            route,
            overflow,
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
/// read with plain loads, the rest in a lock-free map.
const STATUS_SLOTS: usize = 8;

/// The series of one route, per method and status.
#[derive(Debug)]
pub(crate) struct RouteSeries {
    route: SharedString,
    /// The `__overflow__` route: its updates count in `voxscope_label_overflow_total`.
    overflow: bool,
    active: Arc<ActiveRequests>,
    record_body_size: bool,
    by_method: [OnceLock<Box<StatusTable>>; METHOD_LABELS.len()],
}

/// Statuses fill the slots in the order they are first seen; a slot being filled makes
/// the readers that reach it wait for its status (first sightings only), so a status
/// never lands in two slots.
#[derive(Debug, Default)]
struct StatusTable {
    slots: [OnceLock<(StatusLabel, StatusSeries)>; STATUS_SLOTS],
    more: papaya::HashMap<StatusLabel, StatusSeries, foldhash::fast::RandomState>,
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
            let (seen, series) = slot.get_or_init(|| (status, self.register(method, status)));
            if *seen == status {
                return series.record(seconds, body_bytes);
            }
        }
        let more = table.more.pin();
        let series = match more.get(&status) {
            Some(series) => series,
            None => more.get_or_insert_with(status, || self.register(method, status)),
        };
        series.record(seconds, body_bytes);
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
        let histogram = |name: &'static str| {
            let histogram = metrics::histogram!(name, &labels);
            if self.overflow { FoldCounter::register(name).histogram(histogram) } else { histogram }
        };
        StatusSeries {
            duration: histogram(HTTP_SERVER_REQUEST_DURATION.name),
            body_bytes: self
                .record_body_size
                .then(|| histogram(HTTP_SERVER_RESPONSE_BODY_BYTES.name)),
        }
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
