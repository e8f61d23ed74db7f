//! Local accounts against the real server, on SQLite and PostgreSQL: an admin makes an account,
//! its owner logs in with the one-time password and must choose their own before anything
//! else, requests that change state need the session's CSRF token, failed logins lock the
//! account for a while (not for good), logging out and disabling end sessions, and all of it
//! is in the audit log. The command line makes and resets accounts beside a server.

use std::time::Duration;

use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, AppOptions, Backend, TestApp};

crate::tests! {
    per_backend an_account_logs_in_chooses_its_password_and_works_by_its_session,
    per_backend failed_logins_lock_an_account_for_a_while_and_logging_out_or_disabling_ends_sessions,
    sync accounts_made_on_the_command_line_log_in_on_a_server_beside_them,
}

const ADMIN: &str = "admin-token-for-the-accounts-test";

/// An app that admits no anonymous request, with one admin token, and a short lockout.
async fn closed_app(backend: Backend, data: Option<std::path::PathBuf>) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("admin {ADMIN}\n")).unwrap();
    let app = spawn_app_with(
        AppOptions {
            backend,
            simulator: true,
        },
        |s| {
            s.access.anonymous = "none".into();
            s.access.allow_anonymous_rows = false;
            s.access.tokens_file = Some(tokens.clone());
            s.access.login_failures_before_lockout = 3;
            s.access.lockout_secs = 2;
            s.access.lockout_max_secs = 4;
            if let Some(data) = data {
                s.data.dir = data;
            }
        },
    )
    .await;
    drop(dir);
    app
}

/// A browser's view of one session: its two cookies.
struct Session {
    secret: String,
    csrf: String,
}

impl Session {
    fn cookie(&self) -> String {
        format!("pantau_session={}; pantau_csrf={}", self.secret, self.csrf)
    }
}

async fn login(app: &TestApp, name: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/session"))
        .json(&json!({"name": name, "password": password}))
        .send()
        .await
        .unwrap()
}

/// The cookies a login set, checked for their attributes.
fn session_of(response: &reqwest::Response) -> Session {
    let cookies: Vec<&str> = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let value = |name: &str| {
        let cookie = cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} cookie in {cookies:?}"));
        assert!(cookie.contains("SameSite=Strict"), "{cookie}");
        assert!(cookie.contains("Path=/"), "{cookie}");
        (
            cookie[name.len() + 1..cookie.find(';').unwrap()].to_owned(),
            *cookie,
        )
    };
    let (secret, secret_cookie) = value("pantau_session");
    let (csrf, csrf_cookie) = value("pantau_csrf");
    assert!(secret_cookie.contains("HttpOnly"), "{secret_cookie}");
    assert!(
        !csrf_cookie.contains("HttpOnly"),
        "the page reads it: {csrf_cookie}"
    );
    assert!(
        secret.starts_with("pantau_s_") && secret.len() == 73,
        "{secret}"
    );
    Session { secret, csrf }
}

/// A request by `session`, with its CSRF token when `csrf` is given.
async fn by_session(
    app: &TestApp,
    method: &str,
    path: &str,
    session: &Session,
    csrf: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method.parse().unwrap(), app.url(path))
        .header(COOKIE, session.cookie());
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}

/// Makes an account through the API; returns its one-time password.
async fn add_user(app: &TestApp, body: Value) -> String {
    let response = app.post_as("/api/users", ADMIN, &body).await;
    assert_eq!(response.status(), 201, "{body}");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let made: Value = response.json().await.unwrap();
    assert_eq!(made["user"]["must_change_password"], true);
    made["one_time_password"].as_str().unwrap().to_owned()
}

/// The audit entries of `action`, newest first.
async fn audit(app: &TestApp, action: &str) -> Vec<Value> {
    let path = format!("/api/audit?action={action}&limit=1000");
    let body: Value = app.get_as(&path, ADMIN).await.json().await.unwrap();
    body["entries"].as_array().unwrap().clone()
}

