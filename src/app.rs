//! Assembling the server: open storage, prepare keys, bind, mount the
//! routes of `oauth` and `web`. Nothing here handles a request.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};

use crate::backchannel::Outbox;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::client_cache::ClientCache;
use crate::db::cors_origins::Origins;
use crate::db::{self, roles, users, Db, DbError};
use crate::keys::{self, KeyError, KeyRing, KeySnapshot, KeyVault};
use crate::login::Logins;
use crate::metrics::{self, Metrics, MetricsError};
use crate::mfa::passkey::RelyingParty;
use crate::password::{PasswordError, Passwords};
use crate::state::AppState;
use crate::status::made::StatusLists;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Storage could not be opened or migrated.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Signing keys could not be prepared.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// Bad password settings.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The metrics could not be registered (a bug).
    #[error("cannot set up the metrics: {0}")]
    Metrics(#[from] MetricsError),
    /// A setting names something the database does not hold.
    #[error("{0}")]
    Config(String),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A bound, not yet running server.
pub struct Application {
    passwords: Passwords,
    server: Server,
    addr: SocketAddr,
    /// The metrics' own server and address, with `--metrics-bind`.
    metrics_server: Option<(Server, SocketAddr)>,
    /// The admin API's own server and address, with `--admin-bind`.
    admin_server: Option<(Server, SocketAddr)>,
    issuer: String,
    background: Vec<actix_web::rt::task::JoinHandle<()>>,
}

/// What startup found in the database.
struct Prepared {
    db: Db,
    /// The Argon2 parameters of this database (the settings, now stored).
    argon2: crate::password::Cost,
    /// Costs that stored hashes have, sampled, for the dummy hashes.
    stored_costs: Vec<crate::password::Cost>,
    no_users: bool,
    keys: KeySnapshot,
    vault: KeyVault,
}

/// Opens and migrates the database and makes sure a signing key exists
/// (blocking).
///
/// Several instances may start at once on one database: the steps that
/// check and then create (migrations, the key file and the first signing
/// key) each run under [`db::exclusive`], so the first instance creates and
/// the others find. They use a connection of their own, dropped before
/// serving, so that a lock can never outlive startup in a pooled session.
fn prepare(settings: &Settings, now: i64) -> Result<Prepared, StartError> {
    let mut conn = db::connect(&settings.database_url)?;
    let applied = db::migrate(&mut conn)?;
    if applied > 0 {
        log::info!("applied {applied} database migration(s)");
    }
    let (vault, created) = db::exclusive(&mut conn, |conn| {
        let vault = settings.key_vault(conn)?;
        let created = keys::ensure_active(conn, &vault, settings.signing_alg, now)?;
        keys::ensure_id_keys(conn, &vault, now)?;
        Ok::<_, StartError>((vault, created))
    })?;
    if let Some(key) = created {
        log::info!("generated signing key {} ({})", key.kid, key.alg);
    }
    check_registration_roles(&mut conn, settings)?;
    let argon2 = adopt_password_params(&mut conn, settings, now)?;
    let stored_costs = sample_stored_costs(&mut conn)?;
    let no_users = users::count(&mut conn).map_err(DbError::from)? == 0;
    let keys = KeySnapshot::load(&mut conn, &vault, now, settings.access_token_ttl)?;
    drop(conn);
    let db = Db::open(
        &settings.database_url,
        settings.db_pool_size,
        settings.db_timeout,
    )?;
    Ok(Prepared {
        db,
        argon2,
        stored_costs,
        no_users,
        keys,
        vault,
    })
}

/// With registration on, every role it gives new users must exist: a typo
/// in `AUTHD_REGISTRATION_ROLES` stops the start with what to do, rather
/// than failing each sign-up later.
fn check_registration_roles(
    conn: &mut db::AnyConnection,
    settings: &Settings,
) -> Result<(), StartError> {
    if !settings.registration.enabled {
        return Ok(());
    }
    for role in &settings.registration.roles {
        if !roles::exists(conn, role).map_err(DbError::from)? {
            return Err(StartError::Config(format!(
                "registration role '{role}' does not exist: create it with \
                 'authd role add {role} --scope \"...\"' or change AUTHD_REGISTRATION_ROLES \
                 (--registration-roles)"
            )));
        }
    }
    Ok(())
}

/// Stores the Argon2 settings as the database's parameters, which the
/// admin commands then hash with too; says so when they change.
fn adopt_password_params(
    conn: &mut db::AnyConnection,
    settings: &Settings,
    now: i64,
) -> Result<crate::password::Cost, StartError> {
    let cost = settings.argon2.cost();
    if let Some(before) = db::password_params::adopt(conn, cost, now).map_err(DbError::from)? {
        log::info!(
            "Argon2 parameters changed from m={},t={},p={} to m={},t={},p={}: new hashes              use them, and each stored hash is upgraded at its user's next login",
            before.m_kib,
            before.t,
            before.p,
            cost.m_kib,
            cost.t,
            cost.p
        );
    }
    Ok(cost)
}

/// How many stored hashes [`sample_stored_costs`] looks at.
const COST_SAMPLES: usize = 8;

/// The distinct costs of a few stored hashes picked at random, as an
/// unknown name picks one (`crate::db::users::hash_near`): after a cost
/// change, the old cost is among them while many users still have it.
fn sample_stored_costs(
    conn: &mut db::AnyConnection,
) -> Result<Vec<crate::password::Cost>, StartError> {
    let mut costs = Vec::new();
    for _ in 0..COST_SAMPLES {
        let key = crate::secret::random_id();
        let phc = users::hash_near(conn, &key).map_err(DbError::from)?;
        if let Some(cost) = phc.as_deref().and_then(crate::password::cost_of) {
            if !costs.contains(&cost) {
                costs.push(cost);
            }
        }
    }
    Ok(costs)
}

/// Runs blocking startup work off the runtime's thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StartError> + Send + 'static,
) -> Result<T, StartError> {
    web::block(f)
        .await
        .map_err(|_| StartError::Db(DbError::Blocking))?
}

