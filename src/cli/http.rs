//! `triage serve`: the conversation API over HTTP (axum on hyper-util, with a
//! timer so slow clients cannot hold a connection), a Rasa-compatible REST
//! channel, health and Prometheus metrics, hot reload and graceful shutdown.
//!
//! Member text never reaches an error body or a log line: JSON bodies are parsed
//! by hand into errors that name a column or a field, and requests are logged with
//! conversation id, outcome, intent and latency only.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use triage::sessions::MemoryStore;

use super::store::Store;
use triage::{Engine, Reply};

/// Limits and options of the server.
pub struct Options {
    /// Where to listen.
    pub addr: SocketAddr,
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Longest time to answer one request.
    pub request_timeout: Duration,
    /// Longest time a client may take to send its request headers.
    pub header_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
    /// Requests answered at once at most.
    pub max_concurrency: usize,
    /// Live conversations kept at most.
    pub max_sessions: usize,
    /// Idle time after which a conversation is forgotten.
    pub session_ttl: Duration,
    /// Keep sessions in Redis at this URL instead of in memory.
    pub sessions: Option<String>,
    /// A token that allows `/admin/reload` from other hosts than loopback.
    pub admin_token: Option<String>,
    /// Where fallbacks and clarifications are appended, redacted.
    pub unmatched: Option<PathBuf>,
}

/// Upper bounds (seconds) of the latency histogram.
const BUCKETS: [f64; 10] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0,
];

