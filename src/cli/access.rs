//! `pantau token …`, `pantau user …` and `pantau audit verify`: the access records from the
//! command line.

use std::process::ExitCode;

use crate::config::Settings;

#[derive(Debug, clap::Subcommand)]
pub(super) enum TokenCommand {
    /// Make a token and print its secret (once: only its hash is kept).
    Create(TokenCreateArgs),
    /// List the tokens (never their secrets).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by name, for good.
    Revoke {
        /// The token's name.
        name: String,
    },
}

#[derive(Debug, clap::Args)]
pub(super) struct TokenCreateArgs {
    /// Its name (a-z, 0-9, '.', '_', '-'), e.g. lobby-left or bappeda-analyst.
    name: String,
    /// admin, pimpinan, analyst, wall, monitor or public (see docs/security.md).
    #[arg(long)]
    role: String,
    /// The wall screen it belongs to (role wall).
    #[arg(long)]
    screen: Option<String>,
    /// A dashboard it may see (repeat; '*' for all). A wall token needs at least one.
    #[arg(long = "dashboard", value_name = "ID")]
    dashboards: Vec<String>,
    /// When it stops working: 90d, 12h, or a moment (2027-06-30T23:59 in the deployment's zone).
    #[arg(long, value_name = "WHEN")]
    expires: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub(super) enum UserCommand {
    /// Make a local account and print its one-time password (replaced at the first login).
    Add(UserAddArgs),
    /// List the accounts (never their password hashes).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Disable an account for good and end its sessions (its name stays taken).
    Disable {
        /// The account's name.
        name: String,
    },
    /// Give an account a new one-time password, end its sessions and lift a lockout.
    ResetPassword {
        /// The account's name.
        name: String,
    },
}

#[derive(Debug, clap::Args)]
pub(super) struct UserAddArgs {
    /// The login name (a-z, 0-9, '.', '_', '-'), e.g. admin or camat.bugul-kidul.
    name: String,
    /// admin, pimpinan, analyst, monitor or public (see docs/security.md; wall is for tokens).
    #[arg(long)]
    role: String,
    /// The name pages show, e.g. "Kepala Bappeda".
    #[arg(long, default_value = "")]
    display_name: String,
    /// A dashboard it may see (repeat; none or '*' for all).
    #[arg(long = "dashboard", value_name = "ID")]
    dashboards: Vec<String>,
}

#[derive(Debug, clap::Subcommand)]
pub(super) enum AuditCommand {
    /// Walk the chain; exit 1 and name the break when an entry was removed or changed.
    Verify,
}

/// Runs one future to its end on a fresh runtime; an error is one line and exit code 1.
fn block_on(job: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pantau: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(job) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pantau: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub(super) fn token(settings: &Settings, command: &TokenCommand) -> ExitCode {
    use crate::startup::admin;
    match command {
        TokenCommand::Create(args) => {
            let Some(role) = crate::access::Role::parse(&args.role) else {
                eprintln!(
                    "pantau token create: --role must be one of {}",
                    crate::access::Role::ALL.map(|r| r.name()).join(", ")
                );
                return ExitCode::from(2);
            };
            let expires_at = match args
                .expires
                .as_deref()
                .map(|e| admin::parse_expiry(e, settings))
            {
                Some(Err(e)) => {
                    eprintln!("pantau token create: {e}");
                    return ExitCode::from(2);
                }
                Some(Ok(at)) => Some(at),
                None => None,
            };
            let new = crate::access::NewToken {
                name: args.name.clone(),
                role,
                screen: args.screen.clone(),
                dashboards: args.dashboards.clone(),
                expires_at,
            };
            block_on(async {
                let (secret, info) = admin::create_token(settings, new).await?;
                eprintln!(
                    "Token '{}' ({}) made. Its secret, shown this once (Pantau keeps only its hash):",
                    info.name,
                    info.role.name()
                );
                println!("{secret}");
                Ok(())
            })
        }
        TokenCommand::List { json } => block_on(async {
            let tokens = admin::list_tokens(settings).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
                return Ok(());
            }
            let tz = settings.deployment.tz();
            for t in tokens {
                let state = match (t.revoked_at, t.expires_at) {
                    (Some(at), _) => format!("revoked {}", crate::domain::format_local(at, tz)),
                    (None, Some(at)) if at <= chrono::Utc::now() => {
                        format!("expired {}", crate::domain::format_local(at, tz))
                    }
                    (None, Some(at)) => format!("until {}", crate::domain::format_local(at, tz)),
                    (None, None) => "no expiry".into(),
                };
                let screen = t.screen.map(|s| format!(" screen={s}")).unwrap_or_default();
                println!(
                    "{}\t{}{screen}\tdashboards={}\t{state}\tby {}",
                    t.name,
                    t.role.name(),
                    t.dashboards.join(","),
                    t.created_by
                );
            }
            Ok(())
        }),
        TokenCommand::Revoke { name } => block_on(async {
            admin::revoke_token(settings, name).await?;
            eprintln!("Token '{name}' revoked.");
            Ok(())
        }),
    }
}

pub(super) fn user(settings: &Settings, command: &UserCommand) -> ExitCode {
    use crate::startup::admin::{users, UserDone, UserJob};
    let job = match command {
        UserCommand::Add(args) => {
            let Some(role) = crate::access::Role::parse(&args.role) else {
                eprintln!(
                    "pantau user add: --role must be one of {}",
                    crate::access::Role::ALL.map(|r| r.name()).join(", ")
                );
                return ExitCode::from(2);
            };
            UserJob::Add(crate::access::NewUser {
                name: args.name.clone(),
                display_name: args.display_name.clone(),
                role,
                dashboards: args.dashboards.clone(),
            })
        }
        UserCommand::List { .. } => UserJob::List,
        UserCommand::Disable { name } => UserJob::Disable(name.clone()),
        UserCommand::ResetPassword { name } => UserJob::ResetPassword(name.clone()),
    };
    let json = matches!(command, UserCommand::List { json: true });
    let tz = settings.deployment.tz();
    block_on(async {
        match users(settings, job).await? {
            UserDone::Added(password, info) => {
                eprintln!(
                    "Account '{}' ({}) made. Its one-time password, shown this once; it must be \
                     replaced at the first login (/login/):",
                    info.name,
                    info.role.name()
                );
                println!("{password}");
            }
            UserDone::Reset(password) => {
                eprintln!(
                    "New one-time password, shown this once; the account's sessions have ended:"
                );
                println!("{password}");
            }
            UserDone::Disabled => eprintln!("Account disabled; its sessions have ended."),
            UserDone::Listed(users) if json => {
                println!("{}", serde_json::to_string_pretty(&users)?)
            }
            UserDone::Listed(users) => {
                for u in users {
                    let state = match (u.disabled_at, u.locked_until) {
                        (Some(at), _) => {
                            format!("disabled {}", crate::domain::format_local(at, tz))
                        }
                        (None, Some(at)) if at > chrono::Utc::now() => {
                            format!("locked until {}", crate::domain::format_local(at, tz))
                        }
                        _ if u.must_change_password => "one-time password".into(),
                        _ => "active".into(),
                    };
                    println!(
                        "{}\t{}\t{}\tdashboards={}\t{state}\tby {}",
                        u.name,
                        u.role.name(),
                        u.display_name,
                        u.dashboards.join(","),
                        u.created_by
                    );
                }
            }
        }
        Ok(())
    })
}

pub(super) fn audit_verify(settings: &Settings) -> ExitCode {
    let mut intact = true;
    let code = block_on(async {
        let report = crate::startup::admin::verify_audit(settings).await?;
        match &report.broken {
            Some(problem) => {
                intact = false;
                println!("BROKEN after {} entries: {problem}", report.entries);
            }
            None => {
                let head = report
                    .head
                    .as_ref()
                    .map(|(id, hash)| format!("; newest entry {id}, hash {hash} (note it elsewhere to detect a cut tail)"))
                    .unwrap_or_default();
                println!(
                    "intact: {} entries from id {}{head}",
                    report.entries,
                    report.first_id.unwrap_or(0)
                );
            }
        }
        Ok(())
    });
    if intact {
        code
    } else {
        ExitCode::FAILURE
    }
}
