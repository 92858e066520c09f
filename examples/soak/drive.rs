//! The load: `calls` simulated Twilio callers at once, each calling again as soon as its
//! call ends, until the deadline; between calls each uses the HTTP API as a dashboard
//! would. Everything the driver did is tallied, for the accounting against `/metrics`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use voice_agent::simulator::{self, Identity, Outcome, Plan, Script};

/// What the driver did, from its side.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Calls by how they ended (the simulator's `Outcome::ended`).
    pub calls: BTreeMap<&'static str, u64>,
    /// HTTP requests answered, by method, route template and status.
    pub http: BTreeMap<(String, String, u16), u64>,
    /// HTTP requests that got no answer.
    pub http_failed: u64,
    /// Turns the agent answered, and did not.
    pub turns_answered: u64,
    pub turns_unanswered: u64,
    /// Media frames sent.
    pub frames_sent: u64,
}

impl Tally {
    fn call(&mut self, outcome: &Outcome) {
        *self.calls.entry(outcome.ended).or_default() += 1;
        self.turns_answered += outcome.turn_latencies.len() as u64;
        self.turns_unanswered += outcome.unanswered as u64;
        self.frames_sent += outcome.frames_sent;
        let status = match outcome.ended {
            "connect failed" => None,
            "rejected (503)" => Some(503),
            _ => Some(101),
        };
        if let Some(status) = status {
            *self.http.entry(("GET".into(), "/media".into(), status)).or_default() += 1;
        }
    }

    fn http(&mut self, method: &str, route: &str, status: Option<u16>) {
        match status {
            Some(status) => {
                *self.http.entry((method.into(), route.into(), status)).or_default() += 1
            }
            None => self.http_failed += 1,
        }
    }

    /// Calls placed that reached the service (answered 101 or 503).
    pub fn calls_served(&self) -> u64 {
        self.calls.iter().filter(|(end, _)| **end != "connect failed").map(|(_, n)| n).sum()
    }

    /// Calls that ended as `ends` say.
    pub fn calls_ended(&self, ends: &[&str]) -> u64 {
        ends.iter().map(|end| self.calls.get(end).copied().unwrap_or_default()).sum()
    }
}

/// How hard and how long to drive.
#[derive(Clone, Debug)]
pub struct Load {
    /// Concurrent callers.
    pub calls: usize,
    /// No call starts after this.
    pub duration: Duration,
    /// Callers start evenly over this long.
    pub ramp: Duration,
    /// Seed of plans, turns and identities.
    pub seed: u64,
}

/// Drives the demo at `addr` as `load` says; returns when every started call has ended,
/// or `grace` after the deadline (calls still running then are counted `cut`).
pub async fn run(addr: std::net::SocketAddr, load: &Load, grace: Duration) -> Tally {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let deadline = started + load.duration;
    let url = voice_agent::callers::media_url(addr);
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap_or_default();
    let mut tasks = tokio::task::JoinSet::new();
    for slot in 0..load.calls {
        let (url, http, tally) = (url.clone(), http.clone(), Arc::clone(&tally));
        let delay = load.ramp.mul_f64(slot as f64 / load.calls.max(1) as f64);
        let seed = load.seed.wrapping_mul(1_000_003).wrapping_add(slot as u64);
        tasks.spawn(async move {
            tokio::time::sleep(delay).await;
            let mut rng = StdRng::seed_from_u64(seed);
            while Instant::now() < deadline {
                let who = Identity::realistic(&mut rng);
                let turns = rng.random_range(1..=3);
                let plan = Plan::random(&mut rng);
                let script = Script { plan, turns, stop_at: rng.random_range(0..turns), gap_ms: 0 };
                let outcome = simulator::call_as(&url, &who, script).await;
                lock(&tally).call(&outcome);
                dashboard(&http, addr, &who, &tally).await;
            }
        });
    }
    let all = async { while tasks.join_next().await.is_some() {} };
    let left = deadline.saturating_duration_since(Instant::now()) + grace;
    if tokio::time::timeout(left, all).await.is_err() {
        let cut = tasks.len() as u64;
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        *lock(&tally).calls.entry("cut").or_default() += cut;
    }
    lock(&tally).clone()
}

/// The HTTP API between calls: a call is started, spoken to, hung up, and a Twilio call
/// SID the demo never issued is looked up (404).
async fn dashboard(
    http: &reqwest::Client,
    addr: std::net::SocketAddr,
    who: &Identity,
    tally: &Mutex<Tally>,
) {
    let base = format!("http://{addr}");
    let created = http.post(format!("{base}/calls")).send().await;
    let id = match created {
        Ok(response) => {
            lock(tally).http("POST", "/calls", Some(response.status().as_u16()));
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            body["id"].as_str().map(str::to_owned)
        }
        Err(_) => {
            lock(tally).http("POST", "/calls", None);
            None
        }
    };
    let mut requests = vec![("GET", format!("/calls/{}", who.call_sid), "/calls/{id}")];
    if let Some(id) = id {
        requests.insert(0, ("POST", format!("/calls/{id}/turn"), "/calls/{id}/turn"));
        requests.insert(1, ("POST", format!("/calls/{id}/hangup"), "/calls/{id}/hangup"));
    }
    for (method, path, route) in requests {
        let request = match method {
            "POST" => http.post(format!("{base}{path}")).body("where is my order"),
            _ => http.get(format!("{base}{path}")),
        };
        let status = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                // The answer is read to its end: the request counts once its body is sent.
                response.bytes().await.ok().map(|_| status)
            }
            Err(_) => None,
        };
        lock(tally).http(method, route, status);
    }
}

fn lock(tally: &Mutex<Tally>) -> std::sync::MutexGuard<'_, Tally> {
    tally.lock().unwrap_or_else(PoisonError::into_inner)
}
