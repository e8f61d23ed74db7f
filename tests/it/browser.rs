//! The overview page in a real headless Chromium (Debian's), driven over the DevTools protocol:
//! live values that move, the disconnected indicator when the server stops, recovery without a
//! reload when it comes back, a tablet-sized viewport, no console errors, screenshots as artifacts.
//!
//! Needs `/usr/bin/chromium` (or `PANTAU_CHROMIUM`). Skipped with a message when it is absent,
//! except with CI=true, where its absence fails the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use pantau::startup::Application;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::{settings, AppOptions, Backend, TestApp};

crate::tests! {
    needs(Chromium) async the_wall_page_shows_live_values_survives_a_server_restart_and_fits_a_tablet,
    needs(Chromium) async a_screen_without_a_valid_token_says_so_and_with_its_token_goes_live,
    needs(Chromium) async a_person_is_sent_to_log_in_chooses_a_password_and_comes_back_to_the_tablet,
    needs(Chromium) async the_analyst_page_previews_an_export_takes_a_snapshot_and_shows_it_by_its_url,
    needs(Chromium) async a_rupiah_value_reads_the_same_on_the_wall_and_the_analyst_page,
    needs(Chromium) async the_dashboard_wall_and_the_tablet_follow_live_data_and_survive_a_server_restart,
    needs(Chromium) async maps_lay_the_regions_over_the_configured_tile_server,
    needs(Chromium) async the_map_wall_draws_clusters_points_and_heat_from_live_rows,
    needs(Chromium) async the_map_explorer_asks_for_the_view_it_is_zoomed_to,
}

