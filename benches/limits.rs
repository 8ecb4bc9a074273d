//! The machine's raw limits, measured before the load scenarios so that
//! each scenario's rate can be read as a share of what the hardware allows
//! (`benches/load/run.sh` runs this first):
//!
//! - Argon2id verifications/s on all cores, at the server's default cost;
//! - ES256 signatures/s on one core and on all cores;
//! - RS256 signatures/s (RSA 2048, what an OpenID Connect ID token costs
//!   by default) on all cores;
//! - durable SQLite commits/s with one writer (WAL, synchronous=FULL, one
//!   small INSERT a transaction, as the server's settings);
//! - fsyncs/s of a small write to a file in the same folder.
//!
//! Prints one `limit NAME VALUE` line each (for the script) after a human
//! line. `LIMITS_DIR` picks the folder for the files (default: a temporary
//! one in `target/`), so that the disk measured is the benchmark's.
//! Arguments name the limits to measure, all if none:
//!
//!     cargo bench --bench limits
//!     cargo bench --bench limits -- argon2

use std::io::Write;
use std::time::{Duration, Instant};

use authd::clock::Clock;
use authd::db::{self, DatabaseUrl};
use authd::keys::{self, KeySnapshot, KeyVault, SigningAlg};
use authd::oauth::access_token::AccessClaims;
use authd::password::{Cost, Passwords, Verified};
use authd::secret::{random_id, Secret};
use diesel::connection::SimpleConnection;

const SPAN: Duration = Duration::from_secs(3);

/// Runs `op` on `threads` threads for [`SPAN`]; operations per second.
fn rate(threads: usize, op: impl Fn() + Sync) -> f64 {
    let started = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0u64;
                    while started.elapsed() < SPAN {
                        op();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    total as f64 / started.elapsed().as_secs_f64()
}

fn report(name: &str, what: &str, value: f64) {
    println!("{what}: {value:.0}/s");
    println!("limit {name} {value:.0}");
}

fn argon2(cores: usize) {
    let passwords = Passwords::new(Cost::default(), cores, 32).expect("default Argon2 cost");
    let hash = passwords
        .hash_blocking("a benchmark password")
        .expect("hash");
    let per_s = rate(cores, || {
        let verified = passwords.verify_blocking("a benchmark password", Some(&hash));
        assert!(
            matches!(verified, Verified::Match { .. }),
            "the password verifies"
        );
    });
    report(
        "argon2_verify",
        &format!("Argon2id verifications (default cost, {cores} cores)"),
        per_s,
    );
}

fn es256(dir: &std::path::Path, cores: usize) {
    let url =
        DatabaseUrl::parse(&format!("sqlite://{}", dir.join("keys.db").display())).expect("url");
    let mut conn = db::connect(&url).expect("connect");
    db::migrate(&mut conn).expect("migrate");
    let vault = KeyVault::from_base64(Secret::generate().expose()).expect("vault");
    let now = Clock::system().now();
    keys::rotate(&mut conn, &vault, SigningAlg::Es256, now).expect("key");
    let snapshot = KeySnapshot::load(&mut conn, &vault, now, 900).expect("snapshot");
    let claims = AccessClaims {
        iss: "https://issuer.example".into(),
        sub: "user-1".into(),
        aud: "https://api.example".into(),
        exp: now + 900,
        iat: now,
        jti: random_id(),
        client_id: "client-1".into(),
        scope: "posts:read posts:write".into(),
        generation: Some(0),
        status: None,
    };
    let sign = || {
        snapshot.sign(&claims).expect("signed");
    };
    report(
        "es256_sign_1core",
        "ES256 signatures (1 core)",
        rate(1, sign),
    );
    report(
        "es256_sign",
        &format!("ES256 signatures ({cores} cores)"),
        rate(cores, sign),
    );
}

fn rs256(cores: usize) {
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    use aws_lc_rs::signature::RSA_PKCS1_SHA256;
    let key = KeyPair::generate(KeySize::Rsa2048).expect("key");
    let rng = aws_lc_rs::rand::SystemRandom::new();
    // About an ID token's signing input.
    let message = vec![b'a'; 600];
    let sign = || {
        let mut signature = vec![0; key.public_modulus_len()];
        key.sign(&RSA_PKCS1_SHA256, &rng, &message, &mut signature)
            .expect("signed");
    };
    report(
        "rs256_sign",
        &format!("RS256 signatures ({cores} cores)"),
        rate(cores, sign),
    );
}

fn sqlite_commits(dir: &std::path::Path) {
    let url =
        DatabaseUrl::parse(&format!("sqlite://{}", dir.join("commits.db").display())).expect("url");
    // db::connect applies the server's pragmas (WAL, synchronous=FULL).
    let mut conn = db::connect(&url).expect("connect");
    conn.batch_execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        .expect("table");
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < SPAN {
        conn.batch_execute("BEGIN IMMEDIATE; INSERT INTO t (v) VALUES ('x'); COMMIT;")
            .expect("commit");
        n += 1;
    }
    report(
        "sqlite_commit",
        "durable SQLite commits, one writer (WAL, synchronous=FULL)",
        n as f64 / started.elapsed().as_secs_f64(),
    );
}

fn fsyncs(dir: &std::path::Path) {
    let mut file = std::fs::File::create(dir.join("fsync.bin")).expect("file");
    let block = [0u8; 4096];
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < SPAN {
        file.write_all(&block).expect("write");
        file.sync_data().expect("fsync");
        n += 1;
    }
    report(
        "fsync",
        "fsyncs of a 4 KiB append",
        n as f64 / started.elapsed().as_secs_f64(),
    );
}

fn main() {
    // `cargo bench` passes --bench; other arguments name the limits to
    // measure (argon2, es256, rs256, sqlite_commit, fsync), all if none.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let base = std::env::var_os("LIMITS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("target"));
    std::fs::create_dir_all(&base).expect("folder");
    let dir = tempfile::tempdir_in(&base).expect("tempdir");
    if wanted("argon2") {
        argon2(cores);
    }
    if wanted("es256") {
        es256(dir.path(), cores);
    }
    if wanted("rs256") {
        rs256(cores);
    }
    if wanted("sqlite_commit") {
        sqlite_commits(dir.path());
    }
    if wanted("fsync") {
        fsyncs(dir.path());
    }
}