/// The WebAuthn relying party of `issuer`, unless `--no-passkeys`. An
/// issuer given with `--issuer` that WebAuthn cannot work with stops the
/// start with the reason; the default one (`http://<address bound>`,
/// for trying authd out) only leaves passkeys off.
fn relying_party(
    settings: &Settings,
    issuer: &str,
) -> Result<Option<Arc<RelyingParty>>, StartError> {
    if settings.no_passkeys {
        return Ok(None);
    }
    match (RelyingParty::new(issuer), &settings.issuer) {
        (Ok(rp), _) => Ok(Some(Arc::new(rp))),
        (Err(why), Some(_)) => Err(StartError::Config(format!(
            "--issuer (AUTHD_ISSUER): {why}; set an https issuer on a domain name \
             (http://localhost for development), or turn passkeys off with --no-passkeys \
             (AUTHD_NO_PASSKEYS=true)"
        ))),
        (Err(why), None) => {
            log::info!("passkeys are off: {why}");
            Ok(None)
        }
    }
}

fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartError> {
    let failed = |source| StartError::Bind { addr, source };
    let listener = TcpListener::bind(addr).map_err(failed)?;
    let addr = listener.local_addr().map_err(failed)?;
    Ok((listener, addr))
}

fn http_server(
    state: AppState,
    listener: TcpListener,
    settings: &Settings,
) -> Result<Server, StartError> {
    // Without an address of their own, the metrics are served here, to
    // this host alone.
    let scrape_here = settings.metrics_bind.is_none();
    // Likewise the admin API: here unless it has a listener of its own.
    let admin_here = settings.admin_bind.is_none();
    let mut server = HttpServer::new(move || {
        // One per worker: its route map is the worker's own.
        let requests = metrics::track(&state.metrics, crate::oauth::token::PATH);
        App::new()
            .app_data(web::Data::new(state.clone()))
            .wrap(from_fn(crate::oauth::error::log_failures))
            // The request's id and span, around everything that may log,
            // and its access line.
            .wrap(from_fn(crate::telemetry::request_id::middleware))
            // Outermost, so that the time counted covers the other
            // middleware too.
            .wrap(from_fn(move |req, next| requests.clone().record(req, next)))
            .configure(crate::oauth::routes)
            .configure(crate::web::routes)
            .configure(|cfg| {
                if scrape_here {
                    metrics::endpoint::mount_local(cfg, &state.metrics);
                }
                if admin_here {
                    crate::admin::routes(cfg);
                }
            })
    })
    .listen(listener)
    .map_err(|source| StartError::Bind {
        addr: settings.bind,
        source,
    })?;
    if settings.workers > 0 {
        server = server.workers(settings.workers);
    }
    // On SIGTERM actix stops accepting at once and gives connections in
    // flight this long to finish (its own default is 30 s).
    server = server.shutdown_timeout(settings.shutdown_timeout.as_secs());
    Ok(server.run())
}

fn log_first_steps(no_users: bool) {
    if no_users {
        log::info!(
            "no users yet. Create a role, a user and a client with:\n  \
             authd role add writer --scope \"posts:read posts:write\"\n  \
             authd user add alice --role writer\n  \
             authd client add my-app --scope \"posts:read posts:write\"\n\
             (from a checkout: cargo run --release -- user add alice …)"
        );
    }
}

impl Application {
    /// Opens and migrates the database, makes sure a signing key exists,
    /// and binds the listener (port 0 picks a free port), on the system
    /// clock.
    pub async fn build(settings: Settings) -> Result<Application, StartError> {
        Application::build_with_clock(settings, Clock::system()).await
    }

