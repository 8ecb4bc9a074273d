//! An app's back-channel logout endpoint for the tests: a listener on
//! 127.0.0.1 (port 0) that keeps the `logout_token` of every POST, and
//! can be told to answer another status, to answer slowly, or to go down
//! and come back on the same port.
//!
//! Plain `std` sockets on threads of their own: the server's delivery task
//! runs on the test's runtime, which must stay free while the test waits.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the endpoint answers.
#[derive(Clone, Copy)]
struct Answer {
    status: u16,
    delay: Duration,
}

/// What the threads share.
struct Shared {
    tokens: Mutex<Vec<String>>,
    answer: Mutex<Answer>,
}

/// A listening endpoint; dropping it stops it.
pub struct Receiver {
    port: u16,
    shared: Arc<Shared>,
    running: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Receiver {
    /// Listens on a free port, answering `200`.
    pub fn start() -> Receiver {
        let mut r = Receiver {
            port: 0,
            shared: Arc::new(Shared {
                tokens: Mutex::new(Vec::new()),
                answer: Mutex::new(Answer {
                    status: 200,
                    delay: Duration::ZERO,
                }),
            }),
            running: None,
        };
        r.listen();
        r
    }

    /// The URI to register as `--backchannel-logout-uri`.
    pub fn uri(&self) -> String {
        format!("http://127.0.0.1:{}/backchannel", self.port)
    }

    /// Answers `status` from now on.
    pub fn answer(&self, status: u16) {
        self.shared.answer.lock().unwrap().status = status;
    }

    /// Waits this long before each answer from now on.
    pub fn delay(&self, delay: Duration) {
        self.shared.answer.lock().unwrap().delay = delay;
    }

    /// Stops listening: connections are refused until [`Receiver::restart`].
    pub fn stop(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            stop.store(true, Ordering::SeqCst);
            // Wakes the blocked accept, which then sees the flag.
            let _ = TcpStream::connect(("127.0.0.1", self.port));
            let _ = thread.join();
        }
    }

    /// Listens again, on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.listen();
    }

    fn listen(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("a port");
        self.port = listener.local_addr().expect("its address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, shared) = (stop.clone(), self.shared.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    let shared = shared.clone();
                    std::thread::spawn(move || serve(stream, &shared));
                }
            }
        });
        self.running = Some((stop, thread));
    }

    /// Every token received so far, in order.
    pub fn tokens(&self) -> Vec<String> {
        self.shared.tokens.lock().unwrap().clone()
    }

    /// Waits (without blocking the runtime) until `n` tokens have come,
    /// and returns them; panics after `within`.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let tokens = self.tokens();
            if tokens.len() >= n {
                return tokens;
            }
            assert!(
                Instant::now() < deadline,
                "the back-channel endpoint got {} token(s), not {n}, within {within:?}",
                tokens.len()
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits `quiet` and asserts that no more than `n` tokens came.
    pub async fn assert_no_more_than(&self, n: usize, quiet: Duration) {
        actix_web::rt::time::sleep(quiet).await;
        assert_eq!(
            self.tokens().len(),
            n,
            "unexpected tokens: {:?}",
            self.tokens()
        );
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads one POST (head and `Content-Length` body), keeps its
/// `logout_token`, answers as told and closes.
fn serve(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut request = Vec::new();
    let mut chunk = [0u8; 4096];
    let body_start = loop {
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&request[..body_start]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while request.len() < body_start + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    }
    let token = url::form_urlencoded::parse(&request[body_start..])
        .find(|(name, _)| name == "logout_token")
        .map(|(_, value)| value.into_owned());
    if let Some(token) = token {
        shared.tokens.lock().unwrap().push(token);
    }
    let answer = *shared.answer.lock().unwrap();
    std::thread::sleep(answer.delay);
    let _ = write!(
        stream,
        "HTTP/1.1 {} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        answer.status
    );
}