const NEW_PASSWORD: &str = "Bromo tengger 2027!";

async fn an_account_logs_in_chooses_its_password_and_works_by_its_session(backend: Backend) {
    let app = closed_app(backend, None).await;
    let otp = add_user(
        &app,
        json!({"name": "camat.bugul", "role": "analyst", "display_name": "Camat Bugul Kidul"}),
    )
    .await;
    assert_eq!(otp.len(), 23, "{otp}");
    // Names stay taken; a screen's role is a token's, not a person's; bodies are checked.
    let again = app
        .post_as(
            "/api/users",
            ADMIN,
            &json!({"name": "camat.bugul", "role": "analyst"}),
        )
        .await;
    assert_eq!(error_code(again).await, (409, "name_taken".into()));
    let wall = app
        .post_as(
            "/api/users",
            ADMIN,
            &json!({"name": "lobby", "role": "wall"}),
        )
        .await;
    assert_eq!(error_code(wall).await, (400, "invalid_user".into()));
    let odd = app
        .post_as(
            "/api/users",
            ADMIN,
            &json!({"name": "Camat Bugul", "role": "analyst"}),
        )
        .await;
    assert_eq!(error_code(odd).await, (400, "invalid_user".into()));

    // A wrong password and an unknown name get the same answer.
    let wrong = login(&app, "camat.bugul", "not-the-password").await;
    let wrong: Value = wrong.json().await.unwrap();
    let unknown: Value = login(&app, "nobody", "not-the-password")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(wrong["error"]["code"], "login_failed");
    assert_eq!(wrong, unknown);
    let garbled = app
        .client
        .post(app.url("/api/session"))
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(garbled).await, (400, "invalid_login".into()));

    // The one-time password opens a session that may do nothing but change it.
    let first = login(&app, "camat.bugul", &otp).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["cache-control"], "no-store");
    let session = session_of(&first);
    assert!(first
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .all(|c| !c.to_str().unwrap().contains("Secure")));
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["must_change_password"], true);
    assert_eq!(body["csrf_token"], session.csrf.as_str());
    assert_eq!(body["user"]["display_name"], "Camat Bugul Kidul");
    assert!(body["user"].get("password_hash").is_none());
    let blocked = by_session(&app, "GET", "/api/dashboards", &session, None, None).await;
    assert_eq!(
        error_code(blocked).await,
        (403, "password_change_required".into())
    );
    let me: Value = by_session(&app, "GET", "/api/session", &session, None, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            &me["name"],
            &me["role"],
            &me["via"],
            &me["must_change_password"]
        ),
        (
            &json!("camat.bugul"),
            &json!("analyst"),
            &json!("session"),
            &json!(true)
        )
    );

    // Choosing the password: the CSRF token is required, the current password is asked again,
    // and the rules are said.
    let change = |current: &str, new: &str| json!({"current": current, "new": new});
    let no_csrf = by_session(
        &app,
        "POST",
        "/api/session/password",
        &session,
        None,
        Some(change(&otp, NEW_PASSWORD)),
    )
    .await;
    assert_eq!(error_code(no_csrf).await, (403, "csrf_failed".into()));
    let forged = by_session(
        &app,
        "POST",
        "/api/session/password",
        &session,
        Some("0123abcd"),
        Some(change(&otp, NEW_PASSWORD)),
    )
    .await;
    assert_eq!(error_code(forged).await, (403, "csrf_failed".into()));
    let wrong_current = by_session(
        &app,
        "POST",
        "/api/session/password",
        &session,
        Some(&session.csrf),
        Some(change("not-it-at-all", NEW_PASSWORD)),
    )
    .await;
    assert_eq!(
        error_code(wrong_current).await,
        (403, "wrong_password".into())
    );
    for weak in ["short1", "camat.bugul-2027-x", "abababababababab"] {
        let response = by_session(
            &app,
            "POST",
            "/api/session/password",
            &session,
            Some(&session.csrf),
            Some(change(&otp, weak)),
        )
        .await;
        assert_eq!(
            error_code(response).await,
            (400, "invalid_user".into()),
            "{weak}"
        );
    }
    let changed = by_session(
        &app,
        "POST",
        "/api/session/password",
        &session,
        Some(&session.csrf),
        Some(change(&otp, NEW_PASSWORD)),
    )
    .await;
    assert_eq!(changed.status(), 204);

    // Now the session has the analyst's rights, and no more.
    crate::helpers::eventually("complaints arrive", Duration::from_secs(30), || async {
        let list: Value = by_session(&app, "GET", "/api/datasets", &session, None, None)
            .await
            .json()
            .await
            .unwrap();
        let rows = list["datasets"][0]["rows"].as_u64();
        (rows > Some(5))
            .then_some(())
            .ok_or(format!("{rows:?} rows"))
    })
    .await;
    let export = by_session(
        &app,
        "GET",
        "/api/datasets/complaints/export?format=csv&limit=5",
        &session,
        None,
        None,
    )
    .await;
    assert_eq!(export.status(), 200);
    assert_eq!(export.text().await.unwrap().lines().count(), 6);
    let audit_log = by_session(&app, "GET", "/api/audit", &session, None, None).await;
    assert_eq!(error_code(audit_log).await, (403, "forbidden".into()));
    // A state-changing request rides on the cookie only with the CSRF token.
    let snapshot = json!({"dataset": "complaints", "description": "by session"});
    let forged = by_session(
        &app,
        "POST",
        "/api/snapshots",
        &session,
        None,
        Some(snapshot.clone()),
    )
    .await;
    assert_eq!(error_code(forged).await, (403, "csrf_failed".into()));
    let taken = by_session(
        &app,
        "POST",
        "/api/snapshots",
        &session,
        Some(&session.csrf),
        Some(snapshot),
    )
    .await;
    assert_eq!(taken.status(), 201, "{}", taken.text().await.unwrap());
    // The WebSocket takes the cookie too (from the server's own origin).
    let own = format!("http://{}", app.addr);
    let cookie = session.cookie();
    let mut ws = app
        .try_ws("", &[("cookie", &cookie), ("origin", &own)])
        .await
        .expect("the session's cookie opens the WebSocket");
    assert_eq!(ws.read_greeting().await["type"], "hello");

    // The one-time password is spent; the chosen one works; HTTPS behind a proxy makes the
    // cookies Secure.
    let spent = login(&app, "camat.bugul", &otp).await;
    assert_eq!(error_code(spent).await, (401, "login_failed".into()));
    let over_https = app
        .client
        .post(app.url("/api/session"))
        .header("x-forwarded-proto", "https")
        .json(&json!({"name": "camat.bugul", "password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(over_https.status(), 200);
    assert!(over_https
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .all(|c| c.to_str().unwrap().contains("; Secure")));
    let second: Value = over_https.json().await.unwrap();
    assert_eq!(second["must_change_password"], false);

    // The list shows accounts, never hashes; every step is in the audit log.
    let users = app.get_as("/api/users", ADMIN).await.text().await.unwrap();
    assert!(
        users.contains("camat.bugul") && !users.contains("argon2"),
        "{users}"
    );
    let by_analyst = by_session(&app, "GET", "/api/users", &session, None, None).await;
    assert_eq!(error_code(by_analyst).await, (403, "forbidden".into()));
    assert_eq!(audit(&app, "user.create").await.len(), 1);
    assert_eq!(audit(&app, "login.ok").await.len(), 2);
    let failed = audit(&app, "login.failed").await;
    let reasons: Vec<String> = failed
        .iter()
        .map(|e| {
            serde_json::from_str::<Value>(e["detail"].as_str().unwrap()).unwrap()["reason"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        reasons,
        ["wrong_password", "unknown_name", "wrong_password"],
        "{failed:?}"
    );
    let changes = audit(&app, "user.change_password").await;
    assert_eq!(
        changes
            .iter()
            .map(|e| e["outcome"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["ok", "denied"]
    );
    assert!(changes
        .iter()
        .all(|e| e["actor"] == "camat.bugul" && e["actor_kind"] == "session"));
    let everything = app
        .get_as("/api/audit?limit=1000", ADMIN)
        .await
        .text()
        .await
        .unwrap();
    for secret in [otp.as_str(), NEW_PASSWORD, &session.secret, &session.csrf] {
        assert!(!everything.contains(secret), "the audit log holds a secret");
    }
    app.stop().await;
}

async fn failed_logins_lock_an_account_for_a_while_and_logging_out_or_disabling_ends_sessions(
    backend: Backend,
) {
    let app = closed_app(backend, None).await;
    let otp = add_user(&app, json!({"name": "bappeda", "role": "pimpinan"})).await;
    // Three failures in a row (the threshold here) lock the account for 2 s: even the right
    // password waits, and the answer says for how long.
    for _ in 0..3 {
        let response = login(&app, "bappeda", "guess-guess-guess").await;
        assert_eq!(error_code(response).await, (401, "login_failed".into()));
    }
    let locked = login(&app, "bappeda", &otp).await;
    assert_eq!(locked.status(), 429);
    let wait: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    assert_eq!(error_code(locked).await.1, "account_locked");
    let listed: Value = app.get_as("/api/users", ADMIN).await.json().await.unwrap();
    assert_eq!(listed["users"][0]["failed_logins"], 3);
    assert!(listed["users"][0]["locked_until"].is_string());
    // A delay, not a ban: after it the right password works and the count starts again.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let opened = login(&app, "bappeda", &otp).await;
    assert_eq!(opened.status(), 200);
    let first = session_of(&opened);
    // A fourth failure after a good login does not lock again (the count was reset).
    let response = login(&app, "bappeda", "guess-guess-guess").await;
    assert_eq!(error_code(response).await, (401, "login_failed".into()));
    let locked_audit = audit(&app, "login.failed").await;
    assert!(locked_audit.iter().any(|e| e["detail"]
        .as_str()
        .unwrap()
        .contains("wrong_password_locked")));
    assert!(locked_audit
        .iter()
        .any(|e| e["detail"].as_str().unwrap().contains("\"locked\"")));

    // Logging out needs the CSRF token, ends the session and removes the cookies.
    let changed = by_session(
        &app,
        "POST",
        "/api/session/password",
        &first,
        Some(&first.csrf),
        Some(json!({"current": otp, "new": NEW_PASSWORD})),
    )
    .await;
    assert_eq!(changed.status(), 204);
    let second = session_of(&login(&app, "bappeda", NEW_PASSWORD).await);
    let forged = by_session(&app, "DELETE", "/api/session", &first, None, None).await;
    assert_eq!(error_code(forged).await, (403, "csrf_failed".into()));
    let out = by_session(
        &app,
        "DELETE",
        "/api/session",
        &first,
        Some(&first.csrf),
        None,
    )
    .await;
    assert_eq!(out.status(), 204);
    assert!(out
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .all(|c| c.to_str().unwrap().contains("Max-Age=0")));
    let ended = by_session(&app, "GET", "/api/dashboards", &first, None, None).await;
    assert_eq!(error_code(ended).await, (401, "session_expired".into()));
    assert_eq!(
        by_session(&app, "GET", "/api/dashboards", &second, None, None)
            .await
            .status(),
        200,
        "the other session stays"
    );
    // A token is not a session to log out.
    let by_token = app
        .client
        .delete(app.url("/api/session"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(by_token).await, (400, "not_a_session".into()));

    // Disabling ends every session at once; the name stays taken; a reset needs an account.
    let disabled = app
        .post_as("/api/users/bappeda/disable", ADMIN, &json!({}))
        .await;
    assert_eq!(disabled.status(), 204);
    let gone = by_session(&app, "GET", "/api/dashboards", &second, None, None).await;
    assert_eq!(error_code(gone).await, (401, "session_expired".into()));
    let refused = login(&app, "bappeda", NEW_PASSWORD).await;
    assert_eq!(error_code(refused).await, (401, "login_failed".into()));
    let reset = app
        .post_as("/api/users/bappeda/reset-password", ADMIN, &json!({}))
        .await;
    assert_eq!(error_code(reset).await, (404, "not_found".into()));
    let taken = app
        .post_as(
            "/api/users",
            ADMIN,
            &json!({"name": "bappeda", "role": "pimpinan"}),
        )
        .await;
    assert_eq!(error_code(taken).await, (409, "name_taken".into()));
    assert_eq!(audit(&app, "logout").await.len(), 1);
    assert_eq!(audit(&app, "user.disable").await.len(), 1);
    let denied = audit(&app, "login.failed").await;
    assert!(denied
        .iter()
        .any(|e| e["detail"].as_str().unwrap().contains("disabled")));
    app.stop().await;
}

fn accounts_made_on_the_command_line_log_in_on_a_server_beside_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cli = |args: &[&str]| {
        let output = crate::cli::pantau()
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).trim().to_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, otp, said) = cli(&[
        "user",
        "add",
        "admin",
        "--role",
        "admin",
        "--display-name",
        "Admin Diskominfo",
    ]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("one-time password"), "{said}");
    assert_eq!(otp.len(), 23, "{otp}");
    let (code, _, said) = cli(&["user", "add", "screen", "--role", "wall"]);
    assert_eq!(code, Some(1));
    assert!(said.contains("role wall is for screens"), "{said}");
    let (code, _, said) = cli(&["user", "add", "x", "--role", "root"]);
    assert_eq!(code, Some(2));
    assert!(said.contains("--role must be one of"), "{said}");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (code, reset_otp, said) = runtime.block_on(async {
        let app = closed_app(Backend::Sqlite, Some(data.clone())).await;
        let first = login(&app, "admin", &otp).await;
        assert_eq!(first.status(), 200);
        let session = session_of(&first);
        let changed = by_session(
            &app,
            "POST",
            "/api/session/password",
            &session,
            Some(&session.csrf),
            Some(json!({"current": otp, "new": NEW_PASSWORD})),
        )
        .await;
        assert_eq!(changed.status(), 204);
        // An admin by session manages accounts like an admin token.
        let made = by_session(
            &app,
            "POST",
            "/api/users",
            &session,
            Some(&session.csrf),
            Some(json!({"name": "operator", "role": "monitor"})),
        )
        .await;
        assert_eq!(made.status(), 201);
        // A reset from the command line while the server runs ends the session there.
        let reset = cli(&["user", "reset-password", "admin"]);
        let ended = by_session(&app, "GET", "/api/users", &session, None, None).await;
        assert_eq!(error_code(ended).await, (401, "session_expired".into()));
        let again = login(&app, "admin", &reset.1).await;
        assert_eq!(again.status(), 200);
        let body: Value = again.json().await.unwrap();
        assert_eq!(body["must_change_password"], true);
        app.stop().await;
        reset
    });
    assert_eq!(code, Some(0), "{said}");
    assert_eq!(reset_otp.len(), 23);
    let (code, listed, _) = cli(&["user", "list", "--json"]);
    assert_eq!(code, Some(0));
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "operator"]);
    assert_eq!(
        listed[0]["created_by"].as_str().unwrap().split(':').next(),
        Some("cli")
    );
    assert_eq!(listed[1]["created_by"], "admin");
    let (code, _, _) = cli(&["user", "disable", "operator"]);
    assert_eq!(code, Some(0));
    let (code, text, _) = cli(&["user", "list"]);
    assert_eq!(code, Some(0));
    assert!(
        text.lines()
            .any(|l| l.starts_with("operator\tmonitor") && l.contains("disabled")),
        "{text}"
    );
    let (code, _, said) = cli(&["user", "disable", "nobody"]);
    assert_eq!(code, Some(1));
    assert!(
        said.contains("no enabled account is named 'nobody'"),
        "{said}"
    );
}
