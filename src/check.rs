//! `triage check`: load, validate and lint a pack.
//!
//! Loading reports errors (syntax, unknown keys, unknown contacts or options,
//! duplicate ids, invalid regexes, quotes not found in their source, lookalike
//! domains not marked unverified). Linting adds warnings that need the compiled
//! engine: examples that classify as another intent, phrases shared by two intents,
//! contacts nothing routes to.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::Engine;
use crate::diag::{Diagnostic, Severity};
use crate::dialogue::Session;
use crate::pack::IntentOutcome;
use crate::render::Outcome;

/// What `check` found.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    /// Every problem, errors first within each file.
    pub diagnostics: Vec<Diagnostic>,
    /// Intents in the pack (0 when it did not load).
    pub n_intents: usize,
    /// Contacts in the pack.
    pub n_contacts: usize,
    /// Number of errors.
    pub n_errors: usize,
    /// Number of warnings.
    pub n_warnings: usize,
}

/// Loads, validates and lints the pack made of `files`.
pub fn check(files: Vec<(PathBuf, String)>) -> CheckReport {
    let mut diagnostics;
    let mut n_intents = 0;
    let mut n_contacts = 0;
    match Engine::from_files(files) {
        Err(e) => diagnostics = e.diagnostics().to_vec(),
        Ok((engine, warnings)) => {
            diagnostics = warnings;
            n_intents = engine.pack.intents.len();
            n_contacts = engine.pack.contacts.len();
            lint(&engine, &mut diagnostics);
        }
    }
    diagnostics.sort_by(|a, b| {
        (a.file.clone(), a.line, a.col, a.severity).cmp(&(
            b.file.clone(),
            b.line,
            b.col,
            b.severity,
        ))
    });
    let n_errors = diagnostics.iter().filter(|d| d.is_error()).count();
    CheckReport {
        n_warnings: diagnostics.len() - n_errors,
        n_errors,
        diagnostics,
        n_intents,
        n_contacts,
    }
}