    /// [`Application::build`] with the clock every token rule will read
    /// (tests pass a manual one).
    pub async fn build_with_clock(
        settings: Settings,
        clock: Clock,
    ) -> Result<Application, StartError> {
        let (s, now) = (settings.clone(), clock.now());
        let prepared = blocking(move || prepare(&s, now)).await?;
        let passwords = Passwords::new(
            prepared.argon2,
            settings.password_concurrency,
            settings.password_queue,
        )?;
        let (warm, stored_costs) = (passwords.clone(), prepared.stored_costs.clone());
        blocking(move || {
            warm.warm_up(&stored_costs);
            Ok(())
        })
        .await?;

        let (listener, addr) = bind(settings.bind)?;
        let metrics_listener = settings.metrics_bind.map(bind).transpose()?;
        let admin_listener = settings.admin_bind.map(bind).transpose()?;
        let metrics = Metrics::new(&passwords, &prepared.db)?;
        let issuer = settings
            .issuer
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let passkeys = relying_party(&settings, &issuer)?;
        let keys = KeyRing::new(prepared.keys);
        let issuer_settings = Arc::new(settings.issuer_settings(issuer.clone()));
        let backchannel = Outbox::new();
        let mut background = vec![
            keys.spawn_reloader(
                prepared.db.clone(),
                prepared.vault.clone(),
                settings.access_token_ttl,
                clock.clone(),
            ),
            crate::janitor::spawn(prepared.db.clone(), clock.clone()),
            crate::janitor::spawn_retry_wipe(
                prepared.db.clone(),
                clock.clone(),
                settings.refresh_retry_grace,
            ),
            crate::backchannel::spawn(
                &backchannel,
                prepared.db.clone(),
                keys.clone(),
                issuer_settings.clone(),
                clock.clone(),
            )
            .map_err(StartError::Config)?,
        ];
        background.extend(keys::schedule::spawn(
            prepared.db.clone(),
            prepared.vault.clone(),
            keys::schedule::Schedule {
                rotation_interval: settings.key_schedule.rotation_interval,
                jwks_max_age: settings.key_schedule.jwks_max_age,
            },
            clock.clone(),
        ));
        let clients = ClientCache::new(settings.client_cache_ttl);
        let state = AppState {
            logins: Logins::new(
                prepared.db.clone(),
                passwords.clone(),
                settings.login.clone(),
                clock.clone(),
                metrics.clone(),
                prepared.vault,
            ),
            db: prepared.db,
            metrics: metrics.clone(),
            issuer: issuer_settings,
            keys,
            clock,
            sessions: settings.sessions,
            csrf_key: Arc::default(),
            reveal_key: Arc::default(),
            clients: clients.clone(),
            cors: Origins::new(clients),
            registration: Arc::new(settings.registration.clone()),
            console_max_clients: settings.console_max_clients,
            backchannel,
            jwks_max_age: settings.key_schedule.jwks_max_age,
            status: StatusLists::new(),
            passkeys,
        };
        let metrics_server = match metrics_listener {
            Some((listener, at)) => {
                let server = metrics::endpoint::server(metrics, listener)
                    .map_err(|source| StartError::Bind { addr: at, source })?;
                Some((server, at))
            }
            None => None,
        };
        let admin_server = match admin_listener {
            Some((listener, at)) => {
                let server = crate::admin::server(state.clone(), listener, settings.workers)
                    .map_err(|source| StartError::Bind { addr: at, source })?;
                Some((server, at))
            }
            None => None,
        };
        let server = http_server(state, listener, &settings)?;
        log::info!("authd listening on http://{addr} (issuer {issuer})");
        if let Some((_, at)) = &metrics_server {
            log::info!("metrics on http://{at}{}", metrics::endpoint::PATH);
        }
        if let Some((_, at)) = &admin_server {
            log::info!("admin API on http://{at}{}", crate::admin::PREFIX);
        }
        log_first_steps(prepared.no_users);
        Ok(Application {
            passwords,
            server,
            addr,
            metrics_server,
            admin_server,
            issuer,
            background,
        })
    }

    /// The password hasher, whose counters show hashing load.
    pub fn passwords(&self) -> Passwords {
        self.passwords.clone()
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address the metrics have to themselves (`--metrics-bind`), as
    /// bound; `None` when they are served on [`Application::addr`].
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_server.as_ref().map(|(_, addr)| *addr)
    }

    /// The address the admin API has to itself (`--admin-bind`), as
    /// bound; `None` when it is served on [`Application::addr`].
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_server.as_ref().map(|(_, addr)| *addr)
    }

    /// The issuer URL in force.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Runs until stopped: SIGTERM stops it gracefully (within the
    /// shutdown timeout), SIGINT (Ctrl-C) and SIGQUIT at once.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        // The metrics and admin servers ignore signals: they stop after
        // this one.
        let others: Vec<_> = [
            ("metrics", self.metrics_server),
            ("admin", self.admin_server),
        ]
        .into_iter()
        .filter_map(|(name, server)| {
            let (server, _) = server?;
            let handle = server.handle();
            Some((name, handle, actix_web::rt::spawn(server)))
        })
        .collect();
        let result = self.server.await;
        for (name, handle, task) in others {
            handle.stop(true).await;
            if let Ok(Err(e)) = task.await {
                log::warn!("the {name} server: {e}");
            }
        }
        for task in &self.background {
            task.abort();
        }
        result
    }
}

/// Builds and runs the server on a new actix system until it is stopped.
pub fn serve_forever(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).await?;
        app.run_until_stopped().await?;
        log::info!("authd stopped");
        Ok(())
    })
}
