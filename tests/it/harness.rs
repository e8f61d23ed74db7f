//! The test harness of this binary (libtest-mimic, same flags and output as `cargo test`): each
//! module lists its tests with [`crate::tests!`], saying which outside service a test needs.
//! The services are looked for once at start. A test whose service is missing is reported as
//! *ignored*, with the service in its name, so `cargo test` says it did not run — except with
//! `CI=true`, where it runs and fails loudly.
//!
//! A test function not listed is dead code, which `cargo clippy -- -D warnings` refuses: no test
//! is silently left out.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use libtest_mimic::{Failed, Trial};

use crate::helpers::{in_ci, postgres_url, Backend};

/// An outside service a test needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The PostgreSQL of `PANTAU_TEST_DATABASE_URL`.
    Postgres,
    /// The MariaDB/MySQL of `PANTAU_TEST_MYSQL_URL`.
    MariaDb,
    /// Debian's Chromium (`PANTAU_CHROMIUM`, else /usr/bin/chromium).
    Chromium,
    /// Mounting a small tmpfs (root), to fill a disk for real.
    Tmpfs,
}

impl Need {
    fn name(self) -> &'static str {
        match self {
            Need::Postgres => "PostgreSQL",
            Need::MariaDb => "MariaDB",
            Need::Chromium => "Chromium",
            Need::Tmpfs => "a tmpfs mount (root)",
        }
    }
}

/// Which services answer on this machine.
pub struct Services {
    postgres: bool,
    mariadb: bool,
    chromium: bool,
    tmpfs: bool,
}

