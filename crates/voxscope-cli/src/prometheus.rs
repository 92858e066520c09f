//! A Prometheus server as a report [`Source`]: every typed [`Expr`] rendered to PromQL
//! and run through `/api/v1/query` and `/api/v1/query_range`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use voxscope_alert::eval::{Labels, RangeSeries, Sample};
use voxscope_alert::expr::{Expr, Scope};
use voxscope_alert::report::Source;

/// Why a query to Prometheus failed.
#[derive(Debug, thiserror::Error)]
pub enum PrometheusError {
    /// The request did not complete (connection, timeout, body).
    #[error("request to {url} failed: {source}")]
    Http {
        /// The endpoint.
        url: String,
        /// What failed.
        source: reqwest::Error,
    },
    /// Prometheus answered with an error.
    #[error("Prometheus answered {status} to `{query}`: {error_type}: {error}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The PromQL sent.
        query: String,
        /// `errorType` of the answer (`bad_data`, `execution`, ...).
        error_type: String,
        /// `error` of the answer.
        error: String,
    },
    /// The answer is not Prometheus's JSON.
    #[error("unexpected answer to `{query}`: {reason}")]
    Decode {
        /// The PromQL sent.
        query: String,
        /// What was wrong with it.
        reason: String,
    },
}

/// A Prometheus server's HTTP API, queried synchronously.
///
/// ```no_run
/// use voxscope_alert::report::ReportSpec;
/// use voxscope_cli::prometheus::PrometheusSource;
///
/// let catalog = voxscope_alert::RuleCatalog::new(Default::default()).unwrap();
/// let source = PrometheusSource::new("http://127.0.0.1:9090").unwrap();
/// let report = ReportSpec::new(&catalog).run(&source, 1_700_000_000_000, 7 * 86_400).unwrap();
/// println!("{}", voxscope_alert::report::markdown(&report));
/// ```
#[derive(Clone, Debug)]
pub struct PrometheusSource {
    base: String,
    client: reqwest::blocking::Client,
}

impl PrometheusSource {
    /// The server at `base_url` (`http://host:9090`, or with a path prefix).
    ///
    /// # Errors
    /// The HTTP client could not be built.
    pub fn new(base_url: &str) -> Result<Self, PrometheusError> {
        let base = base_url.trim_end_matches('/').to_owned();
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|source| PrometheusError::Http { url: base.clone(), source })?;
        Ok(Self { base, client })
    }

    fn get(
        &self,
        path: &str,
        query: &str,
        params: &[(&str, String)],
    ) -> Result<Data, PrometheusError> {
        let url = format!("{}{path}", self.base);
        let http = |source| PrometheusError::Http { url: url.clone(), source };
        let mut form = vec![("query", query.to_owned())];
        form.extend(params.iter().map(|(k, v)| (*k, v.clone())));
        let response = self.client.post(&url).form(&form).send().map_err(http)?;
        let status = response.status().as_u16();
        let body = response.text().map_err(http)?;
        let decode = |reason: String| PrometheusError::Decode { query: query.to_owned(), reason };
        let answer: Answer = serde_json::from_str(&body).map_err(|e| {
            decode(format!("{e} in {}", body.chars().take(200).collect::<String>()))
        })?;
        match answer {
            Answer { status: ref s, data: Some(data), .. } if s == "success" => Ok(data),
            Answer { error_type, error, .. } => Err(PrometheusError::Api {
                status,
                query: query.to_owned(),
                error_type: error_type.unwrap_or_default(),
                error: error.unwrap_or_default(),
            }),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    status: String,
    data: Option<Data>,
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    Vector(Vec<InstantSeries>),
    Matrix(Vec<MatrixSeries>),
    Scalar(Point),
}

#[derive(Deserialize)]
struct InstantSeries {
    metric: BTreeMap<String, String>,
    value: Point,
}

#[derive(Deserialize)]
struct MatrixSeries {
    metric: BTreeMap<String, String>,
    values: Vec<Point>,
}

/// `[unix seconds, "value"]`.
#[derive(Deserialize)]
struct Point(f64, String);

impl Point {
    fn parse(&self) -> Result<(i64, f64), String> {
        let value = match self.1.as_str() {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            text => text.parse().map_err(|e| format!("value {text:?}: {e}"))?,
        };
        Ok(((self.0 * 1000.0).round() as i64, value))
    }
}

/// Unix milliseconds as the API's seconds.
fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

impl Source for PrometheusSource {
    type Error = PrometheusError;

    fn instant(&self, expr: &Expr, scope: &Scope, t_ms: i64) -> Result<Vec<Sample>, Self::Error> {
        let query = expr.render(scope);
        let decode = |reason: String| PrometheusError::Decode { query: query.clone(), reason };
        match self.get("/api/v1/query", &query, &[("time", seconds(t_ms))])? {
            Data::Vector(series) => series
                .into_iter()
                .map(|s| {
                    let (_, value) = s.value.parse().map_err(decode)?;
                    Ok(Sample { labels: Labels::from_iter(s.metric), value })
                })
                .collect(),
            Data::Scalar(point) => {
                let (_, value) = point.parse().map_err(decode)?;
                Ok(vec![Sample { labels: Labels::new(), value }])
            }
            Data::Matrix(_) => Err(decode("a matrix for an instant query".to_owned())),
        }
    }

    fn range(
        &self,
        expr: &Expr,
        scope: &Scope,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Vec<RangeSeries>, Self::Error> {
        let query = expr.render(scope);
        let decode = |reason: String| PrometheusError::Decode { query: query.clone(), reason };
        let params =
            [("start", seconds(start_ms)), ("end", seconds(end_ms)), ("step", seconds(step_ms))];
        match self.get("/api/v1/query_range", &query, &params)? {
            Data::Matrix(series) => series
                .into_iter()
                .map(|s| {
                    let points = s.values.iter().map(Point::parse).collect::<Result<_, _>>();
                    Ok(RangeSeries {
                        labels: Labels::from_iter(s.metric),
                        points: points.map_err(decode)?,
                    })
                })
                .collect(),
            _ => Err(decode("not a matrix for a range query".to_owned())),
        }
    }
}
