//! The real binary serving, as an operator runs it: `authd serve` on a
//! free port with its log (stderr) going to a file, stopped with SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{authd_command, cheap_argon2_env, TestDb};

/// A running `authd serve`.
pub struct Served {
    child: Child,
    /// Base URL, e.g. http://127.0.0.1:PORT
    pub base: String,
    log_path: PathBuf,
}

impl Served {
    /// Starts `authd serve` against `db` with `RUST_LOG=rust_log` (plus
    /// `authd::app` at info, where it says the address it bound) and waits
    /// until it answers on that address.
    pub fn start(db: &TestDb, rust_log: &str) -> Served {
        let log_path = db.dir().join("serve.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = authd_command()
            .arg("serve")
            .env("DATABASE_URL", db.url())
            .env("AUTHD_KEY_FILE", db.key_file())
            .env("AUTHD_BIND", "127.0.0.1:0")
            .envs(cheap_argon2_env())
            .env("RUST_LOG", format!("{rust_log},authd::app=info"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("authd binary runs");
        let mut served = Served {
            child,
            base: String::new(),
            log_path,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = served.log();
            if let Some(rest) = log.split("listening on http://").nth(1) {
                let addr = rest.split_whitespace().next().unwrap_or("");
                // Answering means its runtime is up, and with it the
                // SIGTERM handler that `stop` relies on.
                if healthy(addr) {
                    served.base = format!("http://{addr}");
                    return served;
                }
            }
            if let Ok(Some(status)) = served.child.try_wait() {
                panic!("[{}] authd serve exited ({status}): {log}", db.label());
            }
            assert!(
                Instant::now() < deadline,
                "[{}] authd serve did not report its address: {log}",
                db.label()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Stops it with SIGTERM, asserts a clean exit, and returns its log.
    pub fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "SIGTERM sent");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "clean exit on SIGTERM: {status:?}");
                return self.log();
            }
            assert!(Instant::now() < deadline, "authd did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Whether `GET /healthz` on `addr` answers 200 (plain HTTP/1.0 over a
/// socket: this side is synchronous).
fn healthy(addr: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut answer = String::new();
    stream
        .write_all(b"GET /healthz HTTP/1.0\r\nHost: authd\r\n\r\n")
        .and_then(|()| stream.read_to_string(&mut answer))
        .is_ok_and(|_| answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"))
}

impl Drop for Served {
    /// A failed test must not leave the server running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
