//! A kept-alive connection the server closes under a request, unanswered
//! (the race between a server's idle timeout and the next request: Node's
//! servers close idle connections after 5 s, hyper-util's pool keeps them
//! 90 s). An idempotent request goes again on another connection, without
//! counting an attempt and whatever the resilience policy; any other request
//! fails, sent once. A request the server drops on a fresh connection is a
//! failure like any other.
//!
//! The server is a plain TCP listener on loopback that answers or drops each
//! request by a script, and logs every request it read (connection, method).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What the server does with the n-th request (from 0) of a connection.
#[derive(Clone, Copy)]
enum Script {
    /// Answers the first request of every connection; reads the second
    /// and closes the connection (end of stream) without answering.
    CloseSecond,
    /// Answers the first request of every connection; on the second,
    /// closes as soon as its first bytes arrive, with the rest unread (the
    /// kernel then resets the connection).
    ResetSecond,
    /// Closes every connection on its first request, unanswered.
    CloseFirst,
    /// Answers the first request of each of the first `connections`
    /// connections once that many are open (so a client opens that many),
    /// then closes each on its second request; closes any later connection
    /// on its first request.
    ManyThenClose { connections: usize },
}

/// One request the server read: its connection (in order of arrival) and
/// its method.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    connection: usize,
    method: String,
    path: String,
}