/// Where screenshots go (kept by CI as artifacts; ignored by git).
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A headless Chromium with one page, spoken to over the DevTools protocol.
struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    /// Console errors and uncaught exceptions seen so far.
    errors: Vec<String>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    async fn launch(chromium: &Path, width: u32, height: u32, mobile: bool) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start Chromium");
        // Chromium writes its DevTools port and browser path to this file once it listens.
        let port_file = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        let endpoint = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                    break format!("ws://127.0.0.1:{port}{path}");
                }
            }
            assert!(
                Instant::now() < deadline,
                "Chromium did not open DevTools within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let (ws, _) = tokio_tungstenite::connect_async(endpoint).await.unwrap();
        let mut browser = Browser {
            child,
            _profile: profile,
            ws,
            session: String::new(),
            next_id: 0,
            errors: Vec::new(),
        };
        let target = browser
            .call("Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let attached = browser
            .call(
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await;
        browser.session = attached["sessionId"].as_str().unwrap().to_owned();
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            browser.call(domain, json!({})).await;
        }
        browser
            .call(
                "Emulation.setDeviceMetricsOverride",
                json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
            )
            .await;
        browser
    }

    /// Sends a command (to the page once attached) and waits for its answer, noting events.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut command = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            command["sessionId"] = json!(self.session);
        }
        self.ws
            .send(Message::text(command.to_string()))
            .await
            .unwrap();
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(30), self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no answer to {method} within 30 s"))
                .expect("DevTools connection closed")
                .unwrap();
            let Message::Text(text) = frame else { continue };
            let message: Value = serde_json::from_str(&text).unwrap();
            if message["id"] == json!(id) {
                if let Some(error) = message.get("error") {
                    panic!("{method} failed: {error}");
                }
                return message["result"].clone();
            }
            self.note_event(&message);
        }
    }

    fn note_event(&mut self, event: &Value) {
        let params = &event["params"];
        match event["method"].as_str() {
            Some("Runtime.consoleAPICalled") if params["type"] == "error" => {
                self.errors
                    .push(format!("console.error: {}", params["args"]));
            }
            Some("Runtime.exceptionThrown") => {
                self.errors
                    .push(format!("exception: {}", params["exceptionDetails"]));
            }
            Some("Log.entryAdded") if params["entry"]["level"] == "error" => {
                self.errors.push(format!(
                    "log: {} {}",
                    params["entry"]["text"], params["entry"]["url"]
                ));
            }
            _ => {}
        }
    }

    async fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
    }

    async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true}),
            )
            .await;
        result["result"]["value"].clone()
    }

    /// Evaluates an expression whose value is a promise, and returns what it resolves to.
    async fn eval_promise(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression} threw: {result}"
        );
        result["result"]["value"].clone()
    }

    /// Polls `expression` until it is `true`; panics with `what` after `limit`.
    async fn wait_until(&mut self, expression: &str, limit: Duration, what: &str) {
        let deadline = Instant::now() + limit;
        while self.eval(expression).await != json!(true) {
            assert!(Instant::now() < deadline, "{what} (waited {limit:?})");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn screenshot(&mut self, name: &str) {
        let shot = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(artifacts().join(name), png).unwrap();
    }
}

/// The demo app running in-process on a port of its own, stopped and started again on the same
/// port and data dir (a server restart, as a screen sees it).
struct Demo {
    port: u16,
    data_dir: tempfile::TempDir,
    running: Option<(
        tokio_util::sync::CancellationToken,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    )>,
}

impl Demo {
    async fn start() -> Demo {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut demo = Demo {
            port,
            data_dir: tempfile::tempdir().unwrap(),
            running: None,
        };
        demo.restart().await;
        demo
    }

    /// `path` on the demo's server.
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Starts the server (again), on the same port and data dir.
    async fn restart(&mut self) {
        let options = AppOptions {
            backend: Backend::Sqlite,
            simulator: true,
        };
        let (mut settings, _) = settings(&options, self.data_dir.path());
        settings.server.listen = format!("127.0.0.1:{}", self.port).parse().unwrap();
        settings.simulator.interval_ms = 300;
        let app = Application::build(settings)
            .await
            .expect("demo failed to build");
        let stop = app.shutdown_token();
        let server = tokio::spawn(app.run_until_stopped(std::future::pending()));
        self.running = Some((stop, server));
    }

    /// Stops the server and waits until it is down.
    async fn stop(&mut self) {
        if let Some((stop, server)) = self.running.take() {
            stop.cancel();
            server.await.unwrap().unwrap();
        }
    }
}

/// A page in Chromium of `width`×`height` on `path` of `app`.
async fn open(chromium: &Path, app: &TestApp, (width, height): (u32, u32), path: &str) -> Browser {
    let mut page = Browser::launch(chromium, width, height, false).await;
    page.navigate(&app.url(path)).await;
    page
}

/// Ends a page's test: no console errors, a screenshot `shot` kept, browser and app stopped.
async fn finish(page: Browser, app: TestApp, shot: &str) {
    let mut page = page;
    assert!(page.errors.is_empty(), "console errors: {:?}", page.errors);
    page.screenshot(shot).await;
    drop(page);
    app.stop().await;
}

/// The app with the simulator on.
async fn simulated_app() -> TestApp {
    crate::helpers::spawn_app(AppOptions {
        backend: Backend::Sqlite,
        simulator: true,
    })
    .await
}

/// The overview's complaints total as drawn (the `total` kpi's raw figure).
const OVERVIEW_TOTAL: &str = "Number((document.querySelector('[data-panel=\"total\"] .kpi-value') || {dataset: {}}).dataset.raw || 0)";

async fn the_wall_page_shows_live_values_survives_a_server_restart_and_fits_a_tablet() {
    let chromium = crate::harness::chromium();
    let mut demo = Demo::start().await;
    let url = demo.url("/");

    let mut wall = Browser::launch(&chromium, 1920, 1080, false).await;
    wall.navigate(&format!("{url}?screen=wall-test")).await;
    wall.wait_until(
        &format!("window.pantau && pantau.live && pantau.live.connection === 'open' && {OVERVIEW_TOTAL} > 0"),
        Duration::from_secs(20),
        "the page never showed a live total",
    )
    .await;
    let shown = wall
        .eval("document.querySelector('[data-panel=\"total\"] .kpi-value').textContent")
        .await;
    assert_ne!(shown, json!("—"), "the total tile is filled");
    assert_eq!(
        wall.eval("document.getElementById('conn').className").await,
        "conn conn-open"
    );
    assert_eq!(
        wall.eval("document.documentElement.lang").await,
        "id",
        "Bahasa Indonesia by default"
    );
    assert!(wall
        .eval("document.getElementById('clock').textContent")
        .await
        .as_str()
        .unwrap()
        .ends_with("WIB"));
    let before = wall.eval(OVERVIEW_TOTAL).await.as_f64().unwrap();
    wall.wait_until(
        &format!("{OVERVIEW_TOTAL} > {before}"),
        Duration::from_secs(20),
        "the total did not move after an ingest",
    )
    .await;
    assert_eq!(
        wall.eval("getComputedStyle(document.getElementById('footer')).display !== 'none' && document.getElementById('sources').textContent.length > 0").await,
        json!(true),
        "the simulated-data note and the source state are shown in the demo"
    );
    // The live map: every kelurahan drawn, coloured by the server's classes, with a legend.
    wall.wait_until(
        "(() => { const m = document.querySelector('[data-panel=\"map\"]'); const paths = m ? [...m.querySelectorAll('svg.map path')] : []; return paths.length === 34 && paths.some(p => p.getAttribute('fill') !== '#2a3038') && m.querySelectorAll('.legend li').length >= 2; })()",
        Duration::from_secs(20),
        "the map did not show 34 coloured kelurahan with a legend",
    )
    .await;
    assert!(wall.errors.is_empty(), "console errors: {:?}", wall.errors);
    wall.screenshot("wall-1920x1080-live.png").await;
    // The named wall reported itself to operators.
    let screens: Value = reqwest::get(format!("{url}api/screens"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(screens["screens"][0]["name"], "wall-test", "{screens}");
    assert_eq!(screens["screens"][0]["state"], "alive", "{screens}");

    // The server stops: the page says so instead of freezing silently.
    demo.stop().await;
    wall.wait_until(
        "document.getElementById('conn').className === 'conn conn-closed' && document.querySelector('[data-panel=\"total\"]').classList.contains('stale')",
        Duration::from_secs(20),
        "the disconnected and stale indicators did not appear",
    )
    .await;
    wall.screenshot("wall-1920x1080-disconnected.png").await;
    let total_when_down = wall.eval(OVERVIEW_TOTAL).await.as_f64().unwrap();

    // It comes back on the same data dir: the page reconnects by itself, no reload.
    wall.eval("window.__sameDocument = true").await;
    demo.restart().await;
    wall.wait_until(
        &format!("pantau.live.connection === 'open' && {OVERVIEW_TOTAL} > {total_when_down}"),
        Duration::from_secs(60),
        "the page did not recover after the restart",
    )
    .await;
    assert_eq!(
        wall.eval("window.__sameDocument === true").await,
        json!(true),
        "the page was reloaded"
    );
    wall.screenshot("wall-1920x1080-recovered.png").await;
    drop(wall);

    // Leadership's phone-sized tablet view.
    let mut tablet = Browser::launch(&chromium, 390, 844, true).await;
    tablet.navigate(&url).await;
    tablet
        .wait_until(
            &format!("window.pantau && pantau.live && {OVERVIEW_TOTAL} > 0"),
            Duration::from_secs(20),
            "the tablet view never showed a live total",
        )
        .await;
    let overflow = tablet
        .eval("document.documentElement.scrollWidth <= window.innerWidth")
        .await;
    assert_eq!(overflow, json!(true), "the page scrolls sideways at 390 px");
    let cut = tablet
        .eval(
            "[...document.querySelectorAll('header *, main *')]             .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)             .map(e => e.id || e.className || e.tagName)",
        )
        .await;
    assert_eq!(
        cut,
        json!([]),
        "elements cut off at the right edge at 390 px"
    );
    assert!(
        tablet.errors.is_empty(),
        "console errors: {:?}",
        tablet.errors
    );
    tablet.screenshot("tablet-390x844.png").await;

    demo.stop().await;
}

async fn a_screen_without_a_valid_token_says_so_and_with_its_token_goes_live() {
    let chromium = crate::harness::chromium();
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "admin admin-token-for-the-browser-test\n").unwrap();
    let app = crate::helpers::spawn_app_with(
        AppOptions {
            backend: Backend::Sqlite,
            simulator: false,
        },
        |s| {
            s.access.anonymous = "none".into();
            s.access.tokens_file = Some(tokens.clone());
        },
    )
    .await;
    let mut page = open(&chromium, &app, (1280, 720), "/").await;
    page.wait_until(
        "document.getElementById('conn-text').textContent.includes('token')",
        Duration::from_secs(30),
        "the page never explained that it was refused",
    )
    .await;
    page.screenshot("wall-refused.png").await;
    drop(page);

    // The same server, the screen's own token in the URL: the page loads its dashboard and
    // follows it live (the token goes with every API call and the WebSocket).
    let admin = "admin-token-for-the-browser-test";
    let body = json!({"name": "lobby", "role": "wall", "screen": "lobby", "dashboards": ["kota-pasuruan-wall"]});
    let made: Value = app
        .post_as("/api/tokens", admin, &body)
        .await
        .json()
        .await
        .unwrap();
    let secret = made["secret"].as_str().expect("a token was made");
    let path = format!("/wall/kota-pasuruan-wall?screen=lobby&token={secret}");
    let mut page = open(&chromium, &app, (1280, 720), &path).await;
    page.wait_until(
        "window.pantau && pantau.live && pantau.live.connection === 'open' && document.getElementById('message').hidden",
        Duration::from_secs(30),
        "the wall never connected with its token",
    )
    .await;
    let screens: Value = app
        .get_as("/api/screens", admin)
        .await
        .json()
        .await
        .unwrap();
    assert!(screens.to_string().contains("\"lobby\""), "{screens}");
    finish(page, app, "wall-with-token.png").await;
}

async fn a_person_is_sent_to_log_in_chooses_a_password_and_comes_back_to_the_tablet() {
    let chromium = crate::harness::chromium();
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    let admin = "admin-token-for-the-login-test";
    std::fs::write(&tokens, format!("admin {admin}\n")).unwrap();
    let app = crate::helpers::spawn_app_with(
        AppOptions {
            backend: Backend::Sqlite,
            simulator: true,
        },
        |s| {
            s.access.anonymous = "none".into();
            s.access.tokens_file = Some(tokens.clone());
        },
    )
    .await;
    let made: Value = app
        .post_as(
            "/api/users",
            admin,
            &json!({"name": "kepala.bappeda", "role": "pimpinan", "display_name": "Kepala Bappeda"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let otp = made["one_time_password"]
        .as_str()
        .expect("an account was made");
    // The tablet without a token or session sends the person to the login page, and back.
    let mut page = open(&chromium, &app, (1024, 768), "/kpi/").await;
    page.wait_until(
        "location.pathname === '/login/' && !document.getElementById('login-card').hidden",
        Duration::from_secs(30),
        "the tablet never sent the person to log in",
    )
    .await;
    assert_eq!(
        page.eval("new URLSearchParams(location.search).get('next')")
            .await,
        json!("/kpi/")
    );
    let submit = |form: &str, fields: &[(&str, &str)]| {
        let mut script = String::new();
        for (id, value) in fields {
            script.push_str(&format!(
                "document.getElementById({}).value = {};",
                json!(id),
                json!(value)
            ));
        }
        script.push_str(&format!(
            "document.getElementById({}).requestSubmit(); true",
            json!(form)
        ));
        script
    };
    // A wrong password is said in Bahasa Indonesia, and nothing else happens.
    page.eval(&submit(
        "login-form",
        &[
            ("name", "kepala.bappeda"),
            ("password", "salah-salah-salah"),
        ],
    ))
    .await;
    page.wait_until(
        "document.getElementById('message').textContent === 'Nama pengguna atau kata sandi salah.'",
        Duration::from_secs(15),
        "a failed login was not explained",
    )
    .await;
    page.eval(&submit(
        "login-form",
        &[("name", "kepala.bappeda"), ("password", otp)],
    ))
    .await;
    page.wait_until(
        "!document.getElementById('change-card').hidden",
        Duration::from_secs(15),
        "the one-time password did not lead to choosing one",
    )
    .await;
    let chosen = "Gunung Bromo 2329 mdpl";
    page.eval(&submit(
        "change-form",
        &[("current", otp), ("new", chosen), ("repeat", chosen)],
    ))
    .await;
    page.wait_until(
        PANELS_FILLED,
        Duration::from_secs(30),
        "after choosing a password the tablet never drew its cards",
    )
    .await;
    assert_eq!(page.eval("location.pathname").await, json!("/kpi/"));
    // The session cookie is out of the page's reach; its CSRF token is not.
    let cookies = page.eval("document.cookie").await;
    let cookies = cookies.as_str().unwrap();
    assert!(
        cookies.contains("pantau_csrf=") && !cookies.contains("pantau_session"),
        "{cookies}"
    );
    // Logging out on the login page ends the session: the tablet asks again.
    page.navigate(&app.url("/login/")).await;
    page.wait_until(
        "!document.getElementById('who-card').hidden && document.getElementById('who').textContent.includes('Kepala Bappeda')",
        Duration::from_secs(15),
        "the login page did not say who is logged in",
    )
    .await;
    page.eval("document.getElementById('logout').click(); true")
        .await;
    page.wait_until(
        "!document.getElementById('login-card').hidden",
        Duration::from_secs(15),
        "logging out did not end the session",
    )
    .await;
    page.navigate(&app.url("/kpi/")).await;
    page.wait_until(
        "location.pathname === '/login/'",
        Duration::from_secs(30),
        "after logging out the tablet did not ask for a login",
    )
    .await;
    drop(dir);
    // The refused calls the test made on purpose (no session, a wrong password) are in the
    // browser's log as failed loads; anything else is a fault.
    page.errors
        .retain(|e| !(e.contains("Failed to load resource") && e.contains("status of 401")));
    finish(page, app, "login-after-logout.png").await;
}

async fn the_analyst_page_previews_an_export_takes_a_snapshot_and_shows_it_by_its_url() {
    let chromium = crate::harness::chromium();
    let app = simulated_app().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let datasets: Value = app.get("/api/datasets").await.json().await.unwrap();
        if datasets["datasets"][0]["rows"].as_u64() > Some(0) {
            break;
        }
        assert!(Instant::now() < deadline, "the simulator filed nothing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut page = open(&chromium, &app, (1440, 900), "/analyst/").await;
    page.wait_until(
        "window.pantauAnalyst && pantauAnalyst.ready === true",
        Duration::from_secs(30),
        "the analyst page never finished loading",
    )
    .await;
    assert_eq!(page.eval("document.documentElement.lang").await, "id");
    // A preview of the complaints the simulator filed: a table of typed, formatted rows.
    page.eval("document.getElementById('preview').click()")
        .await;
    page.wait_until(
        "document.querySelectorAll('#preview-out tbody tr').length > 0",
        Duration::from_secs(20),
        "the preview showed no rows",
    )
    .await;
    let times_in_wib = page
        .eval("[...document.querySelectorAll('#preview-out td')].some(td => td.textContent.endsWith('WIB'))")
        .await;
    assert_eq!(times_in_wib, json!(true), "times are shown in WIB");
    // A filter changes the download link to the matching export.
    page.eval("document.getElementById('add-filter').click(); const f = document.querySelector('.filter'); f.querySelector('.f-field').value = 'status'; f.querySelector('.f-value').value = 'received'; f.querySelector('.f-value').dispatchEvent(new Event('input'));").await;
    let href = page
        .eval("document.getElementById('download').getAttribute('href')")
        .await;
    assert!(
        href.as_str().unwrap().contains("filter.status=received"),
        "{href}"
    );
    // Snapshot of the wall dashboard, then its citable view.
    page.eval("document.getElementById('snap-description').value = 'Uji peramban'; [...document.querySelectorAll('#dashboards details')].find(d => d.querySelector('code').textContent === 'kota-pasuruan-wall').querySelector('button').click()").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while page
        .eval("document.querySelectorAll('#snapshots tbody tr').length > 0")
        .await
        != json!(true)
    {
        if Instant::now() > deadline {
            // What the page said about the snapshot (the message beside its button).
            let said = page
                .eval("document.getElementById('dashboards').innerText")
                .await;
            panic!("the snapshot was not listed; the page says {said}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let view = page
        .eval("document.querySelector('#snapshots tbody a').getAttribute('href')")
        .await;
    let view = view.as_str().unwrap().to_owned();
    assert!(view.starts_with("/analyst/?snapshot="), "{view}");
    page.navigate(&app.url(&view)).await;
    page.wait_until(
        "window.pantauAnalyst && pantauAnalyst.ready === true && document.querySelectorAll('#snap-body section').length > 5",
        Duration::from_secs(20),
        "the snapshot view did not show its panels",
    )
    .await;
    let description = page
        .eval("document.getElementById('snap-meta').textContent")
        .await;
    assert!(
        description.as_str().unwrap().contains("Uji peramban"),
        "{description}"
    );
    let links = page
        .eval("document.querySelectorAll('#snap-body a[href*=\"/export?format=xlsx&panel=\"]').length")
        .await;
    assert!(links.as_u64().unwrap() > 5, "every panel has its exports");
    finish(page, app, "analyst-snapshot-1440x900.png").await;
}

/// Both pages format money with the one shared formatter (`static/lib/format.js`): an OPD's pagu
/// on the wall's budget panel reads exactly as the analyst page shows it in a snapshot of that
/// panel.
async fn a_rupiah_value_reads_the_same_on_the_wall_and_the_analyst_page() {
    let chromium = crate::harness::chromium();
    let app = simulated_app().await;
    let mut wall = open(
        &chromium,
        &app,
        (1920, 1080),
        "/wall/kota-pasuruan-wall?part=2",
    )
    .await;
    // The wall's text of the first OPD's pagu, and that OPD.
    let pagu_on_wall = "(() => { const li = document.querySelector('[data-panel=\"serapan-opd\"] li[data-key]'); if (!li) return null; const m = /Pagu (Rp [0-9.,]+)/.exec(li.querySelector('.detail').textContent); return m ? [li.dataset.key, m[1]] : null; })()";
    wall.wait_until(
        &format!("{pagu_on_wall} !== null"),
        Duration::from_secs(30),
        "the budget panel never showed a pagu",
    )
    .await;
    let on_wall = wall.eval(pagu_on_wall).await;
    let (opd, shown) = (
        on_wall[0].as_str().unwrap().to_owned(),
        on_wall[1].as_str().unwrap().to_owned(),
    );
    let snapshot: Value = app
        .client
        .post(app.url("/api/snapshots"))
        .json(&json!({"dashboard": "kota-pasuruan-wall", "description": "Rupiah"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let view = snapshot["view"].as_str().unwrap().to_owned();
    let mut analyst = open(&chromium, &app, (1440, 900), &view).await;
    analyst
        .wait_until(
            "window.pantauAnalyst && pantauAnalyst.ready === true && document.querySelectorAll('#panel-serapan-opd tbody tr').length > 0",
            Duration::from_secs(20),
            "the snapshot view did not show the budget panel",
        )
        .await;
    let on_analyst = analyst
        .eval(&format!("(() => {{ const table = document.querySelector('#panel-serapan-opd table'); const names = [...table.querySelectorAll('th')].map(th => th.textContent); const row = [...table.querySelectorAll('tbody tr')].find(tr => [...tr.children].some(td => td.textContent === {opd:?})); return row ? row.children[names.indexOf('pagu')].textContent : null; }})()"))
        .await;
    assert_eq!(
        on_analyst.as_str(),
        Some(shown.as_str()),
        "{opd}: the wall shows {shown}, the analyst page {on_analyst}"
    );
    assert!(shown.starts_with("Rp "), "{shown}");
    drop(wall);
    finish(analyst, app, "analyst-rupiah-1440x900.png").await;
}

/// True once every panel of the page holds a drawn value (no "waiting" placeholder left).
const PANELS_FILLED: &str = "window.pantau && pantau.live && pantau.live.connection === 'open' && document.querySelectorAll('.panel').length > 0 && [...document.querySelectorAll('.panel .body')].every(b => b.childElementCount > 0 && !b.querySelector('.waiting'))";

/// The raw value of a kpi panel as drawn (`data-raw` of its figure), as a number.
fn kpi_raw(panel: &str) -> String {
    format!("Number(document.querySelector('[data-panel=\"{panel}\"] .kpi-value').dataset.raw)")
}

async fn the_dashboard_wall_and_the_tablet_follow_live_data_and_survive_a_server_restart() {
    let chromium = crate::harness::chromium();
    let mut demo = Demo::start().await;
    let base = demo.url("");

    // Screen 1 of the two-screen Kota Pasuruan wall, at 1920×1080, named for operators.
    let mut wall = Browser::launch(&chromium, 1920, 1080, false).await;
    wall.navigate(&format!(
        "{base}/wall/kota-pasuruan-wall?part=1&screen=wall-left"
    ))
    .await;
    wall.wait_until(
        PANELS_FILLED,
        Duration::from_secs(30),
        "the wall never drew every panel of screen 1",
    )
    .await;
    let panels = wall
        .eval("[...document.querySelectorAll('.panel')].map(p => p.dataset.panel)")
        .await;
    assert_eq!(
        panels,
        json!([
            "map",
            "open",
            "new-today",
            "sla",
            "per-hour",
            "per-opd",
            "per-kecamatan",
            "newest"
        ]),
        "screen 1 holds exactly the panels placed on it"
    );
    assert_eq!(wall.eval("document.documentElement.lang").await, "id");
    assert!(wall
        .eval("document.getElementById('clock').textContent")
        .await
        .as_str()
        .unwrap()
        .ends_with("WIB"));
    // Placed on the file's grid: the map spans 6 of 12 columns and 6 of 8 rows.
    let map_box = wall
        .eval("(() => { const r = document.querySelector('[data-panel=map]').getBoundingClientRect(); return [r.width / innerWidth, r.height / innerHeight]; })()")
        .await;
    let (w, h) = (map_box[0].as_f64().unwrap(), map_box[1].as_f64().unwrap());
    assert!(
        (0.45..0.52).contains(&w) && (0.6..0.75).contains(&h),
        "map box {map_box}"
    );
    // The map: every kelurahan drawn and coloured, a legend; region names, not codes, in lists.
    wall.wait_until(
        "document.querySelectorAll('[data-panel=map] path').length === 34 && [...document.querySelectorAll('[data-panel=map] path')].some(p => p.getAttribute('fill') !== '#2a3038') && document.querySelectorAll('[data-panel=map] .legend li').length >= 2",
        Duration::from_secs(20),
        "the map did not show 34 coloured kelurahan with a legend",
    )
    .await;
    let kecamatan = wall
        .eval("[...document.querySelectorAll('[data-panel=\"per-kecamatan\"] tbody td.label')].map(td => td.textContent)")
        .await;
    assert!(
        kecamatan
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == "Gadingrejo"),
        "kecamatan by name: {kecamatan}"
    );
    // Every panel says how old its data is; nothing is stale while the simulator runs.
    wall.wait_until(
        "[...document.querySelectorAll('.panel .age')].every(a => a.textContent.includes('lalu')) && document.querySelectorAll('.panel.stale').length === 0",
        Duration::from_secs(10),
        "a panel shows no data age or is stale while data flows",
    )
    .await;
    // How a panel's freshness is judged (static/lib/board.js), on hand-made states: the age runs
    // from the newer of the value's commit and the feeding source's last success; the
    // dashboard's own threshold, a failing source and a lost connection each make it stale.
    let judged = wall
        .eval_promise(
            "(async () => {
              const { freshness } = await import('/lib/board.js');
              const now = Date.parse('2026-11-27T10:00:00Z');
              const panel = { topic: 't', query: { dataset: 'complaints' } };
              const live = (connection, state) => ({ connection,
                sources: [{ id: 's', dataset: 'complaints', state }],
                topics: new Map([
                  ['t', { seq: 1, data: {}, committedAt: '2026-11-27T09:59:00Z' }],
                  ['sources/health', { seq: 1, data: { sources: { s: { id: 's', dataset: 'complaints', last_success: '2026-11-27T09:57:00Z' },
                    other: { id: 'other', dataset: 'budget_lines', last_success: '2026-11-27T09:59:50Z' } } } }]]) });
              const pick = (f) => [f.ageS, f.stale];
              return [
                pick(freshness(panel, { staleness: { s: 600 } }, live('open', 'fresh'), now)),
                pick(freshness(panel, { staleness: { s: 120 } }, live('open', 'fresh'), now)),
                pick(freshness(panel, { staleness: {} }, live('open', 'failing'), now)),
                pick(freshness(panel, { staleness: {} }, live('closed', 'fresh'), now)),
              ];
            })()",
        )
        .await;
    assert_eq!(
        judged,
        json!([[60, false], [60, true], [60, true], [60, true]]),
        "freshness"
    );
    // A value moves after an ingest.
    let before = wall.eval(&kpi_raw("new-today")).await.as_f64().unwrap();
    wall.wait_until(
        &format!("{} > {before}", kpi_raw("new-today")),
        Duration::from_secs(20),
        "the complaints-today tile did not move after an ingest",
    )
    .await;
    assert!(wall.errors.is_empty(), "console errors: {:?}", wall.errors);
    wall.screenshot("wall-dashboard-1920x1080-part1.png").await;

    // Screen 2 on a 4K display: the same grid, everything twice as large.
    let mut wall4k = Browser::launch(&chromium, 3840, 2160, false).await;
    wall4k
        .navigate(&format!(
            "{base}/wall/kota-pasuruan-wall?part=2&screen=wall-right"
        ))
        .await;
    wall4k
        .wait_until(
            PANELS_FILLED,
            Duration::from_secs(30),
            "the 4K wall never drew every panel of screen 2",
        )
        .await;
    assert_eq!(
        wall4k
            .eval("getComputedStyle(document.documentElement).fontSize")
            .await,
        "36px",
        "sizes follow the screen's height"
    );
    assert_eq!(
        wall4k
            .eval("document.getElementById('part').textContent")
            .await,
        "2/2"
    );
    assert_eq!(
        wall4k
            .eval("document.querySelectorAll('[data-panel=sources] .health li').length > 0 && document.querySelectorAll('[data-panel=\"serapan-opd\"] .progress li').length > 0")
            .await,
        json!(true),
        "source health and serapan per OPD drawn"
    );
    assert!(
        wall4k.errors.is_empty(),
        "console errors: {:?}",
        wall4k.errors
    );
    wall4k
        .screenshot("wall-dashboard-3840x2160-part2.png")
        .await;
    // English at the touch of the button: titles, words and the page's language.
    wall4k.eval("document.getElementById('lang').click()").await;
    wall4k
        .wait_until(
            "document.documentElement.lang === 'en' && document.querySelector('[data-panel=sources] h2').textContent === 'Source health' && document.querySelector('[data-panel=sources] .health .state').textContent === 'fresh' && localStorage.getItem('pantau.lang') === 'en'",
            Duration::from_secs(10),
            "the wall did not switch to English",
        )
        .await;
    assert!(
        wall4k.errors.is_empty(),
        "console errors: {:?}",
        wall4k.errors
    );
    drop(wall4k);

    // Operators see both named screens alive.
    let screens: Value = reqwest::get(format!("{base}/api/screens"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let left = screens["screens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "wall-left")
        .unwrap_or_else(|| panic!("wall-left not reported: {screens}"));
    assert_eq!(left["state"], "alive", "{screens}");
    assert_eq!(left["page"], "wall/kota-pasuruan-wall:1", "{screens}");

    // Leadership's tablet page on a phone-sized screen.
    let mut tablet = Browser::launch(&chromium, 390, 844, true).await;
    tablet.navigate(&format!("{base}/kpi")).await;
    tablet
        .wait_until(
            PANELS_FILLED,
            Duration::from_secs(30),
            "the tablet page never drew every card",
        )
        .await;
    assert_eq!(
        tablet.eval("pantau.dashboard.id").await,
        "leadership-kpi",
        "/kpi opens the tablet dashboard"
    );
    assert_eq!(
        tablet
            .eval("document.documentElement.scrollWidth <= innerWidth")
            .await,
        json!(true),
        "the page scrolls sideways at 390 px"
    );
    let cut = tablet
        .eval("[...document.querySelectorAll('.panel, .panel h2, .kpi-value, .bar *')].filter(e => e.getBoundingClientRect().right > innerWidth + 0.5).map(e => e.className || e.tagName)")
        .await;
    assert_eq!(cut, json!([]), "cut off at the right edge at 390 px");
    // The first view's transfer: page, scripts, styles, region names and the live snapshots.
    let transferred = tablet
        .eval("performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource')).reduce((n, e) => n + e.transferSize, 0) + pantau.live.bytes")
        .await
        .as_f64()
        .unwrap();
    eprintln!("tablet first view: {transferred} bytes transferred");
    assert!(
        transferred <= 200.0 * 1024.0,
        "first view transferred {transferred} bytes"
    );
    assert!(
        tablet.errors.is_empty(),
        "console errors: {:?}",
        tablet.errors
    );
    tablet.screenshot("kpi-390x844.png").await;

    // The server stops: the wall says so and marks every panel stale; the tablet keeps its
    // last values, with their age, under an offline line.
    let open_before = tablet.eval(&kpi_raw("open")).await;
    demo.stop().await;
    wall.wait_until(
        "document.getElementById('conn').className === 'conn conn-closed' && document.querySelectorAll('.panel.stale').length === document.querySelectorAll('.panel').length",
        Duration::from_secs(20),
        "the disconnected and stale indicators did not appear",
    )
    .await;
    wall.screenshot("wall-dashboard-disconnected.png").await;
    tablet
        .wait_until(
            "!document.getElementById('offline').hidden && document.querySelector('[data-panel=open] .age').textContent.length > 0",
            Duration::from_secs(20),
            "the tablet did not say it is offline",
        )
        .await;
    assert_eq!(
        tablet.eval(&kpi_raw("open")).await,
        open_before,
        "the last values stay"
    );
    tablet.screenshot("kpi-390x844-offline.png").await;
    let when_down = wall.eval(&kpi_raw("new-today")).await.as_f64().unwrap();

    // It comes back on the same data dir: both pages recover by themselves, no reload.
    wall.eval("window.__sameDocument = true").await;
    demo.restart().await;
    wall.wait_until(
        &format!("pantau.live.connection === 'open' && document.querySelectorAll('.panel.stale').length === 0 && {} > {when_down}", kpi_raw("new-today")),
        Duration::from_secs(60),
        "the wall did not recover after the restart",
    )
    .await;
    assert_eq!(
        wall.eval("window.__sameDocument === true").await,
        json!(true),
        "the wall was reloaded"
    );
    tablet
        .wait_until(
            "pantau.live.connection === 'open' && document.getElementById('offline').hidden",
            Duration::from_secs(60),
            "the tablet did not recover after the restart",
        )
        .await;
    // While the server was down the browser logged each refused reconnection attempt: expected,
    // and nothing else may be there.
    for page in [&mut wall, &mut tablet] {
        page.errors.retain(|e| {
            !(e.contains("WebSocket connection to") && e.contains("ERR_CONNECTION_REFUSED"))
        });
        assert!(page.errors.is_empty(), "console errors: {:?}", page.errors);
    }
    wall.screenshot("wall-dashboard-recovered.png").await;
    drop(tablet);

    // A playlist rotates between dashboards.
    wall.navigate(&format!(
        "{base}/wall?playlist=kota-pasuruan-wall:1,service-levels&every=5"
    ))
    .await;
    wall.wait_until(
        "window.pantau && pantau.boards && pantau.boards.length === 2 && pantau.current === 0",
        Duration::from_secs(20),
        "the playlist did not start",
    )
    .await;
    wall.wait_until(
        "pantau.current === 1 && !document.querySelector('[data-dashboard=\"service-levels\"]').hidden && document.querySelector('[data-dashboard=\"kota-pasuruan-wall\"]').hidden",
        Duration::from_secs(20),
        "the playlist did not move to its second dashboard",
    )
    .await;
    // An unknown dashboard is explained, not a blank screen.
    wall.navigate(&format!("{base}/wall/no-such-board")).await;
    wall.wait_until(
        "document.getElementById('message').textContent.includes('kota-pasuruan-wall')",
        Duration::from_secs(20),
        "an unknown dashboard was not explained with the known ones",
    )
    .await;
    demo.stop().await;
}

/// A stand-in for a city's tile server: any `/{z}/{x}/{y}.svg` is a plain square; the paths asked
/// for are recorded.
async fn tile_server() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<(u32, u32, u32)>>>) {
    use axum::extract::{Path as UrlPath, State};
    type Seen = std::sync::Arc<std::sync::Mutex<Vec<(u32, u32, u32)>>>;
    async fn tile(
        State(seen): State<Seen>,
        UrlPath((z, x, y)): UrlPath<(u32, u32, String)>,
    ) -> impl axum::response::IntoResponse {
        let y: u32 = y.trim_end_matches(".svg").parse().unwrap();
        seen.lock().unwrap().push((z, x, y));
        (
            [("content-type", "image/svg+xml")],
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256"><rect width="256" height="256" fill="#345"/></svg>"##,
        )
    }
    let seen = Seen::default();
    let app = axum::Router::new()
        .route("/{z}/{x}/{y}", axum::routing::get(tile))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, seen)
}

async fn maps_lay_the_regions_over_the_configured_tile_server() {
    let chromium = crate::harness::chromium();
    let (tile_port, seen) = tile_server().await;
    let app = crate::helpers::spawn_app_with(
        AppOptions {
            backend: Backend::Sqlite,
            simulator: true,
        },
        |s| {
            s.deployment.tile_url = Some(format!(
                "http://127.0.0.1:{tile_port}/{{z}}/{{x}}/{{y}}.svg"
            ));
            s.deployment.tile_attribution = Some("© Peta Uji".into());
        },
    )
    .await;
    let mut page = open(
        &chromium,
        &app,
        (1920, 1080),
        "/wall/kota-pasuruan-wall?part=1",
    )
    .await;
    page.wait_until(
        "document.querySelectorAll('[data-panel=map] path').length === 34 && document.querySelectorAll('[data-panel=map] svg image').length > 0 && document.querySelector('[data-panel=map] .legend .attribution') !== null",
        Duration::from_secs(30),
        "the map did not draw its tiles and attribution",
    )
    .await;
    assert_eq!(
        page.eval("document.querySelector('[data-panel=map] .legend .attribution').textContent")
            .await,
        "© Peta Uji"
    );
    let images = page
        .eval("document.querySelectorAll('[data-panel=map] svg image').length")
        .await
        .as_u64()
        .unwrap() as usize;
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().len() < images {
        assert!(
            Instant::now() < deadline,
            "the browser fetched too few tiles"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The tiles asked for are the Web Mercator tiles under Kota Pasuruan (around 112.90 E,
    // 7.645 S): the one holding its centre is among them, all at one zoom.
    let tiles = seen.lock().unwrap().clone();
    let z = tiles[0].0;
    assert!(tiles.iter().all(|t| t.0 == z), "{tiles:?}");
    let n = 2f64.powi(z as i32);
    let (lon, lat) = (112.905_f64, -7.645_f64);
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let phi = lat.to_radians();
    let y = ((1.0 - (std::f64::consts::FRAC_PI_4 + phi / 2.0).tan().ln() / std::f64::consts::PI)
        / 2.0
        * n)
        .floor() as u32;
    assert!(
        tiles.contains(&(z, x, y)),
        "tile {z}/{x}/{y} not among {tiles:?}"
    );
    assert!((12..=15).contains(&z), "a city-sized zoom, got {z}");
    finish(page, app, "wall-map-over-tiles.png").await;
}

async fn the_map_wall_draws_clusters_points_and_heat_from_live_rows() {
    let chromium = crate::harness::chromium();
    let app = simulated_app().await;
    let mut page = open(&chromium, &app, (1920, 1080), "/wall/kota-pasuruan-peta").await;
    let topic =
        |panel: &str| format!("pantau.live.topics.get('dashboards/kota-pasuruan-peta/{panel}')");
    // Every feature of every layer is drawn, one SVG shape per feature in the live value.
    let drawn = format!(
        "{PANELS_FILLED} && document.querySelectorAll('[data-panel] path').length === 4 * 34 \
         && {c}.data.total > 0 && document.querySelectorAll('[data-panel=open-clusters] .cluster').length === Object.keys({c}.data.clusters).length \
         && document.querySelectorAll('[data-panel=heat-today] rect.heat').length === Object.keys({h}.data.cells).length \
         && document.querySelectorAll('[data-panel=out-of-jurisdiction] circle.point').length === Object.keys({o}.data.points).length \
         && document.querySelectorAll('[data-panel=sla-risk] circle.point').length === Object.keys({s}.data.points).length",
        c = topic("open-clusters"),
        h = topic("heat-today"),
        o = topic("out-of-jurisdiction"),
        s = topic("sla-risk"),
    );
    page.wait_until(
        &drawn,
        Duration::from_secs(30),
        "the map wall did not draw its layers",
    )
    .await;
    // The cluster counts hold every open complaint in view (one value, read at once); the newest
    // point is ringed.
    let counts = page
        .eval(&format!(
            "(() => {{ const d = {}.data; return [d.total, Object.values(d.clusters).reduce((n, c) => n + c.count, 0)]; }})()",
            topic("open-clusters")
        ))
        .await;
    assert_eq!(counts[0], counts[1], "{counts}");
    page.wait_until(
        &format!("{}.data.total > 0 && document.querySelectorAll('[data-panel=sla-risk] circle.newest').length === 1", topic("sla-risk")),
        Duration::from_secs(30),
        "no complaint at SLA risk was drawn with the newest ringed",
    )
    .await;
    // The layers move with the data.
    let before = page
        .eval(&format!("{}.data.total", topic("heat-today")))
        .await;
    page.wait_until(
        &format!("{}.data.total > {before}", topic("heat-today")),
        Duration::from_secs(20),
        "the heat layer did not move after an ingest",
    )
    .await;
    finish(page, app, "wall-map-layers-1920x1080.png").await;
}

async fn the_map_explorer_asks_for_the_view_it_is_zoomed_to() {
    let chromium = crate::harness::chromium();
    let app = simulated_app().await;
    let mut page = open(
        &chromium,
        &app,
        (1280, 800),
        "/map?dashboard=kota-pasuruan-peta&panel=open-clusters",
    )
    .await;
    // The whole city first, from the topic.
    let shapes = "document.querySelectorAll('svg.map .cluster, svg.map circle.point').length";
    page.wait_until(
        &format!("window.pantau && pantau.drawn && pantau.live.topics.get(pantau.topic).data.total > 0 && {shapes} > 0"),
        Duration::from_secs(30),
        "the explorer did not draw the layer",
    )
    .await;
    let fit = page.eval("pantau.drawn.zoom").await.as_u64().unwrap();
    // Two turns of the wheel in the middle: two zoom levels closer, asked for and drawn.
    page.eval("(() => { const svg = document.querySelector('svg.map'); const r = svg.getBoundingClientRect(); for (let i = 0; i < 2; i++) svg.dispatchEvent(new WheelEvent('wheel', { deltaY: -100, clientX: r.left + r.width / 2, clientY: r.top + r.height / 2, bubbles: true, cancelable: true })); })()").await;
    page.wait_until(
        &format!("pantau.viewed && pantau.drawn.zoom === pantau.viewed.zoom && pantau.viewed.zoom === {}", fit + 2),
        Duration::from_secs(20),
        "the zoomed view was not asked for and drawn",
    )
    .await;
    let consistent = page
        .eval(&format!("(() => {{ const f = pantau.live.features.get(pantau.topic); const d = f.data; const n = Object.keys(d.clusters || d.points || {{}}).length; const [w, s, e, n2] = f.bbox; return {shapes} === n && e - w < 0.05 && n2 - s < 0.05 && JSON.stringify(f.bbox) === JSON.stringify(pantau.viewed.bbox); }})()"))
        .await;
    assert_eq!(
        consistent,
        json!(true),
        "one shape per feature of the zoomed view"
    );
    finish(page, app, "map-explorer-zoomed.png").await;
}