#[derive(Default)]
struct Metrics {
    requests: Mutex<std::collections::BTreeMap<(&'static str, u16), u64>>,
    latency: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_micros: AtomicU64,
    latency_count: AtomicU64,
    outcomes: Mutex<std::collections::BTreeMap<String, u64>>,
    intents: Mutex<std::collections::BTreeMap<String, u64>>,
    reloads: Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

impl Metrics {
    fn request(&self, route: &'static str, status: StatusCode, took: Duration) {
        *lock(&self.requests)
            .entry((route, status.as_u16()))
            .or_default() += 1;
        let secs = took.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        self.latency[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
    }

    fn reply(&self, reply: &Reply) {
        let outcome = serde_json::to_value(reply.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        *lock(&self.outcomes).entry(outcome).or_default() += 1;
        if let Some(i) = &reply.intent {
            *lock(&self.intents).entry(i.clone()).or_default() += 1;
        }
    }

    fn render(&self, sessions: Option<usize>, store_errors: u64) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP triage_requests_total Requests by route and status."
        );
        let _ = writeln!(out, "# TYPE triage_requests_total counter");
        for ((route, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "triage_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP triage_request_duration_seconds Time to answer a request."
        );
        let _ = writeln!(out, "# TYPE triage_request_duration_seconds histogram");
        let mut cumulative = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cumulative += self.latency[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "triage_request_duration_seconds_bucket{{le=\"{b}\"}} {cumulative}"
            );
        }
        cumulative += self.latency[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "triage_request_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(
            out,
            "triage_request_duration_seconds_sum {}",
            self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "triage_request_duration_seconds_count {}",
            self.latency_count.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# HELP triage_outcomes_total Replies by outcome.");
        let _ = writeln!(out, "# TYPE triage_outcomes_total counter");
        for (o, n) in lock(&self.outcomes).iter() {
            let _ = writeln!(out, "triage_outcomes_total{{outcome=\"{o}\"}} {n}");
        }
        let fallbacks = lock(&self.outcomes).get("fallback").copied().unwrap_or(0);
        let _ = writeln!(out, "# HELP triage_fallbacks_total Replies that fell back.");
        let _ = writeln!(out, "# TYPE triage_fallbacks_total counter");
        let _ = writeln!(out, "triage_fallbacks_total {fallbacks}");
        let _ = writeln!(
            out,
            "# HELP triage_intents_total Replies by intent (the pack's ids)."
        );
        let _ = writeln!(out, "# TYPE triage_intents_total counter");
        for (i, n) in lock(&self.intents).iter() {
            let _ = writeln!(out, "triage_intents_total{{intent=\"{i}\"}} {n}");
        }
        if let Some(sessions) = sessions {
            let _ = writeln!(
                out,
                "# HELP triage_sessions_live Live conversations in the session store."
            );
            let _ = writeln!(out, "# TYPE triage_sessions_live gauge");
            let _ = writeln!(out, "triage_sessions_live {sessions}");
        }
        let _ = writeln!(
            out,
            "# HELP triage_session_store_errors_total Session store commands that failed."
        );
        let _ = writeln!(out, "# TYPE triage_session_store_errors_total counter");
        let _ = writeln!(out, "triage_session_store_errors_total {store_errors}");
        let _ = writeln!(out, "# HELP triage_reloads_total Pack reloads by result.");
        let _ = writeln!(out, "# TYPE triage_reloads_total counter");
        for (r, n) in lock(&self.reloads).iter() {
            let _ = writeln!(out, "triage_reloads_total{{result=\"{r}\"}} {n}");
        }
        out
    }
}

/// A poisoned lock only means another request panicked; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

struct App {
    dir: PathBuf,
    engine: RwLock<Arc<Engine>>,
    store: Store,
    metrics: Metrics,
    unmatched: Option<Mutex<std::fs::File>>,
    admin_token: Option<String>,
    request_timeout: Duration,
}

impl App {
    fn engine(&self) -> Arc<Engine> {
        self.engine
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Validates and swaps in the pack from disk; the old one keeps serving if
    /// the new one is refused.
    fn reload(&self) -> Result<usize, String> {
        match Engine::load_dir(&self.dir) {
            Ok((engine, _)) => {
                let n = engine.pack().intents.len();
                *self
                    .engine
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(engine);
                *lock(&self.metrics.reloads).entry("ok").or_default() += 1;
                tracing::info!(intents = n, "pack reloaded");
                Ok(n)
            }
            Err(e) => {
                *lock(&self.metrics.reloads).entry("refused").or_default() += 1;
                tracing::warn!("pack reload refused; the previous pack keeps serving");
                Err(e.to_string())
            }
        }
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

/// A JSON body's problem by category, never by content.
fn body_error(e: &serde_json::Error, expected: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "bad_request",
        &crate::json_error(e, expected),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageRequest {
    text: String,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    lang: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RasaRequest {
    sender: String,
    message: String,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && !id.chars().any(char::is_control)
}

/// One turn of conversation `id`: shared by the JSON API and the Rasa channel.
async fn converse(
    app: &App,
    id: &str,
    text: &str,
    at: Option<&str>,
    lang: Option<&str>,
) -> Result<Reply, Box<Response>> {
    let engine = app.engine();
    let tz = engine.pack().time_zone.clone();
    let now = match at {
        None => jiff::Timestamp::now().to_zoned_datetime(tz),
        Some(a) => a
            .parse::<jiff::Timestamp>()
            .map(|t| t.to_zoned_datetime(tz))
            .map_err(|_| {
                Box::new(error(
                    StatusCode::BAD_REQUEST,
                    "bad_clock",
                    "at must be RFC 3339 with an offset, e.g. 2026-11-24T21:00:00-06:00",
                ))
            })?,
    };
    if lang.is_some_and(|l| engine.pack().language(l).is_none()) {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "bad_language",
            "lang is not a language of the pack",
        )));
    }
    let mut session = app.store.take(id).await;
    if let Some(l) = lang {
        session.language = Some(l.to_string());
    }
    let before = session.clone();
    // A bug must cost one reply, not the connection: the panic hook logs where.
    let reply = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        engine.respond(&mut session, text, &now)
    }))
    .map_err(|_| {
        Box::new(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; if this is an emergency, call 911",
        ))
    })?;
    app.store.put(id, session).await;
    app.metrics.reply(&reply);
    if let Some(file) = &app.unmatched
        && let Some(record) =
            super::serve::unmatched_record(&engine, id, text, &before, &reply, &now)
    {
        use std::io::Write;
        if writeln!(lock(file), "{record}").is_err() {
            tracing::warn!("cannot append to the unmatched file");
        }
    }
    Ok(reply)
}

async fn timed<F>(app: &App, route: &'static str, id: Option<&str>, f: F) -> Response
where
    F: Future<Output = Response>,
{
    let start = Instant::now();
    let response = match tokio::time::timeout(app.request_timeout, f).await {
        Ok(r) => r,
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took too long",
        ),
    };
    let took = start.elapsed();
    app.metrics.request(route, response.status(), took);
    let turn = response.extensions().get::<Turn>();
    tracing::info!(
        route,
        conversation = turn.map_or(id.unwrap_or("-"), |t| t.conversation.as_str()),
        status = response.status().as_u16(),
        outcome = turn.map_or("-", |t| t.outcome),
        intent = turn.and_then(|t| t.intent.as_deref()).unwrap_or("-"),
        micros = took.as_micros() as u64,
        "request"
    );
    response
}

/// What a conversation turn decided, carried to the request's log line.
#[derive(Clone)]
struct Turn {
    conversation: String,
    outcome: &'static str,
    intent: Option<String>,
}

fn with_turn(mut response: Response, conversation: &str, reply: &Reply) -> Response {
    response.extensions_mut().insert(Turn {
        conversation: conversation.to_string(),
        outcome: match reply.outcome {
            triage::Outcome::Answer => "answer",
            triage::Outcome::Clarify => "clarify",
            triage::Outcome::Fallback => "fallback",
            triage::Outcome::Emergency => "emergency",
        },
        intent: reply.intent.clone(),
    });
    response
}

async fn post_message(
    State(app): State<Arc<App>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Response {
    let route = "/v1/conversations/{id}/messages";
    timed(&app, route, Some(&id), async {
        if !valid_id(&id) {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_conversation",
                "the conversation id must be 1–128 characters without control characters",
            );
        }
        let request: MessageRequest = match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return body_error(
                    &e,
                    "send {\"text\": string, \"at\": RFC 3339 string, \"lang\": code}",
                );
            }
        };
        match converse(
            &app,
            &id,
            &request.text,
            request.at.as_deref(),
            request.lang.as_deref(),
        )
        .await
        {
            Ok(reply) => with_turn(axum::Json(&reply).into_response(), &id, &reply),
            Err(r) => *r,
        }
    })
    .await
}

