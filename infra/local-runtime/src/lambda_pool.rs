//! Lambda stand-in: worker processes of the real function binaries behind the Lambda Runtime API.
//!
//! Each worker process gets its own Runtime API listener on an ephemeral 127.0.0.1 port. The
//! runtime therefore tracks which process runs an invocation, so it can kill that process when
//! the function's timeout passes and fail the invocation when the process exits.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{oneshot, watch, Notify};

use crate::functions::FunctionSpec;

/// A function error as the Runtime API reports it (`errorType`, `errorMessage`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {error_message}")]
pub struct InvokeError {
    pub error_type: String,
    pub error_message: String,
}

impl InvokeError {
    pub fn new(error_type: &str, error_message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.to_string(),
            error_message: error_message.into(),
        }
    }
}

pub type InvokeResult = Result<Value, InvokeError>;

/// Limits and log destination shared by every function.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_workers: usize,
    pub log_dir: Option<PathBuf>,
}

/// Every local function, found by name, ARN or logical id.
pub struct LambdaService {
    pools: Vec<Arc<FunctionPool>>,
}

impl LambdaService {
    pub fn new(specs: Vec<FunctionSpec>, settings: &PoolSettings) -> Self {
        let pools = specs
            .into_iter()
            .map(|spec| FunctionPool::new(spec, settings.clone()))
            .collect();
        Self { pools }
    }

    /// Finds a function by name, ARN (with or without a qualifier) or template logical id.
    pub fn find(&self, key: &str) -> Option<Arc<FunctionPool>> {
        let unqualified = key
            .strip_prefix("arn:")
            .map(|_| {
                let parts: Vec<&str> = key.split(':').collect();
                parts.get(6).copied().unwrap_or(key)
            })
            .unwrap_or(key);
        self.pools
            .iter()
            .find(|p| {
                p.spec.name == unqualified || p.spec.logical_id == unqualified || p.spec.arn == key
            })
            .cloned()
    }

    pub fn pools(&self) -> &[Arc<FunctionPool>] {
        &self.pools
    }

    /// Kills every worker process and waits until they have exited.
    pub async fn shutdown(&self) {
        for pool in &self.pools {
            pool.shutdown.send_replace(true);
        }
        for pool in &self.pools {
            let mut waited = 0;
            while pool.counts().total > 0 && waited < 50 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                waited += 1;
            }
        }
    }
}

struct Invocation {
    request_id: String,
    payload: Bytes,
    reply: oneshot::Sender<InvokeResult>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    total: usize,
    idle: usize,
    starting: usize,
}

/// The queue of pending invocations and the worker processes of one function.
pub struct FunctionPool {
    pub spec: FunctionSpec,
    settings: PoolSettings,
    queue: Mutex<VecDeque<Invocation>>,
    queued: Notify,
    counts: Mutex<Counts>,
    next_worker: AtomicU64,
    shutdown: watch::Sender<bool>,
}

