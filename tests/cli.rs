//! End-to-end tests of the `triage` binary: `ask`, `classify`, `check` and `gen-pack`.
//!
//! Every run uses the repository's default pack (the working directory is the crate
//! root and `TRIAGE_PACK` is cleared) unless a test passes `--pack`, and every run
//! whose answer depends on opening hours passes `--at`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use regex::Regex;
use serde_json::Value;

/// A Tuesday morning in the pack's time zone: every line that is 24/7 or weekday is open.
const TUESDAY_MORNING: &str = "2026-11-24T10:00:00-06:00";
/// A Sunday night: the TTY line (Monday–Saturday, 8 a.m. – 8 p.m. CT) is closed.
const SUNDAY_NIGHT: &str = "2026-11-29T21:00:00-06:00";

/// One run of the binary, built step by step.
struct Test {
    args: Vec<String>,
    stdin: Vec<u8>,
}

/// What a run printed and how it exited.
#[derive(Debug)]
struct Output {
    stdout: String,
    stderr: String,
    code: i32,
}

impl Test {
    fn new() -> Test {
        Test {
            args: Vec::new(),
            stdin: Vec::new(),
        }
    }

    fn args<I, S>(mut self, args: I) -> Test
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    fn stdin(mut self, input: impl Into<Vec<u8>>) -> Test {
        self.stdin = input.into();
        self
    }

    fn run(self) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_triage"))
            .args(&self.args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("TRIAGE_PACK")
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start triage");
        // Feed stdin from another thread so that a large input cannot deadlock
        // against a full stdout pipe.
        let mut pipe = child.stdin.take().expect("stdin is piped");
        let input = self.stdin;
        let writer = std::thread::spawn(move || {
            // The binary may exit without reading everything (e.g. on a usage error).
            let _ = pipe.write_all(&input);
        });
        let out = child.wait_with_output().expect("wait for triage");
        writer.join().expect("stdin writer");
        Output {
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code().expect("triage exited with a code"),
        }
    }
}

impl Output {
    /// Asserts exit code 0 and returns self.
    fn success(self) -> Output {
        assert_eq!(self.code, 0, "expected success:\n{self:#?}");
        self
    }

    /// Stdout as one JSON value.
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// Stdout as one JSON value per line.
    fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))
            })
            .collect()
    }
}

/// `triage ask --json --at <at> <text>`, parsed.
fn ask_json(at: &str, text: &str) -> Value {
    Test::new()
        .args(["ask", "--json", "--at", at, text])
        .run()
        .success()
        .json()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_else(|| panic!("not a string: {s}")))
        .collect()
}

