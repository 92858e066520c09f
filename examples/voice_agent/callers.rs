//! The demo's built-in callers: simulated Twilio callers ([`crate::simulator`]) that
//! dial the demo's own `/media` over loopback, one call after another, so that the
//! live calls, turns, provider requests and alerts have traffic from the first minute.
//! Eight calls in ten complete three turns; one hangs up mid-turn (Twilio's `stop`,
//! a completed call) and one sends protocol garbage. None is cut off: dropped calls
//! count against the call-availability objective, which is not the story's incident.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::task::JoinHandle;

use crate::media::MEDIA_PATH;
use crate::simulator::{self, Plan, Script};

/// Turns of each built-in call.
const TURNS: usize = 3;
/// Between one caller's calls, and between the callers' first calls.
const PAUSE: Duration = Duration::from_millis(500);

/// The running callers; dropping them hangs up every call (its socket closes).
#[derive(Debug)]
pub struct Callers(Vec<JoinHandle<()>>);

impl Drop for Callers {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Where the built-in callers dial a demo listening on `addr`: its `/media` over
/// loopback (an unspecified bind address is reached on its loopback).
///
/// ```
/// let addr = "0.0.0.0:3000".parse().unwrap();
/// assert_eq!(voice_agent::callers::media_url(addr), "ws://127.0.0.1:3000/media");
/// ```
pub fn media_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("ws://{}{MEDIA_PATH}", SocketAddr::new(ip, addr.port()))
}

/// What a built-in call does.
fn plan(rng: &mut impl Rng) -> Plan {
    match rng.random_range(0..10) {
        0 => Plan::HangUp,
        1 => Plan::Garbage,
        _ => Plan::Complete,
    }
}

/// Starts `count` callers at `url` on the current tokio runtime, their plans drawn
/// from `seed`. Call ids are `CAdemo<caller>x<call>`.
///
/// ```no_run
/// # async fn run() {
/// let addr = "127.0.0.1:3000".parse().unwrap();
/// let callers = voice_agent::callers::start(voice_agent::callers::media_url(addr), 8, 7);
/// tokio::time::sleep(std::time::Duration::from_secs(60)).await;
/// drop(callers); // every call hangs up
/// # }
/// ```
pub fn start(url: String, count: usize, seed: u64) -> Callers {
    let tasks = (0..count)
        .map(|caller| {
            let url = url.clone();
            tokio::spawn(async move {
                tokio::time::sleep(PAUSE * u32::try_from(caller).unwrap_or(u32::MAX)).await;
                let mut rng = StdRng::seed_from_u64(seed.wrapping_add(caller as u64));
                for call in 0_u64.. {
                    let script = Script {
                        plan: plan(&mut rng),
                        turns: TURNS,
                        stop_at: rng.random_range(0..TURNS),
                        gap_ms: 0,
                    };
                    let sid = format!("CAdemo{caller}x{call}");
                    let outcome = simulator::call(&url, &sid, script).await;
                    tracing::debug!(
                        target: "voice_agent::callers",
                        caller, call_sid = %sid, ended = outcome.ended,
                        turns = outcome.turn_latencies.len(), "simulated call ended"
                    );
                    tokio::time::sleep(PAUSE).await;
                }
            })
        })
        .collect();
    Callers(tasks)
}