/// Waits until the flag in `receiver` turns true (or its sender is gone).
pub async fn wait_until_set(receiver: &mut watch::Receiver<bool>) {
    let _ = receiver.wait_for(|set| *set).await;
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FunctionPool {
    fn new(spec: FunctionSpec, settings: PoolSettings) -> Arc<Self> {
        let (shutdown, _) = watch::channel(false);
        Arc::new(Self {
            spec,
            settings,
            queue: Mutex::new(VecDeque::new()),
            queued: Notify::new(),
            counts: Mutex::new(Counts::default()),
            next_worker: AtomicU64::new(1),
            shutdown,
        })
    }

    fn counts(&self) -> Counts {
        *lock(&self.counts)
    }

    /// Runs one invocation and returns the function's output or its error.
    pub async fn invoke(self: &Arc<Self>, payload: &Value) -> InvokeResult {
        let (reply, receiver) = oneshot::channel();
        let request_id = ulid::Ulid::new().to_string().to_lowercase();
        let invocation = Invocation {
            request_id: request_id.clone(),
            payload: Bytes::from(payload.to_string()),
            reply,
        };
        lock(&self.queue).push_back(invocation);
        self.queued.notify_one();
        self.scale_up();
        receiver.await.unwrap_or_else(|_| {
            Err(InvokeError::new(
                "Runtime.Unknown",
                format!("RequestId: {request_id} Error: the invocation was dropped"),
            ))
        })
    }

    /// Starts one more worker when invocations wait, no worker is free and the limit allows it.
    fn scale_up(self: &Arc<Self>) {
        if *self.shutdown.borrow() {
            return;
        }
        let queued = lock(&self.queue).len();
        let mut counts = lock(&self.counts);
        if queued > counts.idle + counts.starting && counts.total < self.settings.max_workers {
            counts.total += 1;
            counts.starting += 1;
            let pool = Arc::clone(self);
            let worker_id = self.next_worker.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move { run_worker(pool, worker_id).await });
        }
    }

    async fn next_invocation(&self) -> Invocation {
        loop {
            let notified = self.queued.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(invocation) = lock(&self.queue).pop_front() {
                return invocation;
            }
            // The timeout guards against a wake-up lost to a waiter that was cancelled.
            let _ = tokio::time::timeout(Duration::from_secs(1), notified).await;
        }
    }

    fn requeue_front(&self, invocation: Invocation) {
        lock(&self.queue).push_front(invocation);
        self.queued.notify_one();
    }
}

struct InFlight {
    request_id: String,
    reply: oneshot::Sender<InvokeResult>,
    timer: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Slot {
    dead: bool,
    in_flight: Option<InFlight>,
}

struct Worker {
    id: u64,
    pool: Arc<FunctionPool>,
    slot: Mutex<Slot>,
    first_poll: AtomicBool,
    died: watch::Sender<bool>,
    kill: Notify,
}

impl Worker {
    fn finish(&self, request_id: &str, result: InvokeResult) -> bool {
        let in_flight = {
            let mut slot = lock(&self.slot);
            match &slot.in_flight {
                Some(f) if f.request_id == request_id => slot.in_flight.take(),
                _ => None,
            }
        };
        match in_flight {
            Some(in_flight) => {
                in_flight.timer.abort();
                let _ = in_flight.reply.send(result);
                true
            }
            None => false,
        }
    }

    fn mark_first_poll(&self) {
        if !self.first_poll.swap(true, Ordering::SeqCst) {
            let mut counts = lock(&self.pool.counts);
            counts.starting = counts.starting.saturating_sub(1);
        }
    }
}

/// Counts a worker as idle while it waits in `GET /next`, including when the request is cancelled.
struct IdleGuard<'a>(&'a FunctionPool);

impl<'a> IdleGuard<'a> {
    fn new(pool: &'a FunctionPool) -> Self {
        lock(&pool.counts).idle += 1;
        Self(pool)
    }
}

impl Drop for IdleGuard<'_> {
    fn drop(&mut self) {
        let mut counts = lock(&self.0.counts);
        counts.idle = counts.idle.saturating_sub(1);
    }
}