/// `text` with each `@lookup` replaced by the lookup's first term.
fn concrete(text: &str, pack: &crate::pack::Pack) -> String {
    text.split(' ')
        .map(|w| {
            let name = w.trim_start_matches('@');
            let name_end = name
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(name.len());
            match pack
                .lookups
                .iter()
                .find(|l| w.starts_with('@') && l.name == name[..name_end])
            {
                Some(l) => format!(
                    "{}{}",
                    l.terms.first().map_or("", String::as_str),
                    &name[name_end..]
                ),
                None => w.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn lint(engine: &Engine, out: &mut Vec<Diagnostic>) {
    let pack = &engine.pack;
    let now: jiff::ZonedDateTime =
        jiff::Timestamp::UNIX_EPOCH.to_zoned_datetime(pack.time_zone.clone());

    // Examples that classify as another intent.
    for intent in &pack.intents {
        for (example, loc) in intent.examples.iter().zip(&intent.example_locs) {
            // Examples may name a lookup (`@specialty_drug`): a member would type
            // one of its terms.
            let text = concrete(example, pack);
            let mut session = Session::new();
            let reply = engine.respond(&mut session, &text, &now);
            let expected = match intent.outcome {
                IntentOutcome::Decline => reply.outcome == Outcome::Fallback,
                _ => {
                    reply.intent.as_deref() == Some(intent.id.as_str())
                        && reply.outcome != Outcome::Fallback
                }
            };
            if !expected {
                let got = match (&reply.outcome, &reply.intent) {
                    (Outcome::Fallback, _) => "a fallback".to_string(),
                    (Outcome::Clarify, Some(i)) => format!("a clarification led by {i:?}"),
                    (_, Some(i)) => format!("intent {i:?}"),
                    (_, None) => "nothing".to_string(),
                };
                out.push(
                    pack.diag_at(
                        Severity::Warning,
                        loc,
                        format!("example of {:?} classifies as {got}", intent.id),
                    )
                    .with_help("add phrases or examples to the intent, or move the example"),
                );
            }
        }
    }

    // A one-word phrase that is a function word fires on almost every message ("ups"
    // stems to "up").
    for intent in &pack.intents {
        for (phrase, loc) in intent.phrases.iter().zip(&intent.phrase_locs) {
            let analyzed = engine
                .analyzer
                .analyze_pack_text(phrase, Some(pack.default_language));
            if analyzed.tokens.len() == 1 && analyzed.tokens[0].stop {
                out.push(
                    pack.diag_at(
                        Severity::Warning,
                        loc,
                        format!("phrase {phrase:?} of {:?} is a function word and matches almost anything", intent.id),
                    )
                    .with_help("make the phrase longer or more specific"),
                );
            }
        }
    }

    // A phrase in two intents.
    let mut owners: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    for (ii, intent) in pack.intents.iter().enumerate() {
        for (pi, phrase) in intent.phrases.iter().enumerate() {
            for key in engine.analyzer.phrase_keys(phrase) {
                let v = owners.entry(key).or_default();
                if !v.iter().any(|(i, _)| *i == ii) {
                    v.push((ii, pi));
                }
            }
        }
    }
    let mut reported = std::collections::HashSet::new();
    for (key, v) in owners {
        if v.len() < 2 {
            continue;
        }
        for &(ii, pi) in &v[1..] {
            if !reported.insert((ii, pi)) {
                continue;
            }
            let first = &pack.intents[v[0].0].id;
            let intent = &pack.intents[ii];
            out.push(
                pack.diag_at(
                    Severity::Warning,
                    &intent.phrase_locs[pi],
                    format!(
                        "phrase {:?} of {:?} is also a phrase of {first:?} (as {:?})",
                        intent.phrases[pi],
                        intent.id,
                        key.trim()
                    ),
                )
                .with_help("keep a phrase in one intent; use hints for shared words"),
            );
        }
    }

    // Word lists must be sorted for the in-place binary search.
    for language in &pack.languages {
        let Some(file) = language.dictionary else {
            continue;
        };
        let (path, text) = &pack.files[file];
        let unsorted = text
            .lines()
            .zip(text.lines().skip(1))
            .position(|(a, b)| a >= b);
        if let Some(line) = unsorted {
            out.push(
                Diagnostic::file(
                    Severity::Error,
                    path,
                    format!(
                        "word list is not sorted (or has a repeat) at line {}",
                        line + 2
                    ),
                )
                .with_help("sort it bytewise without repeats: LC_ALL=C sort -u"),
            );
        }
    }

    // Context rules no intent can trigger.
    for intent in &pack.intents {
        for (ctx, _) in &intent.when {
            let set_somewhere = pack.intents.iter().any(|i| i.sets_context.contains(ctx));
            if !set_somewhere {
                out.push(
                    pack.diag_at(
                        Severity::Warning,
                        &intent.loc,
                        format!(
                            "intent {:?} has a route for context {ctx:?}, which no intent sets",
                            intent.id
                        ),
                    )
                    .with_help(
                        "add sets_context to the intent that recognises it, or fix the name",
                    ),
                );
            }
        }
    }

    // Contacts nothing routes to.
    let mut used = vec![false; pack.contacts.len()];
    for intent in &pack.intents {
        for t in intent.route.iter().chain(&intent.also) {
            used[t.contact] = true;
        }
    }
    for language in &pack.languages {
        if let Some(t) = language.route {
            used[t.contact] = true;
        }
    }
    for (c, used) in pack.contacts.iter().zip(used) {
        if !used && c.verified {
            out.push(
                pack.diag_at(
                    Severity::Warning,
                    &c.loc,
                    format!("no intent routes to contact {:?}", c.id),
                )
                .with_help("route an intent to it, or remove it"),
            );
        }
    }
}