struct Server {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn start(script: Script) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let opened = Arc::new(Mutex::new(0usize));
        let log = seen.clone();
        thread::spawn(move || {
            // Bounded: a test makes a handful of connections.
            for (n, stream) in listener.incoming().take(64).enumerate() {
                let Ok(stream) = stream else { return };
                *opened.lock().unwrap() += 1;
                let log = log.clone();
                let opened = opened.clone();
                thread::spawn(move || serve(stream, n, script, &log, &opened));
            }
        });
        Server { base, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Reads one request head and its `Content-Length` body, and returns its
/// method and path; `None` at end of stream or after 5 s without one.
fn read_request(stream: &mut TcpStream) -> Option<(String, String)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    let start = Instant::now();
    while !buf.ends_with(b"\r\n\r\n") {
        if start.elapsed() > Duration::from_secs(5) || buf.len() > 64 * 1024 {
            return None;
        }
        match stream.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    let mut words = head.split(' ');
    let method = words.next().unwrap_or("").to_owned();
    let path = words.next().unwrap_or("").to_owned();
    Some((method, path))
}

fn answer(stream: &mut TcpStream) -> bool {
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok")
        .is_ok()
}

fn serve(
    mut stream: TcpStream,
    connection: usize,
    script: Script,
    log: &Mutex<Vec<Seen>>,
    opened: &Mutex<usize>,
) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for request in 0..16 {
        if matches!(script, Script::ResetSecond) && request == 1 {
            // Wait for the request's first bytes, then close with them
            // unread.
            let mut peek = [0u8; 1];
            if stream.peek(&mut peek).unwrap_or(0) == 1 {
                log.lock().unwrap().push(Seen {
                    connection,
                    method: "(reset)".into(),
                    path: String::new(),
                });
            }
            return;
        }
        let Some((method, path)) = read_request(&mut stream) else {
            return;
        };
        log.lock().unwrap().push(Seen {
            connection,
            method,
            path,
        });
        let drop_it = match script {
            Script::CloseFirst => true,
            Script::CloseSecond | Script::ResetSecond => request == 1,
            Script::ManyThenClose { connections } => {
                if connection >= connections {
                    true
                } else if request == 0 {
                    let start = Instant::now();
                    while *opened.lock().unwrap() < connections
                        && start.elapsed() < Duration::from_secs(5)
                    {
                        thread::sleep(Duration::from_millis(5));
                    }
                    false
                } else {
                    request == 1
                }
            }
        };
        if drop_it || !answer(&mut stream) {
            return;
        }
    }
}

/// A connection goes back to the pool once its task has seen the response
/// end, a moment after the call returned: wait for that, so the next
/// request is the connection's second.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

fn methods_by_connection(seen: &[Seen]) -> Vec<(usize, &str)> {
    seen.iter()
        .map(|s| (s.connection, s.method.as_str()))
        .collect()
}

#[tokio::test]
async fn a_get_goes_again_on_another_connection_when_the_server_closed_the_kept_alive_one() {
    for script in [Script::CloseSecond, Script::ResetSecond] {
        let server = Server::start(script);
        let client = keel::HttpClient::new(server.base.as_str()).unwrap();
        let first = client.get("/a").send().await.unwrap();
        assert_eq!(first.status, 200);
        settle().await;
        let second = client.get("/b").send().await.unwrap();
        assert_eq!(second.status, 200);
        assert_eq!(second.text().unwrap(), "ok");
        // Not an attempt: the policy (none) allows one.
        assert_eq!(second.attempts(), 1);
        let seen = server.seen();
        let dropped = if matches!(script, Script::ResetSecond) {
            "(reset)"
        } else {
            "GET"
        };
        assert_eq!(
            methods_by_connection(&seen),
            vec![(0, "GET"), (0, dropped), (1, "GET")],
            "{seen:?}"
        );
    }
}

#[test]
fn a_blocking_get_goes_again_too() {
    let server = Server::start(Script::CloseSecond);
    let client = keel::HttpClient::new(server.base.as_str()).unwrap();
    assert_eq!(client.get("/a").send_blocking().unwrap().status, 200);
    thread::sleep(Duration::from_millis(100));
    assert_eq!(client.get("/b").send_blocking().unwrap().status, 200);
    assert_eq!(
        methods_by_connection(&server.seen()),
        vec![(0, "GET"), (0, "GET"), (1, "GET")]
    );
}

#[tokio::test]
async fn a_post_is_sent_once_and_the_error_says_what_happened() {
    let server = Server::start(Script::CloseSecond);
    let client = keel::HttpClient::new(server.base.as_str()).unwrap();
    assert_eq!(client.get("/a").send().await.unwrap().status, 200);
    settle().await;
    let err = client
        .post("/orders")
        .json(&serde_json::json!({"qty": 1}))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            keel::Error::Transport {
                maybe_sent: true,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("kept-alive connection"), "{text}");
    assert!(text.contains("pool_idle_timeout"), "{text}");
    assert_eq!(
        methods_by_connection(&server.seen()),
        vec![(0, "GET"), (0, "POST")],
        "the POST was sent again"
    );
}

#[tokio::test]
async fn a_post_with_an_idempotency_key_goes_again() {
    let server = Server::start(Script::CloseSecond);
    let client = keel::HttpClient::new(server.base.as_str()).unwrap();
    assert_eq!(client.get("/a").send().await.unwrap().status, 200);
    settle().await;
    let resp = client
        .post("/orders")
        .header("Idempotency-Key", "order-42")
        .json(&serde_json::json!({"qty": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(
        methods_by_connection(&server.seen()),
        vec![(0, "GET"), (0, "POST"), (1, "POST")]
    );
}

#[tokio::test]
async fn a_request_dropped_on_a_fresh_connection_is_not_sent_again() {
    let server = Server::start(Script::CloseFirst);
    let client = keel::HttpClient::new(server.base.as_str()).unwrap();
    let err = client.get("/a").send().await.unwrap_err();
    assert!(matches!(err, keel::Error::Transport { .. }), "{err:?}");
    assert!(
        !err.to_string().contains("kept-alive"),
        "a fresh connection is not a stale one: {err}"
    );
    assert_eq!(methods_by_connection(&server.seen()), vec![(0, "GET")]);
}

#[tokio::test]
async fn a_call_goes_again_at_most_twice() {
    let server = Server::start(Script::ManyThenClose { connections: 3 });
    let client = keel::HttpClient::new(server.base.as_str()).unwrap();
    // Three requests at once open three connections, idle afterwards.
    let (a, b, c) = tokio::join!(
        client.get("/1").send(),
        client.get("/2").send(),
        client.get("/3").send()
    );
    for r in [a, b, c] {
        assert_eq!(r.unwrap().status, 200);
    }
    settle().await;
    // Each of them drops its next request, and so does any new connection
    // (a fresh connection's failure is not sent again). The pool may open a
    // new connection for a send rather than wait for an idle one: then the
    // call ends there.
    let err = client.get("/4").send().await.unwrap_err();
    assert!(matches!(err, keel::Error::Transport { .. }), "{err:?}");
    let seen = server.seen();
    let sends: Vec<usize> = seen
        .iter()
        .filter(|s| s.path == "/4")
        .map(|s| s.connection)
        .collect();
    assert!(
        (1..=3).contains(&sends.len()),
        "one send and at most two more: {seen:?}"
    );
    let mut distinct = sends.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        sends.len(),
        "each send on another connection: {seen:?}"
    );
    if sends.iter().all(|&c| c < 3) {
        assert_eq!(sends.len(), 3, "all kept-alive, all stale: {seen:?}");
        assert!(err.to_string().contains("kept-alive connection"), "{err}");
    }
}
