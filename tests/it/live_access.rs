//! Who may connect and how much a client may do: tokens, origins, per-address caps, message rate,
//! heartbeats, resume from history, and the live metrics.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::helpers::{apply_merge, eventually, spawn_app_with, AppOptions, Backend, TestApp};

crate::tests! {
    async tokens_decide_who_connects_and_which_topics_they_follow,
    async pages_from_other_sites_are_refused_unless_listed,
    async one_address_gets_a_bounded_number_of_connections,
    async a_flooding_client_is_rate_limited_then_closed,
    async a_reconnecting_client_gets_exactly_the_patches_it_missed,
    async named_screens_report_themselves_and_operators_see_which_are_alive,
}

const TOPIC: &str = "dashboards/overview/total";

fn quiet() -> AppOptions {
    AppOptions {
        backend: Backend::Sqlite,
        simulator: false,
    }
}

fn refusal(result: Result<crate::helpers::Ws, WsError>) -> u16 {
    match result {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, the connection was accepted"),
    }
}

async fn metric(app: &TestApp, line_start: &str) -> Option<f64> {
    metric_as(app, line_start, None).await
}

/// A metric read with `token` (servers that admit no anonymous request).
async fn metric_as(app: &TestApp, line_start: &str, token: Option<&str>) -> Option<f64> {
    let mut request = app.client.get(app.url("/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let text = response.text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn tokens_decide_who_connects_and_which_topics_they_follow() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(
        &tokens,
        "display wall-token-0123456789\nviewer narrow-token-0123456789 budget/\nmonitor monitor-token-0123456789\n",
    )
    .unwrap();
    let app = spawn_app_with(quiet(), |s| {
        s.access.anonymous = "none".into();
        s.access.tokens_file = Some(tokens.clone());
    })
    .await;

    assert_eq!(refusal(app.try_ws("", &[]).await), 401);
    assert_eq!(
        refusal(app.try_ws("?token=guess-guess-guess", &[]).await),
        401
    );
    let refused = app.client.get(app.url("/ws")).send().await.unwrap();
    // A plain GET (no upgrade) is asked for its token first, with the JSON error contract.
    assert_eq!(refused.status(), 401);

    let mut wall = app
        .try_ws("?token=wall-token-0123456789", &[])
        .await
        .unwrap();
    wall.read_greeting().await;
    wall.subscribe(TOPIC, None).await;
    assert_eq!(wall.next_json().await["type"], "snapshot");

    let mut narrow = app
        .try_ws("", &[("authorization", "Bearer narrow-token-0123456789")])
        .await
        .unwrap();
    narrow.read_greeting().await;
    narrow.subscribe(TOPIC, None).await;
    let denied = narrow.next_json().await;
    assert_eq!(denied["code"], "not_allowed", "{denied}");

    // The scheme of the Authorization header is read in any case (RFC 9110).
    let mut lower = app
        .try_ws("", &[("authorization", "bearer wall-token-0123456789")])
        .await
        .unwrap();
    lower.read_greeting().await;
    // Two tokens in the query are refused with the API's JSON error, not plain text.
    match app
        .try_ws("?token=wall-token-0123456789&token=other", &[])
        .await
    {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status().as_u16(), 400);
            let body: serde_json::Value =
                serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                    .expect("a JSON error body");
            assert_eq!(body["error"]["code"], "invalid_parameter", "{body}");
        }
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("two tokens were accepted"),
    }

    assert_eq!(
        metric_as(
            &app,
            "pantau_ws_refused_total{reason=\"token_required\"}",
            Some("monitor-token-0123456789")
        )
        .await,
        Some(2.0)
    );
    assert_eq!(
        metric_as(
            &app,
            "pantau_ws_refused_total{reason=\"token_invalid\"}",
            Some("monitor-token-0123456789")
        )
        .await,
        Some(1.0)
    );
    app.stop().await;
}

