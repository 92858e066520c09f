//! The production profile. With `--admin-bind IP:PORT` (or `VOXSCOPE_ADMIN_BIND`) the
//! operator routes, `/metrics`, `/traces`, the live page and the alert API, are served
//! only on that second listener, which a private network or a firewall keeps to
//! operators and Prometheus; the main listener, the one callers and Twilio reach,
//! serves the HTTP API and `/media` and answers 404 for everything else. Without it,
//! one listener serves both (with `--metrics-token` guarding `/metrics` and the live
//! page).
//!
//! ```
//! use axum::Router;
//! use axum::routing::get;
//! use voice_agent::admin::Routers;
//!
//! let public = Router::new().route("/health", get(|| async { "ok" }));
//! let operator = Router::new().route("/metrics", get(|| async { "" }));
//! assert!(Routers::split(public.clone(), operator.clone(), true).admin.is_some());
//! assert!(Routers::split(public, operator, false).admin.is_none());
//! ```

use std::future::Future;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::Config;

/// The demo's routes by listener.
#[derive(Clone, Debug)]
pub struct Routers {
    /// What the main listener serves: the HTTP API and `/media`, and the operator
    /// routes too when there is no admin listener.
    pub public: Router,
    /// The operator routes, when they have a listener of their own.
    pub admin: Option<Router>,
}

impl Routers {
    /// `operator` on a router of its own when `admin` is true, merged into `public`
    /// otherwise.
    pub fn split(public: Router, operator: Router, admin: bool) -> Self {
        match admin {
            true => Self { public, admin: Some(operator) },
            false => Self { public: public.merge(operator), admin: None },
        }
    }

    /// Both routers wrapped by `wrap` (the HTTP metrics and trace layers), so that
    /// requests to either listener are measured and traced alike.
    ///
    /// # Errors
    /// What `wrap` returns.
    pub fn wrapped(self, wrap: impl Fn(Router) -> anyhow::Result<Router>) -> anyhow::Result<Self> {
        Ok(Self { public: wrap(self.public)?, admin: self.admin.map(&wrap).transpose()? })
    }
}

/// Binds the admin listener of `config` (`--admin-bind`), if it has one. Call it inside
/// a tokio runtime.
///
/// # Errors
/// The address cannot be bound (in use, not local); the error names it.
pub fn bind(config: &Config) -> anyhow::Result<Option<TcpListener>> {
    let Some(addr) = config.admin_addr else { return Ok(None) };
    let bound = || -> std::io::Result<TcpListener> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        TcpListener::from_std(listener)
    };
    Ok(Some(bound().with_context(|| format!("admin listener {addr}"))?))
}

/// Serves `router` on `listener` until `shutdown` completes, on a task of its own,
/// which ends with the server's result.
pub fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<std::io::Result<()>> {
    tokio::spawn(
        async move { axum::serve(listener, router).with_graceful_shutdown(shutdown).await },
    )
}