async fn delete_conversation(
    State(app): State<Arc<App>>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    timed(&app, "/v1/conversations/{id}", Some(&id), async {
        match app.store.remove(&id).await {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(message) => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "sessions_unavailable",
                &message,
            ),
        }
    })
    .await
}

/// The Rasa REST channel's messages for one reply: the text, choices as
/// buttons, and (beyond Rasa's fields, ignored by widgets) the intent and its
/// confidence in Rasa NLU's shape, for test tools such as Botium.
fn rasa_messages(recipient: &str, reply: &Reply) -> serde_json::Value {
    let buttons: Vec<serde_json::Value> = reply
        .choices
        .iter()
        .map(|c| serde_json::json!({"title": c.title, "payload": c.payload}))
        .collect();
    let mut message = serde_json::json!({
        "recipient_id": recipient,
        "text": reply.reply,
        "intent": {
            "name": reply.intent.as_deref().unwrap_or(match reply.outcome {
                triage::Outcome::Fallback => "fallback",
                triage::Outcome::Clarify => "clarify",
                _ => "none",
            }),
            "confidence": reply.confidence,
        },
        "outcome": reply.outcome,
    });
    if !buttons.is_empty() {
        message["buttons"] = serde_json::Value::from(buttons);
    }
    serde_json::Value::Array(vec![message])
}

