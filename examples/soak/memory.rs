//! Memory per call of voxscope's call tracking. The same WebSocket server runs as a
//! child process twice, with and without the demo's `CallLayer` (Twilio, call ids from
//! the query, an idle timeout, the Prometheus recorder installed); each time the parent
//! holds `N` idle calls open on it (each sent Twilio's `connected` and `start`, then
//! nothing). Per call = ((RSS with N calls − RSS before them) tracked − the same
//! untracked) / N.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use axum::Router;
use axum::extract::State;
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::{any, get};
use clap::ArgMatches;
use futures_util::{SinkExt, StreamExt};
use rand::SeedableRng;
use tokio_tungstenite::tungstenite::Message;
use voice_agent::simulator::{Identity, frames};
use voxscope::call::{Call, CallLayer, Protocol};

use crate::{child, number, procfs};

/// Idle calls are far from this: Twilio's 20 ms frames would have ended them otherwise.
const IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// Both servers read frames through a 4 KiB buffer instead of tungstenite's 128 KiB
/// default, which would otherwise make the shared part a hundred times the difference.
const READ_BUFFER: usize = 4096;

/// The child: serves `/media` (tracked or not) and `/open` (calls open), says where.
pub async fn serve(m: &ArgMatches) -> anyhow::Result<bool> {
    let tracking = match m.get_one::<String>("tracking").map(String::as_str) {
        Some("on") => true,
        Some("off") => false,
        other => bail!("--tracking {other:?}: on or off"),
    };
    let open = Arc::new(AtomicUsize::new(0));
    let media = if tracking {
        let _metrics = voxscope::builder().global_label("service", "voice_agent").install()?;
        let layer = CallLayer::builder(Protocol::Twilio)
            .max_calls(number(m, "max-calls", 20_000)?)
            .call_id_query("callSid")
            .idle_timeout(IDLE_TIMEOUT)
            .build()?;
        Router::new().route("/media", any(tracked)).route_layer(layer)
    } else {
        Router::new().route("/media", any(untracked))
    };
    let open_route = Router::new().route(
        "/open",
        get(|State(open): State<Arc<AtomicUsize>>| async move {
            open.load(Ordering::SeqCst).to_string()
        }),
    );
    let app = media.merge(open_route).with_state(Arc::clone(&open));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("idle-server listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(true)
}

async fn tracked(
    ws: WebSocketUpgrade,
    call: Call,
    State(open): State<Arc<AtomicUsize>>,
) -> Response {
    ws.read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| call.serve(socket, move |socket, _call| hold(socket, open)))
}

async fn untracked(ws: WebSocketUpgrade, State(open): State<Arc<AtomicUsize>>) -> Response {
    ws.read_buffer_size(READ_BUFFER).on_upgrade(move |socket: WebSocket| hold(socket, open))
}

/// Reads the caller until it goes; counted open meanwhile.
async fn hold<S, E>(mut socket: S, open: Arc<AtomicUsize>)
where
    S: futures_util::Stream<Item = Result<axum::extract::ws::Message, E>> + Unpin,
{
    open.fetch_add(1, Ordering::SeqCst);
    while let Some(Ok(_)) = socket.next().await {}
    open.fetch_sub(1, Ordering::SeqCst);
}

/// What one server's process grew by with the calls open.
#[derive(Clone, Copy, Debug, serde::Serialize)]
struct Growth {
    before_bytes: u64,
    with_calls_bytes: u64,
}

impl Growth {
    fn bytes(self) -> i64 {
        self.with_calls_bytes as i64 - self.before_bytes as i64
    }
}

/// `soak memory`: both servers, the figures, `Ok(false)` over the bound.
pub async fn measure(m: &ArgMatches) -> anyhow::Result<bool> {
    let calls: usize = number(m, "calls", 10_000)?;
    if !(100..=15_000).contains(&calls) {
        bail!("--calls {calls}: between 100 and 15000");
    }
    let max_bytes: f64 = number(m, "max-bytes", 4096.0)?;
    let untracked = growth(false, calls).await?;
    let tracked = growth(true, calls).await?;
    let per_call = (tracked.bytes() - untracked.bytes()) as f64 / calls as f64;
    println!("{calls} idle calls");
    for (name, g) in [("untracked", untracked), ("tracked", tracked)] {
        println!(
            "  {name:<10} RSS {:>8.1} MiB -> {:>8.1} MiB: {:>7.0} bytes per call",
            g.before_bytes as f64 / 1048576.0,
            g.with_calls_bytes as f64 / 1048576.0,
            g.bytes() as f64 / calls as f64
        );
    }
    let pass = per_call <= max_bytes;
    println!(
        "{} voxscope call tracking: {per_call:.0} bytes per call (bound {max_bytes})",
        if pass { "ok" } else { "FAIL" }
    );
    if let Some(path) = m.get_one::<String>("json") {
        let report = serde_json::json!({
            "calls": calls, "untracked": untracked, "tracked": tracked,
            "bytes_per_call": per_call, "max_bytes": max_bytes,
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(pass)
}

/// Starts the server (tracked or not), opens `calls` idle calls on it, and reads its
/// memory before and with them.
async fn growth(tracking: bool, calls: usize) -> anyhow::Result<Growth> {
    let exe = std::env::current_exe()?;
    let max_calls = (calls + 1).to_string();
    let tracking_flag = if tracking { "on" } else { "off" };
    let args = ["idle-server", "--tracking", tracking_flag, "--max-calls", &max_calls];
    let server = child::Server::start(&exe, &args, &[])?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before_bytes = procfs::rss_bytes(server.pid())?;
    let url = format!("ws://{}/media", server.addr);
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let identities: Vec<Identity> = (0..calls).map(|_| Identity::realistic(&mut rng)).collect();
    let sockets: Vec<_> = futures_util::stream::iter(identities.iter())
        .map(|who| open_idle(&url, who))
        .buffer_unordered(256)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let open_url = format!("http://{}/open", server.addr);
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::get(&open_url).await?.text().await?.trim() != calls.to_string() {
        if Instant::now() > deadline {
            bail!("the server did not see {calls} calls open within a minute");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The last start frames are read, and nothing else is under way.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let with_calls_bytes = procfs::rss_bytes(server.pid())?;
    drop(server);
    drop(sockets);
    Ok(Growth { before_bytes, with_calls_bytes })
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One idle call: Twilio's `connected` and `start`, then silence on the wire.
async fn open_idle(url: &str, who: &Identity) -> anyhow::Result<Socket> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}?callSid={}", who.call_sid))
        .await
        .context("opening an idle call")?;
    ws.send(Message::text(frames::CONNECTED)).await?;
    ws.send(Message::text(frames::start_as(who))).await?;
    Ok(ws)
}