async fn pages_from_other_sites_are_refused_unless_listed() {
    let app = spawn_app_with(quiet(), |s| {
        s.live.allowed_origins = vec!["https://dashboard.pasuruankota.go.id".into()];
    })
    .await;
    let own = format!("http://{}", app.addr);
    assert!(app.try_ws("", &[("origin", &own)]).await.is_ok());
    assert!(app
        .try_ws("", &[("origin", "https://dashboard.pasuruankota.go.id")])
        .await
        .is_ok());
    assert_eq!(
        refusal(app.try_ws("", &[("origin", "https://evil.example")]).await),
        403
    );
    app.stop().await;
}

async fn one_address_gets_a_bounded_number_of_connections() {
    let app = spawn_app_with(quiet(), |s| s.live.max_connections_per_ip = 2).await;
    let first = app.ws_after_hello().await;
    let _second = app.ws_after_hello().await;
    assert_eq!(refusal(app.try_ws("", &[]).await), 429);
    drop(first);
    // The slot frees once the server sees the close.
    eventually(
        "the freed slot is given back",
        Duration::from_secs(1),
        || app.try_ws("", &[]),
    )
    .await;
    app.stop().await;
}

async fn a_flooding_client_is_rate_limited_then_closed() {
    let app = spawn_app_with(quiet(), |s| {
        s.live.messages_per_second = 5;
        s.live.max_errors = 3;
    })
    .await;
    let mut ws = app.ws_after_hello().await;
    for id in 0..40 {
        ws.send_json(json!({"type": "ping", "id": id})).await;
    }
    let mut pongs = 0;
    let mut limited = 0;
    loop {
        let message = ws.next_json().await;
        match message["type"].as_str() {
            Some("pong") => pongs += 1,
            Some("error") if message["code"] == "rate_limited" => limited += 1,
            Some("bye") => {
                assert_eq!(message["reason"], "too_many_errors");
                break;
            }
            other => panic!("unexpected {other:?}: {message}"),
        }
    }
    // The close frame follows the bye: policy violation (1008).
    loop {
        match ws.stream.next().await {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), 1008);
                break;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
    assert_eq!(
        metric(
            &app,
            "pantau_ws_closed_by_server_total{reason=\"too_many_errors\"}"
        )
        .await,
        Some(1.0)
    );
    assert!((5..=11).contains(&pongs), "burst allowance: {pongs} pongs");
    assert_eq!(limited, 4, "three errors tolerated, the fourth closes");
    // Other clients are unaffected.
    let mut other = app.ws_after_hello().await;
    other.send_json(json!({"type": "ping"})).await;
    assert_eq!(other.next_json().await["type"], "pong");
    app.stop().await;
}

// The heartbeat (a silent client closed with `heartbeat_timeout` and 1008) is tested with paused
// time in `src/live/session/tests.rs`; the close frame over a real socket is checked below.

async fn a_reconnecting_client_gets_exactly_the_patches_it_missed() {
    let app = spawn_app_with(
        AppOptions {
            backend: Backend::Sqlite,
            simulator: true,
        },
        |s| s.live.history = 1000,
    )
    .await;
    let mut ws = app.ws_after_hello().await;
    ws.subscribe(TOPIC, None).await;
    let snapshot = ws.next_of("snapshot").await;
    let mut value = snapshot["data"].clone();
    let seq = snapshot["seq"].as_u64().unwrap();
    drop(ws);

    // While away, the simulator moves on by several steps.
    eventually(
        "the simulator moves on",
        Duration::from_secs(10),
        || async {
            let mut look = app.ws_after_hello().await;
            look.subscribe(TOPIC, None).await;
            let now = look.next_of("snapshot").await["seq"].as_u64().unwrap();
            (now > seq + 3).then_some(()).ok_or(format!("seq {now}"))
        },
    )
    .await;
    let mut back = app.ws_after_hello().await;
    back.subscribe(TOPIC, Some(seq)).await;
    let mut expected = seq + 1;
    let mut current = seq;
    // Read what resume sent: consecutive patches from seq + 1, no snapshot, no gap, no repeat.
    let mut reference = app.ws_after_hello().await;
    reference.subscribe(TOPIC, None).await;
    let fresh = reference.next_of("snapshot").await;
    let target = fresh["seq"].as_u64().unwrap();
    assert!(
        target > seq + 2,
        "the simulator should have moved on (seq {seq} → {target})"
    );
    while current < target {
        let message = back.next_json().await;
        assert_eq!(
            message["type"], "patch",
            "resume must send patches: {message}"
        );
        assert_eq!(message["seq"].as_u64().unwrap(), expected);
        apply_merge(&mut value, &message["merge"]);
        current = expected;
        expected += 1;
    }
    assert_eq!(value, fresh["data"]);
    app.stop().await;
}

