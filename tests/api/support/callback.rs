//! A client application's redirect endpoint for the browser tests: a tiny
//! HTTP listener on 127.0.0.1 (port 0) that answers every request with
//! `200 ok` and records what it was asked for, so a test sees exactly
//! what the authorization server sent the browser back with.
//!
//! Plain `std` sockets on their own threads: it must keep answering while
//! the test's single-threaded runtime awaits the browser, and it needs
//! nothing of HTTP beyond the request line.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The path the listener's redirect URI uses.
pub const PATH: &str = "/cb";

/// How long a connection may take to send its request line: the browser
/// opens spare connections that it may never use.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A running listener; dropping it stops it.
pub struct Callback {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Callback {
    /// Starts listening on a free port of 127.0.0.1.
    pub fn start() -> Callback {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the callback");
        let port = listener.local_addr().expect("its address").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let seen = seen.clone();
                    // One thread per connection, so that an idle spare
                    // connection never holds up the next request.
                    std::thread::spawn(move || answer(stream, &seen));
                }
            })
        };
        Callback {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// The redirect URI to register: `http://127.0.0.1:PORT/cb`.
    pub fn redirect_uri(&self) -> String {
        format!("{}{PATH}", self.origin())
    }

    /// Its origin, `http://127.0.0.1:PORT`, as the consent page names it.
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request target (path and query) received so far, in order.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().expect("the callback's record").clone()
    }

    /// The query parameters of the `n`th request (counting from 0) to
    /// [`PATH`], waiting a little for it; panics if it never comes.
    pub fn nth(&self, n: usize) -> Vec<(String, String)> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let hits: Vec<String> = self
                .seen()
                .into_iter()
                .filter(|t| t == PATH || t.starts_with(&format!("{PATH}?")))
                .collect();
            if let Some(target) = hits.get(n) {
                let url = url::Url::parse(&format!("http://127.0.0.1{target}"))
                    .expect("a request target");
                return url.query_pairs().into_owned().collect();
            }
            assert!(
                Instant::now() < deadline,
                "the client's redirect endpoint got no request #{n} to {PATH}: {:?}",
                self.seen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Reads one request's head, records its target, answers `200 ok` and
/// closes the connection.
fn answer(mut stream: TcpStream, seen: &Mutex<Vec<String>>) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    // "GET /cb?code=… HTTP/1.1"
    if let Some(target) = head.split_whitespace().nth(1) {
        seen.lock()
            .expect("the callback's record")
            .push(target.to_string());
    }
    let _ = stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\
          Connection: close\r\n\r\nok",
    );
}

impl Drop for Callback {
    /// Stops accepting: sets the flag, then wakes the blocked `accept`
    /// with a connection of its own.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
