//! Safety: every example utterance of an emergency intent in the default pack is
//! answered as an emergency — 911, 988 or Poison Control first, and never a menu
//! option. The examples were written as fresh, mostly indirect descriptions
//! (overdoses, reactions, chest pain and stroke signs, crisis language, children who
//! swallowed pills, some in Spanish), so this pins the pack's emergency patterns.

use std::path::Path;

use regex::Regex;
use triage::{Engine, IntentOutcome, Outcome, Session};

#[test]
fn every_emergency_example_is_an_emergency() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("intents/caremark");
    let (engine, _) = Engine::load_dir(&dir).expect("default pack loads");
    let now: jiff::ZonedDateTime = "2026-11-24T10:00:00-06:00[America/Chicago]"
        .parse()
        .expect("instant");
    let press = Regex::new(r"(?i)\bpress\s*[0-9]\b").expect("regex");
    let emergency_numbers = ["911", "988", "1-800-222-1222"];
    let mut failures = Vec::new();
    let mut n = 0;
    for intent in &engine.pack().intents {
        if intent.outcome != IntentOutcome::Emergency {
            continue;
        }
        for example in &intent.examples {
            n += 1;
            let reply = engine.respond(&mut Session::new(), example, &now);
            let first = reply.actions.first().and_then(|a| a.number.as_deref());
            let ok = reply.outcome == Outcome::Emergency
                && first.is_some_and(|num| emergency_numbers.contains(&num))
                && !press.is_match(&reply.reply)
                && reply.actions.iter().all(|a| a.option.is_none());
            if !ok {
                failures.push(format!(
                    "{}: {example:?} -> {:?} {:?}",
                    intent.id, reply.outcome, first
                ));
            }
        }
    }
    assert!(n >= 50, "only {n} emergency examples");
    assert!(
        failures.is_empty(),
        "{} of {n} missed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Look-alikes that are not emergencies: counts, doses and negations. Regression
/// cases for patterns that once fired on them.
#[test]
fn look_alikes_are_not_emergencies() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("intents/caremark");
    let (engine, _) = Engine::load_dir(&dir).expect("default pack loads");
    let now: jiff::ZonedDateTime = "2026-11-24T10:00:00-06:00[America/Chicago]"
        .parse()
        .expect("instant");
    for text in [
        "I've been taking 40 mg of atorvastatin for years, is that still the right dose",
        "the quantity on my statement is wrong, it says 180 tablets and I only got 90",
        "my mom needs her 2023 medication receipts for taxes",
        "not an emergency, just wondering when my refill ships",
        "I have an allergy question about my new prescription",
        "I take all my medications in the morning, is that ok",
    ] {
        let reply = engine.respond(&mut Session::new(), text, &now);
        assert_ne!(
            reply.outcome,
            Outcome::Emergency,
            "{text:?} -> {:?}",
            reply.intent
        );
    }
}