fn default_pack_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("intents/caremark")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create folder");
    for entry in std::fs::read_dir(from).expect("read folder") {
        let entry = entry.expect("folder entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

// ---------------------------------------------------------------------------------
// ask

#[test]
fn ask_json_prints_the_reply_contract() {
    let out = Test::new()
        .args([
            "ask",
            "--json",
            "--at",
            TUESDAY_MORNING,
            "my meds never came",
        ])
        .run()
        .success();
    let reply = out.json();
    let obj = reply.as_object().expect("a JSON object");
    for key in [
        "outcome",
        "intent",
        "confidence",
        "language",
        "reply",
        "actions",
        "choices",
        "warnings",
    ] {
        assert!(obj.contains_key(key), "missing {key:?}: {reply:#}");
    }
    assert!(
        !obj.contains_key("explain"),
        "no explain without --explain: {reply:#}"
    );

    assert_eq!(reply["outcome"], "answer");
    assert!(reply["intent"].as_str().is_some_and(|i| !i.is_empty()));
    let confidence = reply["confidence"].as_f64().expect("a number");
    assert!(confidence > 0.0 && confidence <= 1.0, "{confidence}");
    assert_eq!(reply["language"], "en");
    assert!(
        reply["reply"]
            .as_str()
            .is_some_and(|r| r.contains("1-800-237-2765")),
        "{reply:#}"
    );
    assert!(reply["choices"].as_array().is_some());
    assert!(reply["warnings"].as_array().is_some_and(Vec::is_empty));

    let first = &reply["actions"][0];
    assert_eq!(first["kind"], "call");
    assert_eq!(first["route"], "main:1");
    assert_eq!(first["number"], "1-800-237-2765");
    // The menu key is a string in the contract, never a number.
    assert_eq!(first["option"], Value::String("1".into()));
    assert_eq!(first["open_now"], true);
}

#[test]
fn ask_json_with_explain_adds_the_evidence() {
    let reply = Test::new()
        .args([
            "ask",
            "--json",
            "--explain",
            "--at",
            TUESDAY_MORNING,
            "my meds never came",
        ])
        .run()
        .success()
        .json();
    let explain = reply["explain"].as_array().expect("an explain array");
    assert!(!explain.is_empty(), "{reply:#}");
    // The decision is the same with or without the evidence.
    assert_eq!(reply["actions"][0]["route"], "main:1");
}

#[test]
fn ask_human_output_names_the_number_and_the_key() {
    let out = Test::new()
        .args(["ask", "--at", TUESDAY_MORNING, "my meds never came"])
        .run()
        .success();
    assert!(out.stdout.contains("1-800-237-2765"), "{}", out.stdout);
    assert!(out.stdout.contains("press 1"), "{}", out.stdout);
    assert!(
        serde_json::from_str::<Value>(&out.stdout).is_err(),
        "human output is not JSON"
    );
}

#[test]
fn ask_joins_several_words() {
    let split = Test::new()
        .args([
            "ask",
            "--json",
            "--at",
            TUESDAY_MORNING,
            "my",
            "meds",
            "never",
            "came",
        ])
        .run()
        .success()
        .json();
    assert_eq!(split, ask_json(TUESDAY_MORNING, "my meds never came"));
}

#[test]
fn emergency_goes_to_911_and_nowhere_else() {
    let reply = ask_json(TUESDAY_MORNING, "I took my whole bottle of sleeping pills");
    assert_eq!(reply["outcome"], "emergency", "{reply:#}");
    assert_eq!(reply["actions"][0]["number"], "911", "{reply:#}");
    assert_eq!(reply["actions"][0]["kind"], "call");
    let text = reply["reply"].as_str().expect("reply text");
    assert!(text.contains("911"), "{text}");
    let press = Regex::new(r"(?i)\bpress\s*\d").expect("valid regex");
    assert!(
        !press.is_match(text),
        "no phone menu in an emergency: {text}"
    );
    // No action points into the pharmacy's phone menu either.
    for action in reply["actions"].as_array().expect("actions") {
        assert!(action.get("option").is_none(), "{action}");
        assert_ne!(action["number"], "1-800-237-2765", "{action}");
    }
}

#[test]
fn spanish_is_routed_to_the_spanish_option() {
    let reply = ask_json(TUESDAY_MORNING, "mi paquete no ha llegado");
    assert_eq!(reply["language"], "es", "{reply:#}");
    assert_eq!(reply["actions"][0]["route"], "main:9", "{reply:#}");
    assert_eq!(reply["actions"][0]["option"], "9");
}

#[test]
fn ssn_never_leaves_the_process() {
    let ssn = Regex::new(r"078[\s.\-–—_/]*05[\s.\-–—_/]*1120").expect("valid regex");
    let message = "my ssn is 078-05-1120 please refill my lisinopril";
    // The pattern is not vacuous: it finds the number however it is written.
    for written in [message, "078 05 1120", "078051120", "078.05.1120"] {
        assert!(ssn.is_match(written), "{written}");
    }
    let runs = [
        Test::new()
            .args(["ask", "--json", "--at", TUESDAY_MORNING, message])
            .run(),
        Test::new()
            .args([
                "ask",
                "--json",
                "--explain",
                "--at",
                TUESDAY_MORNING,
                message,
            ])
            .run(),
        Test::new()
            .args(["ask", "--at", TUESDAY_MORNING, message])
            .run(),
        Test::new()
            .args(["classify", "--at", TUESDAY_MORNING])
            .stdin(format!(
                "{message}\n{{\"id\": 1, \"text\": \"{message}\"}}\n"
            ))
            .run(),
    ];
    for out in &runs {
        assert_eq!(out.code, 0, "{out:#?}");
        assert!(!ssn.is_match(&out.stdout), "SSN in stdout:\n{}", out.stdout);
        assert!(!ssn.is_match(&out.stderr), "SSN in stderr:\n{}", out.stderr);
    }
    let reply = runs[0].json();
    assert!(
        strings(&reply["warnings"]).contains(&"pii_redacted"),
        "{reply:#}"
    );
    // The rest of the message is still answered.
    assert_eq!(reply["outcome"], "answer");
    assert_eq!(reply["actions"][0]["route"], "main:1");
    for line in runs[3].json_lines() {
        assert!(
            strings(&line["warnings"]).contains(&"pii_redacted"),
            "{line}"
        );
    }
}

#[test]
fn bad_at_exits_2_and_names_rfc_3339() {
    for at in [
        "tomorrow",
        "2026-11-24T10:00:00",
        "2026-13-01T10:00:00-06:00",
    ] {
        let out = Test::new()
            .args(["ask", "--json", "--at", at, "my meds never came"])
            .run();
        assert_eq!(out.code, 2, "{at}: {out:#?}");
        assert!(out.stderr.contains("RFC 3339"), "{at}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{at}: {}", out.stdout);
    }
    let out = Test::new()
        .args(["classify", "--at", "tomorrow"])
        .stdin("my meds never came\n")
        .run();
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(out.stderr.contains("RFC 3339"), "{}", out.stderr);
}

#[test]
fn tty_request_on_a_sunday_night() {
    // Regression: "what number" (main_number) used to outweigh "deaf" (tty_line).
    let reply = ask_json(SUNDAY_NIGHT, "I am deaf, what number do I call");
    assert_eq!(reply["intent"], "tty_line", "{reply:#}");
    assert_eq!(reply["actions"][0]["route"], "tty", "{reply:#}");
    assert_eq!(reply["actions"][0]["open_now"], false);
    assert!(strings(&reply["warnings"]).contains(&"closed_now"));
    assert!(reply["reply"].as_str().expect("text").contains("Monday"));
}

#[test]
fn tty_line_is_closed_on_a_sunday_night_and_opens_monday() {
    let reply = ask_json(SUNDAY_NIGHT, "I am deaf, what number do I use");
    let first = &reply["actions"][0];
    assert_eq!(first["route"], "tty", "{reply:#}");
    assert_eq!(first["number"], "1-800-711-4041");
    assert_eq!(first["open_now"], false, "{reply:#}");
    assert!(
        strings(&reply["warnings"]).contains(&"closed_now"),
        "{reply:#}"
    );
    let text = reply["reply"].as_str().expect("reply text");
    assert!(text.contains("Monday"), "{text}");
    assert!(text.contains("opens Monday 8 a.m."), "{text}");
    // Regression: the closed message used to end "a.m.." (two periods).
    assert!(!text.contains("a.m.."), "{text}");
}

#[test]
fn tty_line_is_open_on_a_weekday_morning() {
    let reply = ask_json(TUESDAY_MORNING, "I am deaf, what number do I use");
    assert_eq!(reply["actions"][0]["route"], "tty", "{reply:#}");
    assert_eq!(reply["actions"][0]["open_now"], true, "{reply:#}");
    assert!(!strings(&reply["warnings"]).contains(&"closed_now"));
}

// ---------------------------------------------------------------------------------
// classify

#[test]
fn classify_answers_every_line_in_order() {
    let mut input = Vec::new();
    input.extend_from_slice(b"my meds never came\n");
    input.extend_from_slice(
        br#"{"id": 7, "text": "I need a refill", "at": "2026-11-24T10:00:00-06:00"}"#,
    );
    input.push(b'\n');
    input.extend_from_slice(b"{\"text\": 5}\n");
    input.extend_from_slice(b"\n");
    input.extend_from_slice(b"\xff\xfe my meds \xc3 never came\n");
    let out = Test::new()
        .args(["classify", "--at", TUESDAY_MORNING])
        .stdin(input)
        .run()
        .success();
    let lines = out.json_lines();
    assert_eq!(lines.len(), 5, "{}", out.stdout);

    // 1: plain text.
    assert_eq!(lines[0]["outcome"], "answer", "{}", lines[0]);
    assert_eq!(lines[0]["actions"][0]["route"], "main:1");
    assert!(lines[0].get("id").is_none(), "{}", lines[0]);
    assert!(lines[0].get("explain").is_none(), "classify never explains");

    // 2: a JSON request; its id comes back as given.
    assert_eq!(lines[1]["id"], 7, "{}", lines[1]);
    assert_eq!(lines[1]["outcome"], "answer");
    assert_eq!(lines[1]["actions"][0]["route"], "main:1");

    // 3: a malformed request.
    let error = &lines[2]["error"];
    assert_eq!(error["line"], 3, "{}", lines[2]);
    let message = error["message"].as_str().expect("a message");
    assert!(message.starts_with("invalid request"), "{message}");
    assert!(lines[2].get("outcome").is_none());

    // 4: a blank line.
    assert_eq!(lines[3]["error"]["line"], 4, "{}", lines[3]);
    assert!(
        lines[3]["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("blank")),
        "{}",
        lines[3]
    );

    // 5: invalid UTF-8 is replaced, and the rest of the line still gets a reply.
    assert!(lines[4].get("error").is_none(), "{}", lines[4]);
    assert_eq!(lines[4]["outcome"], "answer", "{}", lines[4]);
    assert!(lines[4]["reply"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(out.stderr.contains("invalid UTF-8"), "{}", out.stderr);
}

#[test]
fn classify_errors_do_not_echo_the_members_text() {
    let secret = "my ssn is 078-05-1120";
    let input = [
        // Trailing comma.
        format!("{{\"text\": \"{secret}\", }}"),
        // Missing comma.
        format!("{{\"text\": \"{secret}\" \"id\": 1}}"),
        // Unterminated object.
        format!("{{\"text\": \"{secret}\""),
        // The text as an array.
        format!("{{\"text\": [\"{secret}\"]}}"),
        // A bad "at" (the text is fine, the clock is not).
        format!("{{\"text\": \"{secret}\", \"at\": \"{secret}\"}}"),
    ]
    .join("\n");
    let out = Test::new()
        .args(["classify", "--at", TUESDAY_MORNING])
        .stdin(input + "\n")
        .run()
        .success();
    let lines = out.json_lines();
    assert_eq!(lines.len(), 5, "{}", out.stdout);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["error"]["line"], i + 1, "{line}");
        let message = line["error"]["message"].as_str().expect("a message");
        assert!(!message.contains("078"), "{message}");
        assert!(!message.contains("ssn"), "{message}");
    }
    assert!(
        lines[4]["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("invalid \"at\"")),
        "{}",
        lines[4]
    );
    assert!(!out.stdout.contains("078-05-1120"));
    assert!(!out.stderr.contains("078-05-1120"));
}

#[test]
fn classify_errors_never_echo_keys_or_values() {
    let input = "{\"text\": 78051120}\n{\"my ssn is 078-05-1120\": \"refill\"}\n";
    let out = Test::new()
        .args(["classify", "--at", TUESDAY_MORNING])
        .stdin(input)
        .run()
        .success();
    let lines = out.json_lines();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    let message = |i: usize| lines[i]["error"]["message"].as_str().expect("a message");
    // Regression: serde_json's own messages quote the value or key, which may be
    // member data; error lines name the problem and the column only.
    for i in 0..2 {
        assert!(!message(i).contains("7805"), "{}", message(i));
        assert!(!message(i).contains("078-05"), "{}", message(i));
        assert!(message(i).contains("column"), "{}", message(i));
    }
}

#[test]
fn classify_keeps_order_over_3000_lines_on_two_threads() {
    let texts = [
        "my meds never came",
        "I need a refill",
        "what is the fax number",
        "mi paquete no ha llegado",
        "I took my whole bottle of sleeping pills",
        "I am deaf, what number do I use",
    ];
    let n = 3000;
    let input: String = (0..n)
        .map(|i| {
            let request = serde_json::json!({"id": i, "text": texts[i % texts.len()]});
            format!("{request}\n")
        })
        .collect();
    let two = Test::new()
        .args(["classify", "--threads", "2", "--at", TUESDAY_MORNING])
        .stdin(input.clone())
        .run()
        .success();
    let lines = two.json_lines();
    assert_eq!(lines.len(), n);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["id"], i, "line {}: {line}", i + 1);
        assert!(line.get("error").is_none(), "line {}: {line}", i + 1);
    }
    // Same answers as one thread, byte for byte.
    let one = Test::new()
        .args(["classify", "--threads", "1", "--at", TUESDAY_MORNING])
        .stdin(input)
        .run()
        .success();
    assert_eq!(one.stdout, two.stdout);
}

