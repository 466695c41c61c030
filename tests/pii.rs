//! Personal data never leaves the engine: for every message of the PII corpus
//! (`tests/data/pii.jsonl`, written before tuning), no raw value appears in the reply,
//! in the logs (captured at TRACE, where the redacted message is logged) or in a saved
//! transcript; the redaction placeholders do appear, so a test cannot pass by logging
//! or saving nothing. Negative controls (the pharmacy's own numbers, order numbers,
//! dosages, invalid card or SSN numbers) must not be redacted.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use triage::{Engine, Session, Warning, transcript};

#[derive(Deserialize)]
struct Row {
    text: String,
    values: Vec<String>,
    kinds: Vec<String>,
    negative: bool,
}

fn rows() -> Vec<Row> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pii.jsonl");
    std::fs::read_to_string(path)
        .expect("corpus")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a corpus line"))
        .collect()
}

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[test]
fn personal_data_is_never_echoed_logged_or_saved() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (engine, _) = Engine::load_dir(&root.join("intents/caremark")).expect("default pack");
    let now: jiff::ZonedDateTime = "2026-11-24T10:00:00-06:00[America/Chicago]"
        .parse()
        .expect("instant");
    let rows = rows();
    assert!(rows.len() >= 50);
    let mut leaks = Vec::new();
    let mut unflagged = Vec::new();
    let mut false_alarms = Vec::new();
    for row in &rows {
        let logs = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(logs.clone())
            .with_ansi(false)
            .finish();
        let mut session = Session::new();
        let reply = tracing::subscriber::with_default(subscriber, || {
            engine.respond_explained(&mut session, &row.text, &now)
        });
        let reply_json = serde_json::to_string(&reply).expect("reply serializes");
        let log_text = String::from_utf8(logs.0.lock().expect("lock").clone()).expect("utf-8");
        let saved = transcript::write(
            "pii test",
            &[(now.clone(), engine.redact(&row.text), reply.clone())],
        );
        let history = serde_json::to_string(&session).expect("session serializes");
        assert!(
            log_text.contains("message"),
            "the message is logged at TRACE: {log_text}"
        );
        for v in &row.values {
            for (place, text) in [
                ("reply", &reply_json),
                ("log", &log_text),
                ("transcript", &saved),
                ("session", &history),
            ] {
                if text.contains(v.as_str()) {
                    leaks.push(format!(
                        "{place}: {v:?} ({:?}) in {:?}",
                        row.kinds, row.text
                    ));
                }
            }
        }
        let flagged = reply.warnings.contains(&Warning::PiiRedacted);
        if row.negative {
            if flagged {
                false_alarms.push(format!("{:?} -> {}", row.text, engine.redact(&row.text)));
            }
        } else {
            let placeholder = |t: &str| t.contains("[") && t.contains("]");
            if !flagged || !placeholder(&log_text) || !placeholder(&saved) {
                unflagged.push(format!("{:?} ({:?})", row.text, row.kinds));
            }
        }
    }
    let positives = rows.iter().filter(|r| !r.negative).count();
    let negatives = rows.len() - positives;
    println!(
        "pii corpus: {} messages; leaks {}; positives flagged {}/{}; negatives left alone {}/{}",
        rows.len(),
        leaks.len(),
        positives - unflagged.len(),
        positives,
        negatives - false_alarms.len(),
        negatives
    );
    for l in &leaks {
        println!("  LEAK {l}");
    }
    for u in &unflagged {
        println!("  NOT FLAGGED {u}");
    }
    for f in &false_alarms {
        println!("  FALSE ALARM {f}");
    }
    assert!(leaks.is_empty(), "{} leaks", leaks.len());
    assert!(unflagged.is_empty(), "{} not flagged", unflagged.len());
    assert!(
        false_alarms.is_empty(),
        "{} false alarms",
        false_alarms.len()
    );
}
