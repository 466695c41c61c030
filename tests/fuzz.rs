//! Fuzz targets (bolero). Under `cargo test` each runs on random inputs for a
//! bounded number of iterations; for a longer run on the stable toolchain:
//!
//! ```sh
//! cargo install cargo-bolero
//! cargo bolero test fuzz_respond --test fuzz --engine libfuzzer -s none -T 10min
//! ```
//!
//! Every target asserts more than "no panic": replies are well-formed, nothing
//! raw reaches them, parse errors carry a line.

use std::path::Path;
use std::sync::OnceLock;

use triage::{Engine, Session, transcript};

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("intents/caremark");
        Engine::load_dir(&dir).expect("default pack").0
    })
}

fn now() -> jiff::ZonedDateTime {
    "2026-11-24T10:00:00-06:00[America/Chicago]"
        .parse()
        .expect("instant")
}

#[test]
fn fuzz_normalize() {
    bolero::check!().for_each(|bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let redacted = engine().redact(&text);
        assert!(!redacted.chars().any(|c| c.is_control()), "{redacted:?}");
        assert_eq!(engine().redact(&redacted), redacted);
    });
}

#[test]
fn fuzz_respond() {
    bolero::check!().for_each(|bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let reply = engine().respond(&mut Session::new(), &text, &now());
        assert!((0.0..=1.0).contains(&reply.confidence));
        assert!(!reply.reply.is_empty());
        assert!(!reply.reply.chars().any(|c| c.is_control()));
        serde_json::to_string(&reply).expect("the reply serializes");
    });
}

#[test]
fn fuzz_pack_load() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/holiday_pack");
    let files = triage::read_pack_dir(&base).expect("fixture pack");
    bolero::check!().for_each(|bytes: &[u8]| {
        let mut files = files.clone();
        files.push((
            base.join("fuzz.toml"),
            String::from_utf8_lossy(bytes).into_owned(),
        ));
        let report = triage::check(files);
        // Errors always name a file and a line.
        for d in report.diagnostics.iter().filter(|d| d.is_error()) {
            assert!(d.line >= 1, "{}", d.render());
        }
    });
}

#[test]
fn fuzz_transcript_parse() {
    bolero::check!().for_each(|bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let lines = text.lines().count().max(1);
        match transcript::parse(Path::new("fuzz.chat"), &text) {
            Ok(t) => {
                let report = transcript::run(engine(), &t);
                assert!(report.turns <= lines);
            }
            Err(errors) => {
                assert!(!errors.is_empty());
                assert!(errors.iter().all(|e| e.line >= 1 && e.line <= lines));
            }
        }
    });
}