/// Mounts a tmpfs of `bytes` on `dir` (`mount -t tmpfs`, as root).
pub fn mount_tmpfs(dir: &std::path::Path, bytes: u64) -> bool {
    std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
        .arg(dir)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Unmounts what [`mount_tmpfs`] mounted.
pub fn unmount(dir: &std::path::Path) {
    let _ = std::process::Command::new("umount").arg(dir).output();
}

/// The MariaDB/MySQL of the machine; `PANTAU_TEST_MYSQL_URL` overrides.
pub fn mysql_url() -> String {
    std::env::var("PANTAU_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned())
}

/// Debian's Chromium, or the one `PANTAU_CHROMIUM` names.
pub fn chromium() -> PathBuf {
    PathBuf::from(std::env::var("PANTAU_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()))
}

impl Services {
    /// Looks for each service (a connection within 5 s, a file).
    pub fn probe() -> Services {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            use sqlx::Connection;
            let within = Duration::from_secs(5);
            let (postgres_url, mysql_url) = (postgres_url(), mysql_url());
            let (postgres, mariadb) = tokio::join!(
                tokio::time::timeout(within, sqlx::PgConnection::connect(&postgres_url)),
                tokio::time::timeout(within, sqlx::MySqlConnection::connect(&mysql_url)),
            );
            let (postgres, mariadb) = (matches!(postgres, Ok(Ok(_))), matches!(mariadb, Ok(Ok(_))));
            let probe = tempfile::tempdir().unwrap();
            let tmpfs = mount_tmpfs(probe.path(), 64 * 1024);
            if tmpfs {
                unmount(probe.path());
            }
            Services {
                postgres,
                mariadb,
                chromium: chromium().is_file(),
                tmpfs,
            }
        })
    }

    fn has(&self, need: Need) -> bool {
        match need {
            Need::Postgres => self.postgres,
            Need::MariaDb => self.mariadb,
            Need::Chromium => self.chromium,
            Need::Tmpfs => self.tmpfs,
        }
    }
}

/// A trial named `module::name`; ignored when a service it needs is missing (outside CI), with
/// the services in its kind (`[needs PostgreSQL]`).
pub fn trial(
    module: &str,
    name: &str,
    needs: &[Need],
    services: &Services,
    run: impl FnOnce() + Send + 'static,
) -> Trial {
    let module = module.strip_prefix("it::").unwrap_or(module);
    let missing: Vec<&'static str> = needs
        .iter()
        .filter(|n| !services.has(**n))
        .map(|n| n.name())
        .collect();
    let required = missing.clone();
    // A panic is the test failing: the harness catches it and reports its message.
    let mut trial = Trial::test(format!("{module}::{name}"), move || {
        if !required.is_empty() {
            return Err(Failed::from(format!(
                "{} is not available on this machine (required with CI=true)",
                required.join(", ")
            )));
        }
        run();
        Ok(())
    });
    if !needs.is_empty() {
        let names: Vec<&str> = needs.iter().map(|n| n.name()).collect();
        trial = trial.with_kind(format!("needs {}", names.join(", ")));
        // Outside CI a missing service makes the test ignored: reported as not run.
        trial = trial.with_ignored_flag(!missing.is_empty() && !in_ci());
    }
    trial
}

/// Runs an async test body on its own runtime, as `#[tokio::test]` does.
pub fn block_on(body: impl Future<Output = ()>) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(body)
}

/// The backends a per-backend test runs on, and what each needs.
pub const BACKENDS: [(Backend, &str, &[Need]); 2] = [
    (Backend::Sqlite, "sqlite", &[]),
    (Backend::Postgres, "postgres", &[Need::Postgres]),
];

/// Lists a module's tests: `sync name`, `async name`, `needs(Need, …) async name`,
/// `per_backend name` (an async test taking a `Backend`, run once on SQLite and once on
/// PostgreSQL) and `ignored sync|async name` (run only on purpose, e.g. as a child process).
#[macro_export]
macro_rules! tests {
    (@each $out:ident $services:ident) => {};
    (@each $out:ident $services:ident sync $name:ident, $($rest:tt)*) => {
        $out.push($crate::harness::trial(module_path!(), stringify!($name), &[], $services, $name));
        $crate::tests!(@each $out $services $($rest)*);
    };
    (@each $out:ident $services:ident async $name:ident, $($rest:tt)*) => {
        $out.push($crate::harness::trial(module_path!(), stringify!($name), &[], $services, || {
            $crate::harness::block_on($name())
        }));
        $crate::tests!(@each $out $services $($rest)*);
    };
    (@each $out:ident $services:ident needs($($need:ident),+) sync $name:ident, $($rest:tt)*) => {
        $out.push($crate::harness::trial(
            module_path!(),
            stringify!($name),
            &[$($crate::harness::Need::$need),+],
            $services,
            $name,
        ));
        $crate::tests!(@each $out $services $($rest)*);
    };
    (@each $out:ident $services:ident needs($($need:ident),+) async $name:ident, $($rest:tt)*) => {
        $out.push($crate::harness::trial(
            module_path!(),
            stringify!($name),
            &[$($crate::harness::Need::$need),+],
            $services,
            || $crate::harness::block_on($name()),
        ));
        $crate::tests!(@each $out $services $($rest)*);
    };
    (@each $out:ident $services:ident per_backend $name:ident, $($rest:tt)*) => {
        for (backend, label, needs) in $crate::harness::BACKENDS {
            $out.push($crate::harness::trial(
                module_path!(),
                &format!("{}[{label}]", stringify!($name)),
                needs,
                $services,
                move || $crate::harness::block_on($name(backend)),
            ));
        }
        $crate::tests!(@each $out $services $($rest)*);
    };
    (@each $out:ident $services:ident ignored sync $name:ident, $($rest:tt)*) => {
        $out.push(
            $crate::harness::trial(module_path!(), stringify!($name), &[], $services, $name)
                .with_ignored_flag(true),
        );
        $crate::tests!(@each $out $services $($rest)*);
    };
    (@each $out:ident $services:ident ignored async $name:ident, $($rest:tt)*) => {
        $out.push(
            $crate::harness::trial(module_path!(), stringify!($name), &[], $services, || {
                $crate::harness::block_on($name())
            })
            .with_ignored_flag(true),
        );
        $crate::tests!(@each $out $services $($rest)*);
    };
    ($($entry:tt)*) => {
        #[allow(clippy::vec_init_then_push)]
        pub fn trials(services: &$crate::harness::Services) -> Vec<libtest_mimic::Trial> {
            let mut out = Vec::new();
            $crate::tests!(@each out services $($entry)*);
            out
        }
    };
}