#[test]
fn classify_error_line_numbers_count_every_line() {
    // Error line numbers stay right when the lines are spread over several threads.
    let mut input = String::new();
    for i in 1..=50 {
        if i % 10 == 0 {
            input.push('\n');
        } else {
            input.push_str("I need a refill\n");
        }
    }
    let out = Test::new()
        .args(["classify", "--threads", "3", "--at", TUESDAY_MORNING])
        .stdin(input)
        .run()
        .success();
    let lines = out.json_lines();
    assert_eq!(lines.len(), 50);
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        if n % 10 == 0 {
            assert_eq!(line["error"]["line"], n, "{line}");
        } else {
            assert!(line.get("error").is_none(), "line {n}: {line}");
        }
    }
}

#[test]
fn classify_on_empty_input_prints_nothing() {
    let out = Test::new()
        .args(["classify", "--at", TUESDAY_MORNING])
        .run()
        .success();
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

// ---------------------------------------------------------------------------------
// check

#[test]
fn check_the_default_pack() {
    let out = Test::new().args(["check"]).run().success();
    let last = out.stdout.lines().last().expect("a summary line");
    assert!(last.contains("0 error(s)"), "{last}");
    assert!(!out.stdout.contains("\nerror:") && !out.stdout.starts_with("error:"));
}

#[test]
fn check_the_default_pack_as_json() {
    let out = Test::new()
        .args(["check", "--format", "json"])
        .run()
        .success();
    let report = out.json();
    assert_eq!(report["n_errors"], 0, "{report:#}");
    assert!(report["n_intents"].as_u64().is_some_and(|n| n > 0));
    assert!(report["n_contacts"].as_u64().is_some_and(|n| n > 0));
    let diagnostics = report["diagnostics"].as_array().expect("diagnostics");
    assert_eq!(
        report["n_warnings"].as_u64(),
        Some(diagnostics.len() as u64)
    );
    for d in diagnostics {
        assert_eq!(d["severity"], "warning", "{d}");
    }
}

#[test]
fn check_a_broken_pack_exits_1() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&default_pack_dir(), dir.path());
    std::fs::write(
        dir.path().join("intents/zz_broken.toml"),
        r#"[[intent]]
id = "zz_broken"
title = "Broken"
route = "helpdesk"
phrases = ["broken pack"]
answer.en = "Call {main.number}."
answer.es = "Llame al {main.number}."
"#,
    )
    .expect("write the broken intent");
    let pack = dir.path().to_str().expect("a UTF-8 temp path");

    let out = Test::new().args(["check", "--pack", pack]).run();
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(
        out.stdout.contains("error: unknown contact \"helpdesk\""),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("zz_broken.toml:4:9"), "{}", out.stdout);
    let last = out.stdout.lines().last().expect("a summary line");
    assert!(last.contains("1 error(s)"), "{last}");

    let out = Test::new()
        .args(["check", "--format", "json", "--pack", pack])
        .run();
    assert_eq!(out.code, 1, "{out:#?}");
    let report = out.json();
    assert_eq!(report["n_errors"], 1, "{report:#}");

    // A broken pack cannot answer either.
    let out = Test::new()
        .args(["ask", "--pack", pack, "--at", TUESDAY_MORNING, "hi"])
        .run();
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(out.stderr.contains("cannot load pack"), "{}", out.stderr);
}

