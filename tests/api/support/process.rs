//! The real binary as a server process, as an operator runs it: `authd
//! serve` started on port 0 against a test database, found by the address
//! it logs, answering `/healthz` before it is handed over, stopped by a
//! signal, its log (stderr) kept whole.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::helpers::{authd_command, cheap_argon2_args, TestDb};

/// How long a start may take (a debug build, migrations, a key).
const START_WITHIN: Duration = Duration::from_secs(60);

/// How long a clean stop may take in [`ServerProcess::stop`].
const STOP_WITHIN: Duration = Duration::from_secs(20);

/// A running `authd serve`; killed when dropped, so a failing test leaves
/// no server behind.
pub struct ServerProcess {
    child: Child,
    /// Base URL, e.g. http://127.0.0.1:PORT
    pub base: String,
    /// The address it bound.
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
    /// Copies stderr into `log` until the process closes it.
    reader: Option<JoinHandle<()>>,
}

/// `RUST_LOG` for `level`, keeping `authd::app` at info: that is where the
/// server says the address it bound, which [`ServerProcess::spawn`] needs.
fn rust_log(level: &str) -> String {
    format!("{level},authd::app=info")
}

impl ServerProcess {
    /// Starts [`ServerProcess::command`] as it is (`RUST_LOG=info`).
    pub fn start(db: &TestDb, extra: &[&str]) -> ServerProcess {
        ServerProcess::spawn(ServerProcess::command(db, extra))
    }

    /// Starts [`ServerProcess::command`] logging at `level` (see
    /// [`rust_log`]).
    pub fn start_logging(db: &TestDb, extra: &[&str], level: &str) -> ServerProcess {
        let mut cmd = ServerProcess::command(db, extra);
        cmd.env("RUST_LOG", rust_log(level));
        ServerProcess::spawn(cmd)
    }

    /// The command that runs `authd serve` on `db` with
    /// [`cheap_argon2_args`], port 0, `extra` and `RUST_LOG=info`, for
    /// [`ServerProcess::spawn`].
    pub fn command(db: &TestDb, extra: &[&str]) -> Command {
        let mut cmd = authd_command();
        cmd.arg("serve")
            .args(["--bind", "127.0.0.1:0"])
            .args(cheap_argon2_args())
            .args(extra)
            .env("DATABASE_URL", db.url())
            .env("AUTHD_KEY_FILE", db.key_file())
            .env("RUST_LOG", rust_log("info"));
        cmd
    }

    /// Starts `cmd`, waits until it logs the address it listens on, then
    /// until `GET /healthz` there answers 200: its runtime is up, and with
    /// it the signal handler that [`ServerProcess::terminate`] relies on.
    pub fn spawn(mut cmd: Command) -> ServerProcess {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("authd binary runs");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, lines) = mpsc::channel();
        let keep = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut log) = keep.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
                let _ = tx.send(line);
            }
        });
        let mut server = ServerProcess {
            child,
            base: String::new(),
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            log,
            reader: Some(reader),
        };
        let deadline = Instant::now() + START_WITHIN;
        let base = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match lines.recv_timeout(left) {
                Ok(line) => line,
                Err(RecvTimeoutError::Disconnected) => server.exited_at_start(),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("authd did not report its address: {}", server.log())
                }
            };
            if let Some(rest) = line.split("listening on ").nth(1) {
                if let Some(url) = rest.split_whitespace().next() {
                    break url.to_string();
                }
            }
        };
        server.addr = base
            .trim_start_matches("http://")
            .parse()
            .expect("the logged address is host:port");
        server.base = base;
        while !healthy(server.addr) {
            if let Ok(Some(_)) = server.child.try_wait() {
                server.exited_at_start();
            }
            assert!(
                Instant::now() < deadline,
                "authd did not answer /healthz on {}: {}",
                server.addr,
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// Panics with its exit status and its whole log (it exited while
    /// starting).
    fn exited_at_start(&mut self) -> ! {
        let status = self.child.wait().expect("reaped");
        self.collect_log();
        panic!("authd serve exited ({status}): {}", self.log());
    }

    /// Full URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Everything it has written to stderr so far; all of it once
    /// [`ServerProcess::wait_exit`] has seen it exit.
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

    /// Stops it with SIGTERM, asserts a clean exit, and returns its whole
    /// log.
    pub fn stop(mut self) -> String {
        self.terminate();
        let status = self.wait_exit(STOP_WITHIN);
        let Some(status) = status else {
            panic!("authd did not stop on SIGTERM: {}", self.log());
        };
        assert!(
            status.success(),
            "clean exit on SIGTERM: {status:?}\n{}",
            self.log()
        );
        self.log()
    }

    /// Sends SIGKILL (a crash: no clean-up of any kind) and reaps it.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL delivered");
        self.child.wait().expect("reaped");
    }

    /// Its exit status once it exits (its log then complete), or `None`
    /// if it is still running after `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.collect_log();
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Once it has exited: waits for the last of its stderr to reach the
    /// log (the pipe may still hold lines when the process is gone).
    fn collect_log(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// Whether `GET /healthz` on `addr` answers 200 (plain HTTP/1.0 over a
/// socket: this side is synchronous).
fn healthy(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut answer = String::new();
    stream
        .write_all(b"GET /healthz HTTP/1.0\r\nHost: authd\r\n\r\n")
        .and_then(|()| stream.read_to_string(&mut answer))
        .is_ok_and(|_| answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"))
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
