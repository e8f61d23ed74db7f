//! Startup: the only place that builds concrete parts and wires them together.
//!
//! `Application::build` prepares the data dir, database, store, hub, engine and sources and binds the
//! listener; `run_until_stopped` serves until a shutdown signal, then drains within a bounded time.
//! Nothing imports this module except the command line.

pub mod admin;
pub mod offline;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::access::Access;
use crate::config::Settings;
use crate::dashboards::Catalog as DashboardCatalog;
use crate::db::MetaDb;
use crate::domain::SourceHealth;
use crate::engine::board::Board;
use crate::engine::layers::LayerViews;
use crate::engine::panel::PanelContext;
use crate::engine::{self, TopicSink};
use crate::export::regions::Regions;
use crate::export::snapshot::Snapshots;
use crate::export::{Current, CurrentValues, ExportInputs, Exports};
use crate::geo::{Boundaries, Catalog};
use crate::http::{self, AppState, GeoService};
use crate::ingest::{self, Enricher, Sinks};
use crate::live::{
    AccessPolicy, Hub, Screens, SessionContext, SessionLimits, ViewError, ViewSource, Views,
};
use crate::store::Store;
use crate::telemetry::Metrics;

/// A built instance, listening but not yet serving.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    state: AppState,
    settings: Settings,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Application {
    /// Prepares everything and binds the listener. Any failure names what and where.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        prepare_data_dir(&settings.data.dir)?;
        let target = settings.database_target()?;
        let db = MetaDb::connect(&target, &settings.database).await?;
        tracing::info!(database = ?target, "Metadata database ready.");
        let sources = ingest::build_sources(
            &settings.all_sources(),
            &settings.config_dir(),
            settings.deployment.tz(),
            &db,
        )
        .map_err(|problems| anyhow::anyhow!("{}", problems.join("\n")))?;
        let enricher = Enricher::new(Some(Arc::new(enrichment_boundaries(&settings)?)));
        let store = Store::open(&settings.data.dir.join("store"), settings.store.options()).await?;
        let metrics = Metrics::new();
        let health = SourceHealth::default();
        let hub = Hub::new(settings.live.history);
        let access = AccessPolicy::from_settings(&settings.live);
        let rights = Arc::new(Access::open(&settings.access, db.clone()).await?);
        let static_dir = settings.server.resolved_static_dir();

        let listen = settings.server.listen;
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;

        let shutdown = CancellationToken::new();
        if !static_dir.join("index.html").is_file() {
            tracing::warn!(dir = %static_dir.display(), "No index.html in the static directory; pages will answer 404.");
        }
        let boundary_sets = Arc::new(Catalog::open(&static_dir.join("geo")));
        let tiles = settings
            .deployment
            .tile_url
            .clone()
            .map(|url| crate::http::Tiles {
                url,
                attribution: settings.deployment.tile_attribution.clone(),
            });
        let geo = Arc::new(GeoService::new(boundary_sets.clone(), tiles));
        let dashboards = DashboardCatalog::open(
            &settings.dashboards.resolved_dir(),
            dashboard_rules(&settings, &static_dir),
        );
        for e in dashboards.errors() {
            tracing::warn!(error = %e, "Dashboard file invalid; it is not served until fixed.");
        }
        let panel_context = Arc::new(PanelContext {
            geo: Some(boundary_sets.clone()),
        });
        let views = MapViews(LayerViews {
            store: store.clone(),
            catalog: dashboards.clone(),
        });
        let live = Arc::new(SessionContext {
            hub: hub.clone(),
            metrics: metrics.clone(),
            shutdown: shutdown.clone(),
            server_id: server_id(),
            deployment: settings.deployment.name.clone(),
            time_zone: settings.deployment.time_zone.clone(),
            limits: SessionLimits::from_settings(&settings.live),
            access,
            screens: Screens::default(),
            views: Some(Views::new(
                Arc::new(views),
                settings.live.max_concurrent_views,
                Duration::from_secs(settings.live.view_wait_secs),
            )),
        });
        let sink: Arc<dyn TopicSink> = Arc::new(hub.clone());
        let board = Board {
            catalog: dashboards.clone(),
            sink: sink.clone(),
            health: health.clone(),
            context: panel_context.clone(),
            clock: Duration::from_millis(settings.dashboards.clock_ms),
            coalesce: Duration::from_millis(settings.dashboards.coalesce_ms),
        };
        let snapshots = Snapshots::open(&settings.data.dir, db.clone()).with_context(|| {
            format!(
                "data dir {}: cannot prepare snapshots/",
                settings.data.dir.display()
            )
        })?;
        let current: CurrentValues = {
            let hub = hub.clone();
            Arc::new(move |topic: &str| {
                hub.get(topic).map(|t| Current {
                    seq: t.seq,
                    committed_at: t.committed_at,
                    data: t.data.clone(),
                })
            })
        };
        let exports = Arc::new(Exports::new(
            &settings.export,
            ExportInputs {
                snapshots,
                regions: Regions::new(boundary_sets),
                panels: panel_context,
                time_zone: settings.deployment.tz(),
                store: store.clone(),
                dashboards: dashboards.clone(),
                current,
                metrics: metrics.clone(),
            },
        ));
        let computed = board.publish_all(store.snapshot()).await;
        let state = AppState {
            dashboards: dashboards.clone(),
            db: db.clone(),
            store: store.clone(),
            metrics: metrics.clone(),
            health: health.clone(),
            geo,
            live,
            exports,
            access: rights.clone(),
        };
        let router = http::router(state.clone(), static_dir, &settings.server);

        let tasks = TaskTracker::new();
        tasks.spawn(store.clone().run_checkpoints(shutdown.clone()));
        tasks.spawn(prune_daily(
            rights.clone(),
            settings.access.audit_retention_days,
            shutdown.clone(),
        ));
        tasks.spawn(board.run(store.clone(), computed, shutdown.clone()));
        tasks.spawn(dashboards.watch(
            Duration::from_millis(settings.dashboards.reload_ms),
            shutdown.clone(),
        ));
        let sinks = Sinks {
            store,
            db,
            metrics,
            health: health.clone(),
            enricher,
        };
        for source in sources {
            tracing::info!(source = %source.id(), kind = source.kind(), dataset = source.dataset().name(), "Source starting.");
            tasks.spawn(ingest::worker(source, sinks.clone(), shutdown.clone()));
        }
        // Sources are registered above, so the first `source_status` already lists them all.
        engine::publish_source_health(&health, sink.as_ref());
        tasks.spawn(engine::run_source_status(
            health.clone(),
            sink,
            shutdown.clone(),
        ));
        Ok(Application {
            listener,
            router,
            state,
            settings,
            shutdown,
            tasks,
        })
    }

    /// The bound address (the real port when configured with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.settings.server.listen)
    }

    /// Cancelling this token stops the application as a signal would.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until `signal` completes or the shutdown token is cancelled, then stops accepting,
    /// says `bye` to live clients, lets in-flight requests and pulls finish, and closes the database,
    /// all within `server.shutdown_timeout_secs`.
    pub async fn run_until_stopped(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.local_addr();
        tracing::info!(url = %format!("http://{addr}/"), "Pantau is serving; open the URL in a browser.");
        match self.settings.access.anonymous_role() {
            Some(role) => tracing::info!(role = role.name(), "Requests without a token act as this role (access.anonymous)."),
            None => tracing::info!("Every request needs a token (access.anonymous = none); make one with `pantau token create`."),
        }
        let token = self.shutdown.clone();
        let stop = {
            let token = token.clone();
            async move {
                tokio::select! {
                    _ = signal => {}
                    _ = token.cancelled() => {}
                }
                tracing::info!("Shutting down.");
                token.cancel();
            }
        };
        let rule = self.settings.server.host_rule();
        if rule.names_only_loopback() && !addr.ip().is_loopback() {
            tracing::info!("Requests naming this server by a host name are refused until server.allowed_hosts lists the name; IP addresses and localhost are always answered.");
        }
        let server = http::Server::new(
            self.listener,
            self.router,
            self.settings.server.connection_limits(),
            self.state.metrics.clone(),
        )
        .run(stop);
        let mut server = std::pin::pin!(server);
        let budget = self.settings.server.shutdown_timeout();
        tokio::select! {
            () = &mut server => {}
            _ = token.cancelled() => {
                // Drain: HTTP requests in flight, then workers (a pull in progress is made durable).
                if tokio::time::timeout(budget, &mut server).await.is_err() {
                    tracing::warn!(seconds = budget.as_secs(), "Open connections did not finish in time; dropping them.");
                }
            }
        }
        self.tasks.close();
        if tokio::time::timeout(budget, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("Background tasks did not stop in time.");
        }
        self.state.db.close().await;
        tracing::info!("Stopped.");
        Ok(())
    }
}