async fn screen_list(app: &TestApp) -> Vec<serde_json::Value> {
    let body: serde_json::Value = app.get("/api/screens").await.json().await.unwrap();
    body["screens"].as_array().unwrap().clone()
}

async fn named_screens_report_themselves_and_operators_see_which_are_alive() {
    let app = spawn_app_with(quiet(), |_| {}).await;
    let mut lobby = app.ws_after_hello().await;
    lobby
        .send_json(json!({"type": "screen", "name": "lobby-1", "page": "overview", "data_age_s": 2.5, "stale": false}))
        .await;
    let mut ops = app.ws_after_hello().await;
    ops.send_json(
        json!({"type": "screen", "name": "ops-2", "page": "overview", "data_age_s": 900.0}),
    )
    .await;
    ops.send_json(json!({"type": "screen", "name": "bad name!"}))
        .await;
    assert_eq!(ops.next_json().await["code"], "invalid_message");

    let screens = screen_list(&app).await;
    let state_of = |screens: &[serde_json::Value], name: &str| {
        screens
            .iter()
            .find(|s| s["name"] == name)
            .map(|s| s["state"].clone())
    };
    assert_eq!(state_of(&screens, "lobby-1"), Some(json!("alive")));
    assert_eq!(
        state_of(&screens, "ops-2"),
        Some(json!("stale")),
        "old data on screen"
    );
    assert_eq!(screens[0]["address"], "127.0.0.1");

    // Another connection cannot report under a name an open connection holds (it would mark a
    // real screen stale), and a connection cannot rename itself (it would fill the list).
    let mut spoof = app.ws_after_hello().await;
    spoof
        .send_json(json!({"type": "screen", "name": "lobby-1", "page": "overview", "data_age_s": 999.0, "stale": true}))
        .await;
    let refused = spoof.next_json().await;
    assert_eq!(refused["code"], "invalid_message", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("held by another open connection"),
        "{refused}"
    );
    ops.send_json(json!({"type": "screen", "name": "ops-3", "page": "overview"}))
        .await;
    let renamed = ops.next_json().await;
    assert!(
        renamed["message"]
            .as_str()
            .unwrap()
            .contains("reports as screen 'ops-2'"),
        "{renamed}"
    );
    let screens = screen_list(&app).await;
    assert_eq!(state_of(&screens, "lobby-1"), Some(json!("alive")));
    assert_eq!(state_of(&screens, "ops-3"), None);
    assert_eq!(screens.len(), 2, "{screens:?}");

    // The lobby screen goes away: operators see it gone.
    drop(lobby);
    eventually(
        "the disconnected screen shows as gone",
        Duration::from_secs(2),
        || async {
            let state = state_of(&screen_list(&app).await, "lobby-1");
            (state == Some(json!("gone")))
                .then_some(())
                .ok_or(format!("{state:?}"))
        },
    )
    .await;
    // Once its holder has gone, the name is free for the screen's reconnect.
    spoof
        .send_json(
            json!({"type": "screen", "name": "lobby-1", "page": "overview", "data_age_s": 1.0}),
        )
        .await;
    eventually(
        "the reconnected screen is alive",
        Duration::from_secs(2),
        || async {
            let state = state_of(&screen_list(&app).await, "lobby-1");
            (state == Some(json!("alive")))
                .then_some(())
                .ok_or(format!("{state:?}"))
        },
    )
    .await;
    app.stop().await;
}
