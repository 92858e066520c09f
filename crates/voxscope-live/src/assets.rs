//! Every file the page loads, compiled into the binary: the page works offline and
//! loads nothing from another origin, which its Content-Security-Policy enforces.

use axum::http::{HeaderValue, header};
use axum::response::Response;

/// What the page may load and connect to: its own origin only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file, served at `{path}/assets/{name}`.
pub(crate) struct Asset {
    pub(crate) name: &'static str,
    pub(crate) content_type: &'static str,
    pub(crate) body: &'static [u8],
}

/// The page's scripts, styles and icon, and the vendored uPlot (see
/// `assets/vendor/uplot/VERSION`).
pub(crate) const ASSETS: &[Asset] = &[
    Asset {
        name: "live.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/live.js"),
    },
    Asset {
        name: "live.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../assets/live.css"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../assets/icon.svg"),
    },
    Asset {
        name: "uPlot.iife.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/vendor/uplot/uPlot.iife.min.js"),
    },
    Asset {
        name: "uPlot.min.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../assets/vendor/uplot/uPlot.min.css"),
    },
    Asset {
        name: "uPlot.LICENSE.txt",
        content_type: "text/plain; charset=utf-8",
        body: include_bytes!("../assets/vendor/uplot/LICENSE"),
    },
];

/// The page, with `{{base}}` and `{{alertmanager}}` to fill in.
pub(crate) const INDEX: &str = include_str!("../assets/index.html");

/// The form a browser without the token gets, with `{{base}}` to fill in.
pub(crate) const LOGIN: &str = include_str!("../assets/login.html");

/// Adds the security headers every response of the page carries.
pub(crate) async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers
        .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}
