//! Follow-ups ("what are their hours?", "what's the number?", "are they open
//! now?", "can I do that online?") asked after every answer of the default pack,
//! in English and Spanish: each reply is whole, never a template with an empty
//! slot such as "at ." or "()" (a store has no hours, an app has no address).

use std::path::Path;

use regex::Regex;
use triage::{Engine, IntentOutcome, Outcome, Session};

#[test]
fn follow_ups_after_every_answer_render_whole_sentences() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("intents/caremark");
    let (engine, _) = Engine::load_dir(&dir).expect("default pack loads");
    let pack = engine.pack();
    let empty_slot =
        Regex::new(r"(?:\bat|\ben|:)\s*[.,;]|\(\s*\)|[{}]|\s[.,;]|\bpress\s*[.,(]").expect("regex");
    let asks = [
        (
            "en",
            [
                "what are their hours?",
                "what was that number again?",
                "are they open now?",
                "can i do that online instead?",
            ],
        ),
        (
            "es",
            [
                "¿y cuál es el horario?",
                "¿me repite el número?",
                "¿están abiertos ahora?",
                "¿puedo hacerlo en línea?",
            ],
        ),
    ];
    // Noon and midnight on a weekday: open and closed lines both.
    let clocks = [
        "2026-11-24T12:00:00-06:00[America/Chicago]",
        "2026-11-24T23:30:00-06:00[America/Chicago]",
    ];
    let mut failures = Vec::new();
    let mut checked = 0;
    for intent in &pack.intents {
        if intent.outcome != IntentOutcome::Answer || intent.follow_up.is_some() {
            continue;
        }
        let Some(route) = intent.route else { continue };
        for (lang, questions) in &asks {
            for question in questions {
                for clock in clocks {
                    let now: jiff::ZonedDateTime = clock.parse().expect("instant");
                    let mut session = Session {
                        language: Some((*lang).to_string()),
                        last_intent: Some(intent.id.clone()),
                        last_route: Some(pack.route_label(route).to_string()),
                        turns: 1,
                        ..Session::new()
                    };
                    let reply = engine.respond(&mut session, question, &now);
                    if !reply
                        .intent
                        .as_deref()
                        .is_some_and(|i| i.starts_with("follow_up"))
                    {
                        continue;
                    }
                    checked += 1;
                    assert_eq!(reply.outcome, Outcome::Answer);
                    if empty_slot.is_match(&reply.reply) || reply.reply.is_empty() {
                        failures.push(format!(
                            "after {} ({lang}), {question:?} at {clock}: {:?}",
                            intent.id, reply.reply
                        ));
                    }
                }
            }
        }
    }
    assert!(
        checked >= 300,
        "only {checked} follow-ups were answered as follow-ups"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} follow-ups have an empty slot:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
