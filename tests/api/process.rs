//! The real binary as a server process: started on port 0 against a test
//! database, found by the address it logs, stopped by a signal.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::{authd_command, cheap_argon2_args, TestDb};

/// How long a start may take (a debug build, migrations, a key).
const START_WITHIN: Duration = Duration::from_secs(60);

/// A running `authd serve`; killed when dropped, so a failing test leaves
/// no server behind.
pub struct ServerProcess {
    child: Child,
    /// Base URL, e.g. http://127.0.0.1:PORT
    pub base: String,
    /// The address it bound.
    pub addr: std::net::SocketAddr,
    log: Arc<Mutex<String>>,
}

impl ServerProcess {
    /// Starts [`ServerProcess::command`] as it is.
    pub fn start(db: &TestDb, extra: &[&str]) -> ServerProcess {
        ServerProcess::spawn(ServerProcess::command(db, extra))
    }

    /// The command that runs `authd serve` on `db` with
    /// [`cheap_argon2_args`], port 0 and `extra`, for
    /// [`ServerProcess::spawn`].
    pub fn command(db: &TestDb, extra: &[&str]) -> Command {
        let mut cmd = authd_command();
        cmd.arg("serve")
            .args(["--bind", "127.0.0.1:0"])
            .args(cheap_argon2_args())
            .args(extra)
            .env("DATABASE_URL", db.url())
            .env("AUTHD_KEY_FILE", db.key_file())
            .env("RUST_LOG", "info");
        cmd
    }

    /// Starts `cmd` and waits until it logs the address it listens on.
    pub fn spawn(mut cmd: Command) -> ServerProcess {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("authd binary runs");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, lines) = mpsc::channel();
        let keep = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut log) = keep.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + START_WITHIN;
        let base = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = lines.recv_timeout(left) else {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "authd did not report its address: {}",
                    log.lock().map(|l| l.clone()).unwrap_or_default()
                );
            };
            if let Some(rest) = line.split("listening on ").nth(1) {
                if let Some(url) = rest.split_whitespace().next() {
                    break url.to_string();
                }
            }
        };
        let addr = base
            .trim_start_matches("http://")
            .parse()
            .expect("the logged address is host:port");
        ServerProcess {
            child,
            base,
            addr,
            log,
        }
    }

    /// Full URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Everything it has written to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Sends SIGTERM (a clean stop).
    pub fn terminate(&self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM delivered");
    }

    /// Sends SIGKILL (a crash: no clean-up of any kind) and reaps it.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL delivered");
        self.child.wait().expect("reaped");
    }

    /// Its exit status once it exits, or `None` if it is still running
    /// after `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