#[test]
fn check_a_missing_pack_folder_exits_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no-such-pack");
    let out = Test::new()
        .args(["check", "--pack", missing.to_str().expect("UTF-8 path")])
        .run();
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(out.stderr.contains("cannot read pack"), "{}", out.stderr);
}

#[test]
fn gen_pack_writes_a_pack_and_messages_that_classify() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pack = dir.path().join("pack");
    let messages = dir.path().join("messages.txt");
    let out = Test::new()
        .args(["gen-pack", "--intents", "50", "--seed", "3", "--messages"])
        .args([
            messages.to_str().expect("utf-8"),
            pack.to_str().expect("utf-8"),
        ])
        .run()
        .success();
    assert!(out.stdout.contains("50 intents"), "{out:?}");
    let text = std::fs::read_to_string(&messages).expect("messages written");
    assert_eq!(text.lines().count(), 1000, "--count defaults to 1000");
    let check = Test::new()
        .args(["check", "--pack", pack.to_str().expect("utf-8")])
        .run();
    assert!(
        check.stdout.contains("50 intents, 1 contacts, 0 error(s)"),
        "{check:?}"
    );
    let replies = Test::new()
        .args(["classify", "--pack", pack.to_str().expect("utf-8")])
        .stdin(text)
        .run()
        .success()
        .json_lines();
    assert_eq!(replies.len(), 1000);
    // Writing into a pack that is already there is refused.
    let again = Test::new()
        .args(["gen-pack", "--intents", "5", pack.to_str().expect("utf-8")])
        .run();
    assert_eq!(again.code, 2, "{again:?}");
    assert!(again.stderr.contains("is not empty"), "{again:?}");
}
