//! `spawn_app()`: the real application on port 0 with a temporary data dir, on SQLite or on a
//! fresh PostgreSQL schema.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pantau::config::Settings;
use pantau::domain::settings::Secret;
use pantau::startup::Application;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// What one look of [`eventually`] found: a value, or not yet (with what was seen instead).
pub trait Outcome<T> {
    /// The value, or a description of what was seen.
    fn outcome(self) -> Result<T, String>;
}

impl<T> Outcome<T> for Option<T> {
    fn outcome(self) -> Result<T, String> {
        self.ok_or_else(|| "not yet".to_owned())
    }
}

impl<T, E: std::fmt::Display> Outcome<T> for Result<T, E> {
    fn outcome(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

/// Looks with `check` until it gives a value, at most `limit`; then panics with `what` and the
/// last thing seen. The one way a test waits for something the server does by itself (a pull,
/// a commit, a freed slot).
pub async fn eventually<T, O, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    O: Outcome<T>,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = O>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let last = match check().await.outcome() {
            Ok(value) => return value,
            Err(last) => last,
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} (waited {limit:?}; last seen: {last})"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// [`eventually`] for a test that is not async (a child process, a plain thread).
pub fn eventually_blocking<T, O: Outcome<T>>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> O,
) -> T {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let last = match check().outcome() {
            Ok(value) => return value,
            Err(last) => last,
        };
        assert!(
            std::time::Instant::now() < deadline,
            "{what} (waited {limit:?}; last seen: {last})"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Which metadata database an app under test uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL used by the tests; `PANTAU_TEST_DATABASE_URL` overrides.
pub fn postgres_url() -> String {
    std::env::var("PANTAU_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// True when CI=true: then every service-backed test must run, never skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A fresh, unique PostgreSQL schema name.
pub fn fresh_schema() -> String {
    format!("t_{:016x}", rand::random::<u64>())
}

/// Drops a test schema.
pub async fn drop_schema(schema: &str) {
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_url()).await {
        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
    }
}

/// Options of an app under test.
pub struct AppOptions {
    pub backend: Backend,
    /// Simulator on, fast (50 ms) and seeded; off gives a quiet, deterministic app.
    pub simulator: bool,
}

/// A running application.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub shutdown: CancellationToken,
    /// The app's data directory (removed when the app is dropped).
    pub data_dir: tempfile::TempDir,
    schema: Option<String>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request failed")
    }

    /// `GET path` with a bearer token.
    pub async fn get_as(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request failed")
    }

    /// `POST path` with a bearer token and a JSON body.
    pub async fn post_as(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request failed")
    }

    pub async fn ws(&self) -> Ws {
        self.try_ws("", &[])
            .await
            .expect("WebSocket connect failed")
    }

    /// Connects to `/ws{query}` with extra request headers; the error carries a refusal's response.
    pub async fn try_ws(
        &self,
        query: &str,
        headers: &[(&str, &str)],
    ) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{}/ws{query}", self.addr)
            .into_client_request()
            .unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
                    .unwrap(),
                value.parse().unwrap(),
            );
        }
        let (stream, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Ws { stream })
    }

    /// A WebSocket client that has read its `hello` and the `source_status` that follows it.
    pub async fn ws_after_hello(&self) -> Ws {
        let mut ws = self.ws().await;
        ws.read_greeting().await;
        ws
    }

    /// Stops the app as SIGTERM would and waits for it; drops its PostgreSQL schema.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(15), self.server)
            .await
            .expect("app did not stop within 15 s")
            .expect("server task panicked");
        result.expect("app stopped with an error");
        if let Some(schema) = self.schema {
            drop_schema(&schema).await;
        }
    }
}

pub fn settings(options: &AppOptions, data_dir: &std::path::Path) -> (Settings, Option<String>) {
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".parse().unwrap();
    settings.server.static_dir =
        Some(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("static"));
    settings.data.dir = data_dir.to_path_buf();
    settings.simulator.enabled = options.simulator;
    settings.simulator.interval_ms = 50;
    settings.simulator.seed = Some(11);
    // Open to anyone as admin, as `pantau demo` is on loopback; access tests close it again.
    settings
        .access
        .open_to_anyone_as(pantau::access::Role::Admin);
    let schema = match options.backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let schema = fresh_schema();
            settings.database.url = Some(Secret::new(postgres_url()));
            settings.database.schema = Some(schema.clone());
            Some(schema)
        }
    };
    (settings, schema)
}

/// An app on SQLite without the simulator: quiet and deterministic.
pub async fn spawn_quiet_app() -> TestApp {
    spawn_app(AppOptions {
        backend: Backend::Sqlite,
        simulator: false,
    })
    .await
}

pub async fn spawn_app(options: AppOptions) -> TestApp {
    spawn_app_with(options, |_| {}).await
}

/// Starts an app after `tweak` adjusted its settings.
pub async fn spawn_app_with(options: AppOptions, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = tempfile::tempdir().unwrap();
    let (mut settings, schema) = settings(&options, data_dir.path());
    tweak(&mut settings);
    let app = Application::build(settings)
        .await
        .expect("app failed to build");
    let addr = app.local_addr();
    let shutdown = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped(std::future::pending()));
    TestApp {
        addr,
        client: reqwest::Client::new(),
        shutdown,
        data_dir,
        schema,
        server,
    }
}

/// A WebSocket client speaking the JSON protocol.
pub struct Ws {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    pub async fn send_json(&mut self, value: Value) {
        self.stream
            .send(Message::text(value.to_string()))
            .await
            .expect("send failed");
    }

    pub async fn send(&mut self, message: Message) {
        self.stream.send(message).await.expect("send failed");
    }

    /// The next JSON message, skipping control frames; panics after 10 s of silence.
    pub async fn next_json(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("no message within 10 s")
                .expect("connection ended")
                .expect("WebSocket error");
            match message {
                Message::Text(text) => {
                    return serde_json::from_str(&text).expect("server sent invalid JSON")
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// Reads what every connection starts with: `hello`, then the sources' `source_status`.
    pub async fn read_greeting(&mut self) -> Value {
        let hello = self.next_json().await;
        assert_eq!(hello["type"], "hello", "{hello}");
        let status = self.next_json().await;
        assert_eq!(status["type"], "source_status", "{status}");
        hello
    }

    /// Subscribes to one topic, resuming from `last_seq` when given.
    pub async fn subscribe(&mut self, topic: &str, last_seq: Option<u64>) {
        let wanted = match last_seq {
            Some(seq) => serde_json::json!({"topic": topic, "last_seq": seq}),
            None => serde_json::json!({"topic": topic}),
        };
        self.send_json(serde_json::json!({"type": "subscribe", "topics": [wanted]}))
            .await;
    }

    /// Reads until a message of `kind` arrives.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let message = self.next_json().await;
            if message["type"] == kind {
                return message;
            }
        }
    }
}

/// Applies an RFC 7396 merge patch (independently of the server's code).
pub fn apply_merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    apply_merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}