async fn run_worker(pool: Arc<FunctionPool>, id: u64) {
    let function = pool.spec.logical_id.clone();
    let (died, _) = watch::channel(false);
    let worker = Arc::new(Worker {
        id,
        pool: Arc::clone(&pool),
        slot: Mutex::new(Slot::default()),
        first_poll: AtomicBool::new(false),
        died,
        kill: Notify::new(),
    });
    let outcome = run_process(&worker).await;
    match &outcome {
        Ok(status) => {
            tracing::info!(function = %function, worker = id, status = %status, "worker stopped")
        }
        Err(error) => {
            tracing::error!(function = %function, worker = id, error = %error, "worker failed to start")
        }
    }
    worker.died.send_replace(true);
    let in_flight = {
        let mut slot = lock(&worker.slot);
        slot.dead = true;
        slot.in_flight.take()
    };
    let reason = match &outcome {
        Ok(status) => format!("Runtime exited with error: {status}"),
        Err(error) => format!("Runtime failed to start: {error}"),
    };
    let stopping = *pool.shutdown.borrow();
    if let Some(in_flight) = in_flight {
        in_flight.timer.abort();
        tracing::warn!(function = %function, worker = id, request_id = %in_flight.request_id, "worker exited during an invocation");
        let _ = in_flight.reply.send(Err(InvokeError::new(
            "Runtime.ExitError",
            format!("RequestId: {} Error: {reason}", in_flight.request_id),
        )));
    } else if !worker.first_poll.load(Ordering::SeqCst) && !stopping {
        // A process that exits before its first poll would otherwise be restarted forever.
        if let Some(invocation) = lock(&pool.queue).pop_front() {
            let _ = invocation.reply.send(Err(InvokeError::new(
                "Runtime.ExitError",
                format!("RequestId: {} Error: {reason}", invocation.request_id),
            )));
        }
    }
    {
        let mut counts = lock(&pool.counts);
        counts.total = counts.total.saturating_sub(1);
        if !worker.first_poll.load(Ordering::SeqCst) {
            counts.starting = counts.starting.saturating_sub(1);
        }
    }
    if !stopping {
        tokio::time::sleep(Duration::from_millis(50)).await;
        pool.scale_up();
    }
}

#[derive(Debug, thiserror::Error)]
enum WorkerError {
    #[error("failed to bind the Runtime API listener: {0}")]
    Bind(std::io::Error),
    #[error("failed to start {path}: {source}")]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
}

async fn run_process(worker: &Arc<Worker>) -> Result<String, WorkerError> {
    let pool = &worker.pool;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(WorkerError::Bind)?;
    let address = listener.local_addr().map_err(WorkerError::Bind)?;
    let router = runtime_api_router(Arc::clone(worker));
    let server = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(error = %error, "Runtime API listener failed");
        }
    });

    let mut command = tokio::process::Command::new(&pool.spec.binary);
    command
        .env_clear()
        .envs(&pool.spec.environment)
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("local/{}/{}", pool.spec.name, worker.id),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    // SAFETY: prctl is async-signal-safe and touches only the calling (child) process.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(source) => {
            server.abort();
            return Err(WorkerError::Spawn {
                path: pool.spec.binary.clone(),
                source,
            });
        }
    };
    tracing::info!(function = %pool.spec.logical_id, worker = worker.id, pid = child.id(), runtime_api = %address, "worker started");
    if let Some(stdout) = child.stdout.take() {
        tokio::spawn(forward_output(
            stdout,
            pool.spec.logical_id.clone(),
            pool.settings.log_dir.clone(),
        ));
    }
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(forward_output(
            stderr,
            pool.spec.logical_id.clone(),
            pool.settings.log_dir.clone(),
        ));
    }

    let mut shutdown = pool.shutdown.subscribe();
    let status = tokio::select! {
        status = child.wait() => status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()),
        _ = worker.kill.notified() => {
            let _ = child.kill().await;
            "killed after the function timeout".to_string()
        }
        _ = wait_until_set(&mut shutdown) => {
            let _ = child.kill().await;
            "killed at shutdown".to_string()
        }
    };
    server.abort();
    Ok(status)
}

async fn forward_output(
    stream: impl AsyncRead + Unpin,
    function: String,
    log_dir: Option<PathBuf>,
) {
    let mut file = log_dir.and_then(|dir| {
        let path = dir.join(format!("{function}.log"));
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|error| tracing::error!(path = %path.display(), error = %error, "failed to open function log file"))
            .ok()
    });
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        match file.as_mut() {
            Some(file) => {
                use std::io::Write;
                let _ = writeln!(file, "{line}");
            }
            None => eprintln!("[{function}] {line}"),
        }
    }
}

