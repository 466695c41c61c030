//! `triage serve` over HTTP, driven with raw HTTP/1.1 on loopback: the
//! conversation API, the Rasa REST channel, health and metrics, limits, errors that
//! never echo member data, the header timeout, hot reload that keeps a good pack
//! serving, and graceful shutdown.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(pack: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_triage"))
            .args(["serve", "--addr", "127.0.0.1:0", "--pack"])
            .arg(pack)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start serve");
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut line = String::new();
        while !line.contains("listening on http://") {
            line.clear();
            assert!(
                stderr.read_line(&mut line).expect("read") > 0,
                "server died"
            );
        }
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .expect("address")
            .to_string();
        // Keep draining stderr so the server never blocks on it.
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = stderr.read_to_string(&mut sink);
        });
        Server { child, addr }
    }

    fn request(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response");
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    fn message(&self, conversation: &str, text: &str) -> serde_json::Value {
        let body = serde_json::json!({"text": text, "at": "2026-11-24T10:00:00-06:00"}).to_string();
        let (status, body) = self.request(
            "POST",
            &format!("/v1/conversations/{conversation}/messages"),
            &body,
        );
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("reply JSON")
    }

    fn signal(&self, sig: &str) {
        Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn conversations_rasa_health_metrics_and_errors() {
    let server = Server::start(&root().join("intents/caremark"), &["--max-body", "4096"]);

    // A clarification, answered in the next message of the same conversation.
    let first = server.message("c1", "coverage question, i'm abroad");
    assert_eq!(first["outcome"], "clarify");
    let second = server.message("c1", "2");
    assert_eq!(second["intent"], "insurance_coverage");
    // Forgotten on request.
    let (status, _) = server.request("DELETE", "/v1/conversations/c1", "");
    assert_eq!(status, 204);
    server.message("c1", "coverage question, i'm abroad");
    server.request("DELETE", "/v1/conversations/c1", "");
    assert_eq!(server.message("c1", "2")["outcome"], "fallback");

    // The Rasa REST channel: choices become buttons; a payload selects one.
    let rasa = |message: &str| {
        let body = serde_json::json!({"sender": "r1", "message": message}).to_string();
        let (status, body) = server.request("POST", "/webhooks/rest/webhook", &body);
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).expect("JSON")
    };
    let buttons = rasa("coverage question, i'm abroad");
    assert_eq!(buttons[0]["recipient_id"], "r1");
    assert_eq!(buttons[0]["buttons"][1]["payload"], "/insurance_coverage");
    assert_eq!(buttons[0]["outcome"], "clarify");
    let chosen = rasa("/insurance_coverage");
    // Intent and confidence in Rasa NLU's shape, for Botium's asserters.
    assert_eq!(chosen[0]["intent"]["name"], "insurance_coverage");
    let confidence = chosen[0]["intent"]["confidence"]
        .as_f64()
        .expect("confidence");
    assert!((0.0..=1.0).contains(&confidence), "{chosen}");
    assert_eq!(chosen[0]["outcome"], "answer");
    assert!(
        chosen[0]["text"]
            .as_str()
            .expect("text")
            .contains("press 2"),
        "{chosen}"
    );

    // Errors are JSON, with the right status, and never echo member data.
    let (status, body) = server.request(
        "POST",
        "/v1/conversations/c2/messages",
        r#"{"text": 123456789, "note": "my ssn is 123-45-6789"}"#,
    );
    assert_eq!(status, 400);
    assert!(
        body.contains("bad_request")
            && !body.contains("123-45-6789")
            && !body.contains("123456789"),
        "{body}"
    );
    let (status, body) = server.request("POST", "/v1/conversations/c2/messages", "{not json");
    assert_eq!(status, 400, "{body}");
    let (status, _) = server.request(
        "POST",
        "/v1/conversations/c2/messages",
        &format!(r#"{{"text": "{}"}}"#, "a".repeat(10_000)),
    );
    assert_eq!(status, 413, "bodies over --max-body are refused");
    let (status, body) = server.request("GET", "/nowhere", "");
    assert_eq!(status, 404, "{body}");
    // A reply with personal data: redacted, flagged.
    let pii = server.message("c3", "my ssn is 123-45-6789, where is my order");
    assert!(!pii.to_string().contains("123-45-6789"));
    assert_eq!(pii["warnings"][0], "pii_redacted");

    let (status, body) = server.request("GET", "/healthz", "");
    assert_eq!(status, 200);
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    let (status, metrics) = server.request("GET", "/metrics", "");
    assert_eq!(status, 200);
    for needle in [
        "triage_requests_total{route=\"/v1/conversations/{id}/messages\",status=\"200\"}",
        "triage_requests_total{route=\"/v1/conversations/{id}/messages\",status=\"400\"}",
        "triage_request_duration_seconds_bucket{le=\"+Inf\"}",
        "triage_outcomes_total{outcome=\"clarify\"}",
        "triage_intents_total{intent=\"insurance_coverage\"}",
        "triage_fallbacks_total",
        "triage_sessions_live",
    ] {
        assert!(
            metrics.contains(needle),
            "{needle} missing from:\n{metrics}"
        );
    }
}

#[test]
fn a_slow_client_is_cut_off_by_the_header_timeout() {
    let server = Server::start(
        &root().join("tests/fixtures/holiday_pack"),
        &["--header-timeout-ms", "300"],
    );
    let mut stream = TcpStream::connect(&server.addr).expect("connect");
    stream
        .write_all(b"POST /v1/conversations/x/messages HTTP/1.1\r\nHost: t")
        .expect("send");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = Vec::new();
    // The server answers 408 or closes; either way the read ends well before 5 s.
    let started = std::time::Instant::now();
    let _ = stream.read_to_end(&mut buf);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the connection was held"
    );
    // And the server still serves others.
    let (status, _) = server.request("GET", "/healthz", "");
    assert_eq!(status, 200);
}

#[test]
fn reload_refuses_a_broken_pack_and_shutdown_is_graceful() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pack = dir.path().join("pack");
    copy_dir(&root().join("tests/fixtures/holiday_pack"), &pack);
    let server = Server::start(&pack, &[]);
    assert_eq!(server.message("a", "i need a refill")["intent"], "refill");

    std::fs::write(
        pack.join("broken.toml"),
        "[[intent]]\nid = \"x\"\nbogus = 1\n",
    )
    .expect("break");
    let (status, body) = server.request("POST", "/admin/reload", "");
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("broken.toml:3:1"),
        "the diagnostics name file:line:col: {body}"
    );
    assert_eq!(
        server.message("a", "i need a refill")["intent"],
        "refill",
        "the old pack serves"
    );

    // Fixed, and reloaded by SIGHUP; the conversation survives.
    std::fs::remove_file(pack.join("broken.toml")).expect("fix");
    server.signal("-HUP");
    let mut reloaded = false;
    for _ in 0..50 {
        let (_, metrics) = server.request("GET", "/metrics", "");
        if metrics.contains("triage_reloads_total{result=\"ok\"} 1") {
            reloaded = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(reloaded, "SIGHUP reloads the pack");
    let (_, metrics) = server.request("GET", "/metrics", "");
    assert!(metrics.contains("triage_sessions_live 1"), "{metrics}");

    // SIGTERM: stop accepting, finish, exit 0.
    let mut server = server;
    server.signal("-TERM");
    let status = server.child.wait().expect("exit");
    assert!(status.success(), "{status:?}");
}

/// A `redis-server` of the test's own on a free loopback port, stopped on drop.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    /// Starts one, or says why the test is skipped: `None` when redis-server is
    /// not installed (a failure instead where $TRIAGE_REQUIRE_REDIS is set, as in CI).
    fn start() -> Option<Redis> {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            assert!(
                std::env::var_os("TRIAGE_REQUIRE_REDIS").is_none(),
                "redis-server is required here (TRIAGE_REQUIRE_REDIS is set) but not installed"
            );
            eprintln!(
                "SKIPPED: redis-server is not installed (apt-get install redis-server); \
                 the Redis session tests did not run"
            );
            return None;
        }
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            let child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .spawn()
                .expect("start redis-server");
            let mut redis = Redis { child, port };
            for _ in 0..100 {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() && redis.cmd(&["PING"]) == "PONG"
                {
                    return Some(redis);
                }
                if let Ok(Some(_)) = redis.child.try_wait() {
                    break; // The port was taken meanwhile: try another.
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("redis-server did not start");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// One command over RESP; the reply as text (bulk strings, integers, status).
    fn cmd(&self, args: &[&str]) -> String {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return String::new();
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut request = format!("*{}\r\n", args.len());
        for a in args {
            request.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        if stream.write_all(request.as_bytes()).is_err() {
            return String::new();
        }
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return String::new();
        }
        let line = line.trim_end();
        match line.split_at(1) {
            ("$", "-1") => String::new(),
            ("$", n) => {
                let mut body = vec![0; n.parse::<usize>().expect("length") + 2];
                reader.read_exact(&mut body).expect("bulk");
                String::from_utf8_lossy(&body[..body.len() - 2]).into_owned()
            }
            (_, rest) => rest.to_string(),
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn two_instances_share_conversations_through_redis() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let pack = root().join("intents/caremark");
    let url = redis.url();
    let args = ["--sessions", url.as_str(), "--session-ttl-minutes", "1"];
    let mut a = Server::start(&pack, &args);
    let b = Server::start(&pack, &args);

    // A clarification asked by A ...
    assert_eq!(
        a.message("m1", "coverage question, i'm abroad")["outcome"],
        "clarify"
    );
    let stored = redis.cmd(&["GET", "triage:session:m1"]);
    assert!(stored.contains("\"pending\""), "{stored}");
    let ttl: i64 = redis
        .cmd(&["PTTL", "triage:session:m1"])
        .parse()
        .expect("pttl");
    assert!(
        (1..=60_000).contains(&ttl),
        "the idle TTL is the session's: {ttl}"
    );
    // ... A goes away mid-conversation, and B answers the choice.
    a.signal("-TERM");
    assert!(a.child.wait().expect("exit").success());
    assert_eq!(b.message("m1", "2")["intent"], "insurance_coverage");
    // A new A continues the same conversation over the Rasa channel.
    let a = Server::start(&pack, &args);
    let body =
        serde_json::json!({"sender": "m1", "message": "and if I'm on Medicare?"}).to_string();
    let (status, body) = a.request("POST", "/webhooks/rest/webhook", &body);
    assert_eq!(status, 200, "{body}");
    let stored: serde_json::Value =
        serde_json::from_str(&redis.cmd(&["GET", "triage:session:m1"])).expect("session JSON");
    assert_eq!(
        stored["turns"], 3,
        "three turns on three processes: {stored}"
    );
    let (_, metrics) = b.request("GET", "/metrics", "");
    assert!(metrics.contains("triage_sessions_live 1"), "{metrics}");

    // Personal data never reaches Redis.
    a.message("m2", "my ssn is 123-45-6789, where is my order");
    let stored = redis.cmd(&["GET", "triage:session:m2"]);
    assert!(
        stored.contains("[SSN]") && !stored.contains("123-45-6789"),
        "{stored}"
    );

    // Forgotten on request, for every instance.
    let (status, _) = b.request("DELETE", "/v1/conversations/m1", "");
    assert_eq!(status, 204);
    assert_eq!(redis.cmd(&["EXISTS", "triage:session:m1"]), "0");
    assert_eq!(a.message("m1", "2")["outcome"], "fallback");

    // Redis gone: an emergency still gets 911, and the failure is counted.
    drop(redis);
    let reply = b.message("m3", "my husband took too many pills and won't wake up");
    assert_eq!(reply["outcome"], "emergency");
    let (_, metrics) = b.request("GET", "/metrics", "");
    assert!(
        !metrics.contains("triage_session_store_errors_total 0"),
        "{metrics}"
    );
}

#[test]
fn an_unreachable_redis_is_refused_at_start_without_its_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let output = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(["serve", "--addr", "127.0.0.1:0", "--sessions"])
        .arg(format!("redis://:hunter2@127.0.0.1:{port}/0"))
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot reach the session store at redis://***@127.0.0.1:")
            && !stderr.contains("hunter2"),
        "{stderr}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).expect("copy");
        }
    }
}
