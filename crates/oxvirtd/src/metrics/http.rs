//! The HTTP side of `--metrics`: hyper's HTTP/1 server on one TCP
//! listener. `GET /metrics` answers the last published sample and the
//! daemon's figures in Prometheus' text format (0.0.4), or in OpenMetrics
//! when the scraper's Accept header asks for it (as Prometheus does). It
//! reads [`Latest`] and atomics only: no driver, no lock of one.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ACCEPT, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::{prometheus_text, text};
use tokio::sync::Semaphore;

use super::sample::Latest;
use super::DaemonMetrics;

/// Scrapes served at once; more connections wait to be accepted.
const MAX_CONNS: usize = 32;

const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the endpoint reads.
pub struct Endpoint {
    pub latest: Arc<Latest>,
    pub daemon: Arc<DaemonMetrics>,
    /// Refreshes the daemon gauges that mirror server counters.
    pub refresh: Box<dyn Fn(&DaemonMetrics) + Send + Sync>,
}

impl Endpoint {
    /// The exposition, in OpenMetrics or in the classic text format.
    pub fn render(&self, openmetrics: bool) -> String {
        (self.refresh)(&self.daemon);
        let sample = self.latest.get();
        let mut out = String::with_capacity(16 * 1024);
        let r = if openmetrics {
            text::encode_registry(&mut out, &sample.registry)
                .and_then(|_| text::encode_registry(&mut out, self.daemon.registry()))
                .and_then(|_| text::encode_eof(&mut out))
        } else {
            prometheus_text::encode(&mut out, &sample.registry)
                .and_then(|_| prometheus_text::encode(&mut out, self.daemon.registry()))
        };
        if r.is_err() {
            tracing::warn!("metrics: encoding failed");
        }
        out
    }
}

fn wants_openmetrics(req: &Request<Incoming>) -> bool {
    req.headers()
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"))
}

fn answer(ep: &Endpoint, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let plain = |status: StatusCode, body: &'static str| {
        let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
        *r.status_mut() = status;
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        r
    };
    match (req.method(), req.uri().path()) {
        (&Method::GET | &Method::HEAD, "/metrics") => {
            let om = wants_openmetrics(req);
            let body = ep.render(om);
            let mut r = Response::new(Full::new(Bytes::from(body)));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static(if om { OPENMETRICS } else { TEXT }),
            );
            r
        }
        (&Method::GET | &Method::HEAD, "/") => plain(
            StatusCode::OK,
            "oxvirtd: Prometheus metrics are at /metrics\n",
        ),
        (_, "/" | "/metrics") => plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n"),
        _ => plain(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// Binds `addr` (the caller reports a failure before serving anything).
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// Serves scrapes on `listener` for ever.
pub async fn serve(listener: tokio::net::TcpListener, ep: Arc<Endpoint>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (sock, _) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!("metrics: accept: {}", e);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let ep = ep.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let r = answer(&ep, &req);
                async move { Ok::<_, Infallible>(r) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(sock), svc);
            // An idle keep-alive connection is closed after a minute.
            let _ = tokio::time::timeout(Duration::from_secs(60), conn).await;
            drop(permit);
        });
    }
}
