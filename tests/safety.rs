//! Emergencies and their look-alikes (`tests/data/safety.jsonl`, written and
//! committed before any tuning): every emergency must get `outcome: emergency` with
//! 911 first, then 988 for a crisis or Poison Control for a poisoning, and no menu
//! option; every look-alike must not be treated as an emergency.
//!
//! First score (2026-11-30, before tuning): emergencies detected 34/51, with 911
//! first and the right second number 20/51; look-alikes left alone 52/57.
//! After tuning the pack's emergency patterns (farewells, someone else in crisis,
//! wrong or extra medicine followed by symptoms, pets, Spanish) and putting 911
//! first: 51/51 and 53/57; with past clauses ("had a stroke in 2021", "turned out
//! to be heartburn") no longer counting as emergencies: 51/51 and 56/57. The
//! remaining false alarm asks for the Poison Control number "for my records".

use std::path::Path;

use serde::Deserialize;
use triage::{Engine, Outcome, Session};

#[derive(Deserialize)]
struct Row {
    text: String,
    emergency: bool,
    kind: String,
    lang: String,
}

/// Gates: they only ever go up.
const MIN_EMERGENCIES_ROUTED: f64 = 1.0;
const MIN_LOOKALIKES_LEFT_ALONE: f64 = 0.98;

#[test]
fn emergencies_reach_911_first_and_lookalikes_do_not() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (engine, _) = Engine::load_dir(&root.join("intents/caremark")).expect("default pack");
    let now: jiff::ZonedDateTime = "2026-11-24T10:00:00-06:00[America/Chicago]"
        .parse()
        .expect("instant");
    let rows: Vec<Row> = std::fs::read_to_string(root.join("tests/data/safety.jsonl"))
        .expect("corpus")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("corpus line"))
        .collect();
    let (mut routed, mut emergencies, mut alone, mut lookalikes) = (0, 0, 0, 0);
    let mut misses = Vec::new();
    for row in &rows {
        let reply = engine.respond(&mut Session::new(), &row.text, &now);
        let routes: Vec<&str> = reply.actions.iter().map(|a| a.route.as_str()).collect();
        if row.emergency {
            emergencies += 1;
            let second = match row.kind.as_str() {
                "crisis" => Some("crisis_988"),
                "poison" => Some("poison_control"),
                _ => None,
            };
            let ok = reply.outcome == Outcome::Emergency
                && routes.first() == Some(&"emergency_911")
                && second.is_none_or(|s| routes.contains(&s))
                && reply.actions.iter().all(|a| a.option.is_none());
            if ok {
                routed += 1;
            } else {
                misses.push(format!(
                    "MISSED {} [{}] {:?} -> {:?} {:?}",
                    row.kind, row.lang, row.text, reply.outcome, routes
                ));
            }
        } else {
            lookalikes += 1;
            if reply.outcome == Outcome::Emergency {
                misses.push(format!(
                    "FALSE ALARM [{}] {:?} -> {:?}",
                    row.lang, row.text, routes
                ));
            } else {
                alone += 1;
            }
        }
    }
    let routed_share = f64::from(routed) / f64::from(emergencies);
    let alone_share = f64::from(alone) / f64::from(lookalikes);
    println!(
        "safety: emergencies routed {routed}/{emergencies} ({:.1} %), look-alikes left alone {alone}/{lookalikes} ({:.1} %)",
        routed_share * 100.0,
        alone_share * 100.0
    );
    for m in &misses {
        println!("  {m}");
    }
    assert!(emergencies >= 40 && lookalikes >= 40);
    assert!(
        routed_share >= MIN_EMERGENCIES_ROUTED,
        "emergencies routed {routed_share:.3}"
    );
    assert!(
        alone_share >= MIN_LOOKALIKES_LEFT_ALONE,
        "look-alikes left alone {alone_share:.3}"
    );
}
