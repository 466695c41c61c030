//! `triage serve --stdio`: conversations continue across lines, can be forgotten,
//! bad lines get error lines that never echo member data, and the unmatched log
//! holds redacted text only.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn run(args: &[&str], input: &str) -> (Vec<serde_json::Value>, String, bool) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_triage"))
        .arg("serve")
        .args(args)
        .arg("--pack")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("intents/caremark"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start serve");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("output");
    let lines = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("every output line is JSON"))
        .collect();
    (
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

const AT: &str = "2026-11-24T10:00:00-06:00";

fn line(conversation: &str, text: &str) -> String {
    serde_json::json!({"conversation": conversation, "text": text, "at": AT}).to_string() + "\n"
}

#[test]
fn conversations_continue_and_can_be_forgotten() {
    let input = [
        line("a", "coverage question, i'm abroad"),
        line("b", "i need a refill"),
        line("a", "2"),
        line("b", "what are their hours?"),
        "{\"conversation\": \"a\", \"delete\": true}\n".to_string(),
        line("a", "2"),
    ]
    .concat();
    let (out, stderr, ok) = run(&["--stdio"], &input);
    assert!(ok, "{stderr}");
    assert_eq!(out.len(), 6);
    assert_eq!(out[0]["outcome"], "clarify");
    assert_eq!(out[0]["conversation"], "a");
    assert_eq!(
        out[2]["intent"], "insurance_coverage",
        "a's clarification resolved"
    );
    assert_eq!(
        out[3]["intent"], "follow_up_hours",
        "b's follow-up on its own route"
    );
    assert_eq!(out[3]["actions"][0]["route"], "main:1");
    assert_eq!(
        out[4],
        serde_json::json!({"conversation": "a", "deleted": true})
    );
    assert_eq!(
        out[5]["outcome"], "fallback",
        "a was forgotten: \"2\" means nothing"
    );
}

#[test]
fn bad_lines_get_error_lines_without_member_data() {
    let input = "{\"conversation\": \"x\", \"text\": 5, \"note\": \"123-45-6789\"}\n\
                 {\"text\": \"my ssn is 123-45-6789\"}\n\
                 not json 123-45-6789\n\
                 {\"conversation\": \"x\", \"text\": \"hi\", \"at\": \"123-45-6789\"}\n\
                 {\"conversation\": \"x\", \"text\": \"hola\", \"lang\": \"xx\"}\n";
    let (out, _, ok) = run(&["--stdio"], input);
    assert!(ok);
    assert_eq!(out.len(), 5);
    for reply in &out {
        assert!(reply["error"]["code"].is_string(), "{reply}");
        assert!(!reply.to_string().contains("123-45-6789"), "{reply}");
    }
    assert_eq!(out[3]["error"]["code"], "bad_clock");
    assert_eq!(out[4]["error"]["code"], "bad_language");
}

#[test]
fn unmatched_messages_are_logged_redacted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("unmatched.jsonl");
    let input = [
        line("u", "qwerty asdf zxcv 123-45-6789"),
        line("u", "where is my order"),
    ]
    .concat();
    let (out, _, ok) = run(
        &["--stdio", "--unmatched", log.to_str().expect("utf-8 path")],
        &input,
    );
    assert!(ok);
    assert_eq!(out[0]["outcome"], "fallback");
    let text = std::fs::read_to_string(&log).expect("unmatched log");
    assert_eq!(text.lines().count(), 1, "only the fallback: {text}");
    assert!(
        text.contains("[SSN]") && !text.contains("123-45-6789"),
        "{text}"
    );
    let record: serde_json::Value = serde_json::from_str(text.trim()).expect("JSON");
    assert_eq!(record["conversation"], "u");
    assert_eq!(record["outcome"], "fallback");
}
