//! `triage serve --stdio`: the conversation API as JSON lines on stdin/stdout, for
//! adapters written in other languages.
//!
//! In: `{"conversation": "c1", "text": "...", "at": "RFC 3339", "lang": "es"}`, or
//! `{"conversation": "c1", "delete": true}` to forget a conversation.
//! Out, one line each, in order: the reply contract plus `"conversation"`,
//! `{"conversation": "c1", "deleted": true}`, or
//! `{"conversation": "c1", "error": {"code": "...", "message": "..."}}` (never
//! echoing member text).

use std::io::{BufRead, Write};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Deserialize;
use triage::sessions::MemoryStore;
use triage::{Engine, Outcome};

/// Limits and options of the adapter.
pub struct Options {
    /// Live conversations kept at most.
    pub max_sessions: usize,
    /// Idle time after which a conversation is forgotten.
    pub session_ttl: Duration,
    /// Where fallbacks and clarifications are appended as redacted JSON lines.
    pub unmatched: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    conversation: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    delete: bool,
}

/// Longest conversation id accepted.
const MAX_ID: usize = 128;

fn error_line(conversation: Option<&str>, code: &str, message: &str) -> String {
    serde_json::json!({
        "conversation": conversation,
        "error": {"code": code, "message": message},
    })
    .to_string()
}

/// The line `--unmatched` appends for a fallback or a clarification (`None` for
/// other replies): the redacted text and the top candidates, with the evidence of
/// the same turn replayed from the session as it was before it.
pub fn unmatched_record(
    engine: &Engine,
    conversation: &str,
    text: &str,
    before: &triage::Session,
    reply: &triage::Reply,
    now: &jiff::ZonedDateTime,
) -> Option<serde_json::Value> {
    if !matches!(reply.outcome, Outcome::Fallback | Outcome::Clarify) {
        return None;
    }
    let explained = engine.respond_explained(&mut before.clone(), text, now);
    let mut candidates: Vec<String> = Vec::new();
    for e in explained.explain.iter().flatten() {
        if let Some(i) = &e.intent
            && !candidates.contains(i)
            && candidates.len() < 3
        {
            candidates.push(i.clone());
        }
    }
    Some(serde_json::json!({
        "time": now.timestamp().to_string(),
        "conversation": conversation,
        "text": engine.redact(text),
        "outcome": reply.outcome,
        "candidates": candidates,
    }))
}

/// The `--unmatched` file, opened for appending (created if missing).
pub fn open_unmatched(path: &std::path::Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))
}

/// Runs the adapter until stdin ends.
pub fn run(engine: &Engine, options: &Options) -> Result<()> {
    let mut store = MemoryStore::new(
        NonZeroUsize::new(options.max_sessions.max(1)).expect("at least one"),
        options.session_ttl,
    );
    let mut unmatched = options
        .unmatched
        .as_deref()
        .map(open_unmatched)
        .transpose()?;
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut buf = Vec::new();
    let mut input = stdin.lock();
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let reply = handle(engine, &mut store, line, unmatched.as_mut())?;
        writeln!(out, "{reply}")?;
        out.flush()?;
    }
    Ok(())
}

fn handle(
    engine: &Engine,
    store: &mut MemoryStore,
    line: &str,
    unmatched: Option<&mut std::fs::File>,
) -> Result<String> {
    let request: Request = match serde_json::from_str(line) {
        Ok(r) => r,
        Err(e) => {
            let message = crate::json_error(
                &e,
                "send {\"conversation\": string, \"text\": string, \"at\": RFC 3339 string, \"lang\": code} or {\"conversation\": string, \"delete\": true}",
            );
            return Ok(error_line(None, "bad_request", &message));
        }
    };
    let id = request.conversation.as_str();
    if id.is_empty() || id.len() > MAX_ID || id.chars().any(char::is_control) {
        return Ok(error_line(
            None,
            "bad_conversation",
            &format!("conversation must be 1–{MAX_ID} characters without control characters"),
        ));
    }
    if request.delete {
        let known = store.remove(id);
        return Ok(serde_json::json!({"conversation": id, "deleted": known}).to_string());
    }
    let Some(text) = request.text.as_deref() else {
        return Ok(error_line(Some(id), "bad_request", "text is required"));
    };
    let tz = engine.pack().time_zone.clone();
    let now = match request.at.as_deref() {
        None => jiff::Timestamp::now().to_zoned_datetime(tz),
        Some(at) => match at.parse::<jiff::Timestamp>() {
            Ok(t) => t.to_zoned_datetime(tz),
            Err(_) => {
                return Ok(error_line(
                    Some(id),
                    "bad_clock",
                    "at must be RFC 3339 with an offset, e.g. 2026-11-24T21:00:00-06:00",
                ));
            }
        },
    };
    let clock = Instant::now();
    let mut session = store.take(id, clock);
    if let Some(lang) = &request.lang {
        if engine.pack().language(lang).is_none() {
            store.put(id, session, clock);
            return Ok(error_line(
                Some(id),
                "bad_language",
                "lang is not a language of the pack",
            ));
        }
        session.language = Some(lang.clone());
    }
    let before = session.clone();
    let reply = engine.respond(&mut session, text, &now);
    if let Some(file) = unmatched
        && let Some(record) = unmatched_record(engine, id, text, &before, &reply, &now)
    {
        writeln!(file, "{record}").context("cannot append to the unmatched file")?;
    }
    tracing::info!(
        conversation = id,
        outcome = ?reply.outcome,
        intent = reply.intent.as_deref().unwrap_or("-"),
        "message"
    );
    store.put(id, session, clock);
    let mut value = serde_json::to_value(&reply)?;
    if let Some(map) = value.as_object_mut() {
        map.insert("conversation".into(), serde_json::Value::from(id));
    }
    Ok(value.to_string())
}