/// Removes audit entries past their retention, and sessions ended or expired over a day ago,
/// now and once a day.
async fn prune_daily(rights: Arc<Access>, days: u32, shutdown: CancellationToken) {
    loop {
        match rights.audit().prune(days).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, days, "Audit entries past retention removed."),
            Err(e) => tracing::warn!(error = %e, "Cannot prune the audit log."),
        }
        if let Err(e) = rights.accounts().prune().await {
            tracing::warn!(error = %e, "Cannot remove ended sessions.");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(24 * 3600)) => {}
        }
    }
}

/// Validates what `pantau check` can check without starting anything: the settings were already
/// validated on load; here the files they name.
pub fn check(settings: &Settings) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    if let Err(e) = settings.database_target() {
        problems.push(e.to_string());
    }
    if let Some(path) = &settings.access.tokens_file {
        if let Err(e) = crate::access::check_tokens_file(path) {
            problems.push(e.to_string());
        }
    }
    if settings.simulator.boundaries.is_some() {
        if let Err(e) = Boundaries::from_file_or_shipped(settings.simulator.boundaries.as_deref()) {
            problems.push(format!(
                "{}: simulator.boundaries: {e:#}",
                settings.origin_label()
            ));
        }
    }
    problems.extend(
        crate::dashboards::check_dir(
            &settings.dashboards.resolved_dir(),
            &dashboard_rules(settings, &settings.server.resolved_static_dir()),
        )
        .into_iter()
        .map(|e| e.to_string()),
    );
    let sources = ingest::check_sources(
        &settings.all_sources(),
        &settings.config_dir(),
        settings.deployment.tz(),
    );
    problems.extend(
        sources
            .into_iter()
            .map(|line| format!("{}: {line}", settings.origin_label())),
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// What dashboards are validated against: the deployment's zone and the served boundary sets.
pub fn dashboard_rules(settings: &Settings, static_dir: &Path) -> crate::dashboards::Rules {
    crate::dashboards::Rules {
        zone: settings.deployment.tz(),
        boundary_sets: Some(Catalog::open(&static_dir.join("geo")).names()),
    }
}

/// Creates the data dir and proves it writable, so a bad path fails at start with its name.
fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("data dir {}: cannot create", dir.display()))?;
    let probe = dir.join(".pantau-write-check");
    std::fs::write(&probe, b"ok")
        .with_context(|| format!("data dir {}: not writable", dir.display()))?;
    // The probe did its job; failing to remove it is harmless.
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// The set complaints are placed in by coordinates: `[ingest] boundaries`, else the simulator's,
/// else the shipped Kota Pasuruan kelurahan.
fn enrichment_boundaries(settings: &Settings) -> anyhow::Result<Boundaries> {
    let set = Boundaries::from_file_or_shipped(settings.enrichment_boundaries())?;
    for repair in set.repairs() {
        tracing::warn!(%repair, "Repaired an invalid boundary.");
    }
    Ok(set)
}

/// Answers the live room's `view` messages with the engine's map layers.
struct MapViews(LayerViews);

impl ViewSource for MapViews {
    fn features(&self, topic: &str, bbox: [f64; 4], zoom: u8) -> Result<Value, ViewError> {
        self.0
            .features(topic, bbox, zoom)
            .map_err(|refused| ViewError {
                code: refused.code,
                message: refused.message,
            })
    }
}

/// A short random id telling this process apart from its previous and next runs.
fn server_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}
