//! `triage`: a deterministic, explainable support triage engine.
//!
//! A member's message goes through four stages — normalize, match, decide, render —
//! and comes out as a [`Reply`]: where to go next (a phone line and menu option, a
//! portal or app action, a store, or 911), and why. Everything domain-specific lives
//! in a TOML pack (see `intents/README.md`); the engine knows nothing of pharmacies.
//!
//! # Example
//!
//! ```
//! use triage::{Engine, Outcome, Session};
//!
//! let (engine, _warnings) = Engine::load_dir(std::path::Path::new("intents/caremark"))
//!     .expect("the default pack loads");
//! let mut session = Session::new();
//! let now: jiff::ZonedDateTime = "2026-11-24T10:00:00-06:00[America/Chicago]".parse().unwrap();
//! let reply = engine.respond(&mut session, "my meds never came", &now);
//! assert_eq!(reply.outcome, Outcome::Answer);
//! assert_eq!(reply.actions[0].route, "main:1");
//! println!("{}", serde_json::to_string(&reply).unwrap());
//! ```

#![deny(missing_docs)]

mod analyze;
mod check;
mod diag;
mod dialogue;
mod domain;
pub mod embed;
mod engine;
pub mod eval;
mod hours;
pub mod import;
mod matcher;
pub mod model;
mod normalize;
mod pack;
mod par;
mod pii;
mod render;
pub mod sessions;
pub mod synth;
pub mod transcript;

pub use check::{CheckReport, check};
pub use diag::{Diagnostic, Severity};
pub use dialogue::Session;
pub use engine::{Engine, LoadError};
pub use pack::{IntentOutcome, Pack, read_dir as read_pack_dir};
pub use render::{
    Action, ActionKind, Choice, Explain, Outcome, Reply, Warning, human as render_human,
};

#[cfg(test)]
mod tests {
    #[test]
    fn public_types_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<crate::Engine>();
        assert_send_sync::<crate::Session>();
        assert_send_sync::<crate::Reply>();
    }
}

/// Stage entry points for the benchmarks (`benches/`): not a stable API.
#[doc(hidden)]
pub mod stages {
    use crate::Engine;

    /// Clean, redact and fold a message: the pack-free part of normalization.
    pub fn normalize(engine: &Engine, text: &str) -> String {
        let cleaned = crate::normalize::clean(text, engine.pack.max_message_chars);
        let redacted = crate::pii::redact(&cleaned.text, &engine.pii);
        crate::normalize::fold(&redacted.text)
    }

    /// Analyse a folded message (tokens, stems, synonyms, typos); returns the
    /// number of tokens.
    pub fn analyze(engine: &Engine, folded: &str) -> usize {
        engine.analyzer.analyze(folded).tokens.len()
    }

    /// What the matcher's automata are built from: every phrase, hint and
    /// negative phrase as the matcher keys it, and every pattern with lookups
    /// expanded. The benchmarks' floor scans these with one automaton and one set.
    pub fn floor_parts(engine: &Engine) -> (Vec<String>, Vec<String>) {
        let mut keys = Vec::new();
        let mut patterns = Vec::new();
        for intent in &engine.pack.intents {
            for phrase in intent
                .phrases
                .iter()
                .chain(&intent.hints)
                .chain(&intent.negative)
            {
                keys.extend(engine.analyzer.phrase_keys(phrase));
            }
            patterns.extend(
                intent
                    .patterns
                    .iter()
                    .map(|p| crate::matcher::expand_lookups(p)),
            );
        }
        keys.sort();
        keys.dedup();
        (keys, patterns)
    }

    /// Analyse and score a folded message; returns the number of candidates.
    pub fn analyze_and_score(engine: &Engine, folded: &str) -> usize {
        let analyzed = engine.analyzer.analyze(folded);
        engine.index.score(&engine.pack, &analyzed).len()
    }
}
