//! Every transcript under `transcripts/` is its own test case (datatest-stable):
//! `cargo test --test transcripts -- <name>` runs one. A failure prints the file, the
//! line, what was expected and what the reply had.

use std::path::Path;
use std::sync::OnceLock;

use triage::{Engine, transcript};

fn default_engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("intents/caremark");
        Engine::load_dir(&dir).expect("the default pack loads").0
    })
}

/// Failures as plain text: the harness prints errors with `Debug`, which would
/// quote and escape them.
struct Failures(String);

impl std::fmt::Debug for Failures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for Failures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failures {}

fn replay(path: &Path, text: String) -> datatest_stable::Result<()> {
    let t = transcript::parse(path, &text).map_err(|errors| {
        Failures(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    let own;
    let engine = match &t.pack {
        Some(dir) => {
            own = Engine::load_dir(dir)
                .map_err(|e| {
                    Failures(format!(
                        "{}: cannot load pack {}: {e}",
                        t.name,
                        dir.display()
                    ))
                })?
                .0;
            &own
        }
        None => default_engine(),
    };
    let report = transcript::run(engine, &t);
    if report.passed() {
        Ok(())
    } else {
        Err(Failures(format!("\n{}", report.render_failures())).into())
    }
}

datatest_stable::harness! {
    { test = replay, root = "transcripts", pattern = r"\.chat$" },
}