fn runtime_api_router(worker: Arc<Worker>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
        .route(
            "/2018-06-01/runtime/invocation/{request_id}/response",
            post(invocation_response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{request_id}/error",
            post(invocation_error),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(worker)
}

fn epoch_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

async fn next_invocation(State(worker): State<Arc<Worker>>) -> Response {
    worker.mark_first_poll();
    let pool = Arc::clone(&worker.pool);
    let mut died = worker.died.subscribe();
    let invocation = {
        let _idle = IdleGuard::new(&pool);
        tokio::select! {
            invocation = pool.next_invocation() => invocation,
            _ = wait_until_set(&mut died) => return StatusCode::GONE.into_response(),
        }
    };
    let timeout = pool.spec.timeout;
    let deadline = epoch_millis() + timeout.as_millis();
    let request_id = invocation.request_id.clone();
    {
        let mut slot = lock(&worker.slot);
        if slot.dead {
            drop(slot);
            pool.requeue_front(invocation);
            return StatusCode::GONE.into_response();
        }
        let timer_worker = Arc::clone(&worker);
        let timer_request = request_id.clone();
        let timer = tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            let message = format!(
                "RequestId: {timer_request} Error: Task timed out after {:.2} seconds",
                timeout.as_secs_f64()
            );
            if timer_worker.finish(
                &timer_request,
                Err(InvokeError::new("Sandbox.Timedout", message)),
            ) {
                tracing::warn!(function = %timer_worker.pool.spec.logical_id, worker = timer_worker.id, request_id = %timer_request, "invocation timed out; killing the worker");
                timer_worker.kill.notify_one();
            }
        });
        slot.in_flight = Some(InFlight {
            request_id: request_id.clone(),
            reply: invocation.reply,
            timer,
        });
    }
    let mut headers = HeaderMap::new();
    let values = [
        ("lambda-runtime-aws-request-id", request_id.clone()),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        ("lambda-runtime-invoked-function-arn", pool.spec.arn.clone()),
        (
            "lambda-runtime-trace-id",
            format!(
                "Root=1-{:08x}-{request_id};Sampled=0",
                epoch_millis() / 1000
            ),
        ),
    ];
    for (name, value) in values {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    (StatusCode::OK, headers, invocation.payload).into_response()
}

async fn invocation_response(
    State(worker): State<Arc<Worker>>,
    Path(request_id): Path<String>,
    body: Bytes,
) -> Response {
    let output = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    if worker.finish(&request_id, Ok(output)) {
        (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
    } else {
        unknown_request(&request_id)
    }
}

async fn invocation_error(
    State(worker): State<Arc<Worker>>,
    Path(request_id): Path<String>,
    body: Bytes,
) -> Response {
    let error = parse_error_body(&body);
    tracing::info!(function = %worker.pool.spec.logical_id, request_id = %request_id, error_type = %error.error_type, "function returned an error");
    if worker.finish(&request_id, Err(error)) {
        (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
    } else {
        unknown_request(&request_id)
    }
}

async fn init_error(State(worker): State<Arc<Worker>>, body: Bytes) -> Response {
    let error = parse_error_body(&body);
    tracing::error!(function = %worker.pool.spec.logical_id, worker = worker.id, error_type = %error.error_type, error_message = %error.error_message, "function initialization failed");
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

fn parse_error_body(body: &[u8]) -> InvokeError {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let field = |name: &str| parsed.get(name).and_then(Value::as_str).map(str::to_string);
    InvokeError {
        error_type: field("errorType").unwrap_or_else(|| "Unhandled".to_string()),
        error_message: field("errorMessage")
            .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned()),
    }
}

fn unknown_request(request_id: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "errorType": "InvalidRequestID",
            "errorMessage": format!("request {request_id} is not in flight on this worker"),
        })),
    )
        .into_response()
}

/// Finds a pool by logical id in a map built once at start.
pub fn by_logical_id(service: &LambdaService) -> HashMap<String, Arc<FunctionPool>> {
    service
        .pools()
        .iter()
        .map(|p| (p.spec.logical_id.clone(), Arc::clone(p)))
        .collect()
}