async fn rasa(State(app): State<Arc<App>>, body: Bytes) -> Response {
    timed(&app, "/webhooks/rest/webhook", None, async {
        let request: RasaRequest = match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => return body_error(&e, "send {\"sender\": string, \"message\": string}"),
        };
        if !valid_id(&request.sender) {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_conversation",
                "sender must be 1–128 characters",
            );
        }
        match converse(&app, &request.sender, &request.message, None, None).await {
            Ok(reply) => with_turn(
                axum::Json(rasa_messages(&request.sender, &reply)).into_response(),
                &request.sender,
                &reply,
            ),
            Err(r) => *r,
        }
    })
    .await
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    let engine = app.engine();
    axum::Json(serde_json::json!({
        "status": "ok",
        "pack": engine.pack().name,
        "intents": engine.pack().intents.len(),
        "sessions": app.store.kind(),
    }))
    .into_response()
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let sessions = app.store.live().await;
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(sessions, app.store.errors()),
    )
        .into_response()
}

async fn admin_reload(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let token_ok = app.admin_token.as_deref().is_some_and(|t| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.strip_prefix("Bearer ") == Some(t))
    });
    if !peer.ip().is_loopback() && !token_ok {
        return error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "reload from loopback, or with the admin token",
        );
    }
    match app.reload() {
        Ok(n) => axum::Json(serde_json::json!({"reloaded": true, "intents": n})).into_response(),
        Err(diagnostics) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "pack_refused",
            &diagnostics,
        ),
    }
}

fn router(app: Arc<App>, max_body: usize, max_concurrency: usize) -> Router {
    Router::new()
        .route("/v1/conversations/{id}/messages", post(post_message))
        .route("/v1/conversations/{id}", delete(delete_conversation))
        .route("/webhooks/rest/webhook", post(rasa))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/admin/reload", post(admin_reload))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            max_concurrency.max(1),
        ))
        .with_state(app)
}

/// Runs the server until SIGINT or SIGTERM; SIGHUP reloads the pack.
pub fn run(dir: PathBuf, engine: Engine, options: Options) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(dir, engine, options))
}

async fn serve(dir: PathBuf, engine: Engine, options: Options) -> Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;
    use tokio::signal::unix::{SignalKind, signal};
    use tower::ServiceExt;

    let unmatched = options
        .unmatched
        .as_deref()
        .map(super::serve::open_unmatched)
        .transpose()?
        .map(Mutex::new);
    let store = match &options.sessions {
        Some(url) => Store::redis(url, options.session_ttl).await?,
        None => Store::Memory(Mutex::new(MemoryStore::new(
            std::num::NonZeroUsize::new(options.max_sessions.max(1)).expect("at least one"),
            options.session_ttl,
        ))),
    };
    let app = Arc::new(App {
        dir,
        engine: RwLock::new(Arc::new(engine)),
        store,
        metrics: Metrics::default(),
        unmatched,
        admin_token: options.admin_token.clone(),
        request_timeout: options.request_timeout,
    });
    let router = router(app.clone(), options.max_body, options.max_concurrency);
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .with_context(|| format!("cannot listen on {}", options.addr))?;
    let local = listener.local_addr()?;
    // Adapters and tests read the port from this line.
    eprintln!("triage: listening on http://{local}");
    tracing::info!(%local, "listening");

    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout);
    let graceful = GracefulShutdown::new();
    let connections = Arc::new(tokio::sync::Semaphore::new(options.max_connections.max(1)));
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let Ok(permit) = connections.clone().try_acquire_owned() else {
                    // Over the connection limit: close at once rather than queue.
                    drop(stream);
                    continue;
                };
                let service = router.clone().map_request(move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    req
                });
                let conn = builder.serve_connection_with_upgrades(
                    TokioIo::new(stream),
                    TowerToHyperService::new(service),
                );
                let conn = graceful.watch(conn.into_owned());
                tokio::spawn(async move {
                    let _ = conn.await;
                    drop(permit);
                });
            }
            _ = hangup.recv() => {
                let _ = app.reload();
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: finishing requests in flight");
    eprintln!("triage: shutting down");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => {}
    }
    Ok(())
}
