//! The transcripts under `transcripts/` cover the default pack: every intent is
//! expected somewhere (`intent:`), and every contact a member can be sent to
//! appears in some expected route (`route:`, `routes:` or `contact:`).

use std::collections::BTreeSet;
use std::path::Path;

use triage::Engine;
use triage::transcript::{self, Check, Step};

#[test]
fn transcripts_cover_every_intent_and_every_offered_contact() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (engine, _) = Engine::load_dir(&root.join("intents/caremark")).expect("default pack");
    let pack = engine.pack();
    let files = transcript::collect(&[root.join("transcripts")]).expect("transcripts");
    assert!(files.len() >= 60, "only {} transcripts", files.len());

    let mut intents = BTreeSet::new();
    // `says:` of fallback turns: a declined request is recognised by its words.
    let mut fallback_says: Vec<String> = Vec::new();
    let mut routes = BTreeSet::new();
    let mut contacts = BTreeSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        let t = transcript::parse(file, &text).expect("parses");
        if t.pack.is_some() {
            continue;
        }
        for step in &t.steps {
            let Step::Turn(turn) = step else { continue };
            let fallback = turn
                .expects
                .iter()
                .any(|e| matches!(e.check, Check::Outcome(triage::Outcome::Fallback)));
            for e in &turn.expects {
                if let (true, Check::Says(text)) = (fallback, &e.check) {
                    fallback_says.push(text.to_lowercase());
                }
                match &e.check {
                    Check::Intent(Some(i)) => {
                        intents.insert(i.clone());
                    }
                    Check::Route(Some(r)) => {
                        routes.insert(r.clone());
                    }
                    Check::Routes(rs) => routes.extend(rs.iter().cloned()),
                    Check::Contact { contact, .. } => {
                        contacts.insert(contact.clone());
                    }
                    _ => {}
                }
            }
        }
    }
    // A declined request's reply has no intent (it is a fallback): it counts as
    // covered when a fallback turn expects words of that intent's own answer.
    let declined = declined_answers(&root.join("intents/caremark/intents"));
    let covered = |id: &str| {
        intents.contains(id)
            || declined.iter().any(|(d, answers)| {
                d == id
                    && fallback_says
                        .iter()
                        .any(|says| answers.iter().any(|a| a.to_lowercase().contains(says)))
            })
    };
    let missing_intents: Vec<&str> = pack
        .intents
        .iter()
        .map(|i| i.id.as_str())
        .filter(|id| !covered(id))
        .collect();
    assert!(
        missing_intents.is_empty(),
        "intents no transcript expects: {missing_intents:?}"
    );
    // A route label names its contact: "main:1", "portal:chat", "tty".
    let missing_contacts: Vec<&str> = pack
        .contacts
        .iter()
        .filter(|c| c.verified)
        .filter(|c| {
            !contacts.contains(&c.id)
                && !routes.iter().any(|r| {
                    r == &c.route
                        || c.options.iter().any(|o| &o.route == r)
                        || c.actions.iter().any(|a| &a.route == r)
                })
        })
        .map(|c| c.id.as_str())
        .collect();
    assert!(
        missing_contacts.is_empty(),
        "contacts no transcript routes to: {missing_contacts:?}"
    );
}

/// The answers (every language) of each `outcome = "decline"` intent, from the
/// pack's TOML.
fn declined_answers(dir: &Path) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("intents folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let value: toml::Table = toml::from_str(&text).expect("valid TOML");
        let Some(intents) = value.get("intent").and_then(|i| i.as_array()) else {
            continue;
        };
        for intent in intents {
            if intent.get("outcome").and_then(|o| o.as_str()) != Some("decline") {
                continue;
            }
            let id = intent["id"].as_str().expect("id").to_string();
            let answers = intent
                .get("answer")
                .and_then(|a| a.as_table())
                .map(|t| {
                    t.values()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            out.push((id, answers));
        }
    }
    out
}
