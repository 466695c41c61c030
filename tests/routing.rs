//! Routing accuracy over labelled member messages (tests/data/*.jsonl, ROUTES.md).
//!
//! Each message is answered in a fresh session at a fixed clock; the reply maps to a
//! route label as ROUTES.md defines (emergency / fallback / scam warning / the
//! primary action's pack route label). `must_say` and `must_not_say` are checked on
//! what the member sees. The test prints a per-label table and fails below the gates.

use std::collections::BTreeMap;
use std::path::Path;

use regex::RegexBuilder;
use serde::Deserialize;
use triage::{Engine, Reply, Session};

#[derive(Deserialize)]
struct Item {
    id: String,
    text: String,
    accept: Vec<String>,
    #[serde(default)]
    must_say: Option<String>,
    #[serde(default)]
    must_not_say: Option<String>,
}

/// The route label of a reply, as ROUTES.md reads it (the same reading as `triage eval`).
fn label(reply: &Reply) -> String {
    triage::eval::route_label(reply)
}

fn correct(accept: &[String], reply: &Reply, got: &str) -> bool {
    triage::eval::accepted(accept, reply, got).is_some()
}

struct Score {
    n: usize,
    ok: usize,
    per_label: BTreeMap<String, (usize, usize)>,
    misses: Vec<String>,
}

fn score(engine: &Engine, file: &str) -> Score {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(file);
    let text = std::fs::read_to_string(&path).expect("labelled set is in the repo");
    let now: jiff::ZonedDateTime = "2026-11-24T10:00:00-06:00[America/Chicago]"
        .parse()
        .expect("valid instant");
    let mut s = Score {
        n: 0,
        ok: 0,
        per_label: BTreeMap::new(),
        misses: Vec::new(),
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let item: Item = serde_json::from_str(line).expect("valid labelled item");
        let mut session = Session::new();
        let reply = engine.respond(&mut session, &item.text, &now);
        let got = label(&reply);
        let mut good = correct(&item.accept, &reply, &got);
        let shown = format!(
            "{} {} {}",
            reply.reply,
            serde_json::to_string(&reply.actions).expect("serializable"),
            serde_json::to_string(&reply.choices).expect("serializable")
        );
        let re = |p: &str| {
            RegexBuilder::new(p)
                .case_insensitive(true)
                .build()
                .expect("valid regex in labelled set")
        };
        let mut why = String::new();
        if let Some(p) = &item.must_say
            && !re(p).is_match(&reply.reply)
        {
            good = false;
            why = format!(" (reply lacks /{p}/)");
        }
        if let Some(p) = &item.must_not_say
            && re(p).is_match(&shown)
        {
            good = false;
            why = format!(" (reply shows /{p}/)");
        }
        let key = item.accept[0].clone();
        let entry = s.per_label.entry(key).or_default();
        entry.1 += 1;
        s.n += 1;
        if good {
            entry.0 += 1;
            s.ok += 1;
        } else {
            s.misses.push(format!(
                "{}: {:?} accept {:?} got {got} ({}){why}",
                item.id,
                item.text,
                item.accept,
                reply.intent.as_deref().unwrap_or("-")
            ));
        }
    }
    s
}

fn report(name: &str, s: &Score) {
    summary(name, s);
    for m in &s.misses {
        println!("  MISS {m}");
    }
}

/// Totals and per-label rates only: for the blind set, whose misses nobody tunes on.
fn summary(name: &str, s: &Score) {
    println!(
        "{name}: {}/{} = {:.1}%",
        s.ok,
        s.n,
        100.0 * s.ok as f64 / s.n as f64
    );
    for (label, (ok, n)) in &s.per_label {
        println!(
            "  {label:<16} {ok:>4}/{n:<4} {:>6.1}%",
            100.0 * *ok as f64 / *n as f64
        );
    }
}

fn rate(s: &Score, label: &str) -> f64 {
    let (ok, n) = s.per_label.get(label).copied().unwrap_or((0, 0));
    if n == 0 { 1.0 } else { ok as f64 / n as f64 }
}

fn engine() -> Engine {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("intents/caremark");
    Engine::load_dir(&dir).expect("default pack loads").0
}

/// Scores `file`, prints its table (for a blind set, totals and per-label rates
/// only) and fails below `min_accuracy` or below a label's floor in `label_floors`.
fn gate(file: &str, blind: bool, min_accuracy: f64, label_floors: &[(&str, f64)]) {
    let s = score(&engine(), file);
    if blind {
        summary(file, &s);
    } else {
        report(file, &s);
    }
    let accuracy = s.ok as f64 / s.n as f64;
    assert!(
        accuracy >= min_accuracy,
        "{file}: accuracy {accuracy:.3} below {min_accuracy}"
    );
    for &(label, floor) in label_floors {
        let r = rate(&s, label);
        assert!(r >= floor, "{file}: {label} at {r:.3}, below {floor}");
    }
}

/// Gates on the dev set copied from shared/eval (issue #2): they only ever go up.
const DEV_MIN_ACCURACY: f64 = 0.99;
const DEV_MIN_EMERGENCY: f64 = 1.0;
const DEV_MIN_OUT_OF_SCOPE: f64 = 0.90;

#[test]
fn routes_dev_set() {
    gate(
        "dev.jsonl",
        false,
        DEV_MIN_ACCURACY,
        &[
            ("emergency", DEV_MIN_EMERGENCY),
            ("out_of_scope", DEV_MIN_OUT_OF_SCOPE),
        ],
    );
}

/// Our own held-out messages, written before tuning (first score 82.7 %). Its misses
/// were later read to find gaps, so it is now a regression floor, not a measure of
/// generalization: `heldout_blind.jsonl` is that.
const HELDOUT_MIN_ACCURACY: f64 = 0.98;

#[test]
fn routes_heldout_set() {
    gate("heldout.jsonl", false, HELDOUT_MIN_ACCURACY, &[]);
}

/// A second set written by someone who never saw the pack (first score 85.0 %); only
/// its totals are ever printed, so nobody tunes on its messages.
const BLIND_MIN_ACCURACY: f64 = 0.95;

#[test]
fn routes_blind_set() {
    gate(
        "heldout_blind.jsonl",
        true,
        BLIND_MIN_ACCURACY,
        &[("emergency", 1.0)],
    );
}

/// A labelled set written blind, whose misses were then read to find gaps: a
/// regression floor (its accuracy gate only goes up) with every emergency caught.
macro_rules! read_blind_set {
    ($test:ident, $file:literal, $min:expr) => {
        #[test]
        fn $test() {
            gate($file, false, $min, &[("emergency", 1.0)]);
        }
    };
}

// A third set, written in session 8 by someone who never saw the pack (first score
// 87.0 %, before any change for it). Its misses were then read to find gaps, so like
// `heldout.jsonl` it is now a regression floor; the blind set stays the honest figure.
read_blind_set!(routes_fresh_set, "heldout_fresh.jsonl", 0.96);

// A fourth set, written in session 9 by someone who never saw the pack or the
// other sets (first score 88.5 %, 177 of 200, before any change for it; must_say
// 16 of 17, emergencies 10 of 10). Its misses were then read to find gaps, so it
// too is now a regression floor that only goes up.
read_blind_set!(routes_second_fresh_set, "heldout_fresh2.jsonl", 0.96);

// A fifth set, written later in session 9 by someone who never saw the pack or the
// other sets, after the fixes the fourth set led to (first score 86.5 %, 173 of
// 200, before any change for it; must_say 16 of 17, emergencies 10 of 10). Its
// misses were then read to find gaps: a regression floor that only goes up.
read_blind_set!(routes_third_fresh_set, "heldout_fresh3.jsonl", 0.975);

// A sixth set, written at the end of session 9 by someone who never saw the pack or
// the other sets, aimed at the boundaries between neighbouring routes (first score
// 91.0 %, 182 of 200, before any change for it; must_say 16 of 16, emergencies 10
// of 10). Its misses were then read to find gaps: a regression floor.
read_blind_set!(routes_fourth_fresh_set, "heldout_fresh4.jsonl", 0.97);

// A seventh set, written at the end of session 9 by someone who never saw the pack
// or the other sets, mostly older members typing on tablets or by dictation (first
// score 82.5 %, 165 of 200, before any change for it; must_say 15 of 15,
// emergencies 9 of 10: an overdose told as "took her sleeping pills by mistake,
// breathing real slow" fell back, now a transcript). Its misses were then read.
read_blind_set!(routes_fifth_fresh_set, "heldout_fresh5.jsonl", 0.935);

// An eighth set, written at the end of session 10 by someone who read only ROUTES.md
// and the seed page, ten messages per label (first score 90.0 %, 180 of 200, before
// any change for it; emergencies 9 of 10: "what's the point anymore ... I want it
// over" with a full bottle in front of them fell back, now a transcript; a TTY
// question about a father who lost his hearing "after a stroke" went to 911). Its
// misses were then read in session 11: a regression floor.
read_blind_set!(routes_sixth_fresh_set, "heldout_fresh6.jsonl", 0.99);

// A ninth set, 220 messages (11 per label) written in session 11 by someone who read
// only ROUTES.md and the seed page, after the fixes for the eighth (first score
// 94.1 %, 207 of 220, before any change for it; emergencies 10 of 11: a farewell,
// "made my peace and said my goodbyes", fell back, now a transcript). Its misses
// were then read: a regression floor.
read_blind_set!(routes_seventh_fresh_set, "heldout_fresh7.jsonl", 0.99);

// A tenth set, 200 messages written in session 11 the same way, briefed for hurried
// fragments, long backstories, situations described instead of asked, Spanish, and a
// channel refused before the one wanted (first score 90.5 %, 181 of 200, before any
// change for it; emergencies 10 of 10, out of scope 7 of 10). Its misses were then
// read: a regression floor.
read_blind_set!(routes_eighth_fresh_set, "heldout_fresh8.jsonl", 0.995);

// An eleventh set, 200 messages written in session 11 the same way, briefed for angry
// members, caregivers, second thoughts ("actually never mind the bill"), the
// pharmacy's words used loosely ("the 800 line") and non-native English (first score
// 89.5 %, 179 of 200, before any change for it; emergencies 10 of 10). Its misses were
// then read: a regression floor.
read_blind_set!(routes_ninth_fresh_set, "heldout_fresh9.jsonl", 0.975);

// A twelfth set, a cross-section of 200 written in session 11 after every other fix of
// the session (first score 92.5 %, 185 of 200, before any change for it: the
// session's closing figure for fresh messages; emergencies 10 of 10, out of scope 7
// of 10). Its misses were then read: a regression floor.
read_blind_set!(routes_tenth_fresh_set, "heldout_fresh10.jsonl", 0.995);

// A thirteenth set, a cross-section of 200 written at the end of session 11 (first
// score 91.0 %, 182 of 200, before any change for it; emergencies 10 of 10; one
// non-emergency, "asking in writing on purpose", got the overdose reply). Its misses
// were then read: a regression floor.
read_blind_set!(routes_eleventh_fresh_set, "heldout_fresh11.jsonl", 0.975);

// A fourteenth set, a cross-section of 200 written last in session 11, after every
// fix of the session. Scored once: 91.0 % (182 of 200), emergencies 9 of 10. Only its
// emergency miss was read ("dont plan on waking up tomorrow. pills ready", now a
// pattern and a transcript); its other misses are never read and only its totals are
// printed, like the blind set's, so it stays an honest measure.
#[test]
fn routes_last_fresh_set_unread() {
    gate("heldout_fresh12.jsonl", true, 0.915, &[("emergency", 1.0)]);
}

// An emergency set written blind at the end of session 9: 60 emergencies told as
// frightened people type them and 60 look-alikes (history, negation, idioms, calm
// questions). First score 75.8 % (91 of 120), emergencies 53 of 60; its misses were
// then read, and every emergency must now be caught.
read_blind_set!(
    routes_second_emergency_set,
    "heldout_emergency2.jsonl",
    0.90
);

// A second emergency set written blind at the end of session 9, most emergencies
// described by what the writer sees or feels rather than by textbook words (first
// score 67.0 %, 67 of 100, emergencies 43 of 60); its misses were then read, and
// every emergency must now be caught.
read_blind_set!(routes_third_emergency_set, "heldout_emergency3.jsonl", 0.86);

// A third emergency set, written blind in session 11 after the emergency work of
// session 9: 60 emergencies (a third under ten words, some buried after a routine
// request, seven in Spanish) and 40 look-alikes. First score 71.0 % (71 of 100),
// emergencies 46 of 60: farewells and plans without the words, head injuries, stroke
// signs told as one side or one eye, hives with faintness, a child found with an open
// bottle. Its misses were then read, and every emergency must now be caught.
read_blind_set!(
    routes_fourth_emergency_set,
    "heldout_emergency4.jsonl",
    0.88
);

// A fourth emergency set, written blind in session 11 after the fixes for the third:
// 60 emergencies from elderly members and dictation, teenagers, parents of small
// children, Spanish speakers, and inside routine questions; 40 look-alikes. First
// score 85.0 % (85 of 100), emergencies 55 of 60 (the third set's fixes carried over
// to most of it); its misses were then read, and every emergency must now be caught.
read_blind_set!(routes_fifth_emergency_set, "heldout_emergency5.jsonl", 0.92);

// A fifth emergency set, written blind at the end of session 11: 50 emergencies
// (twelve crisis statements without any crisis word, overdoses and ingestions told by
// their effects, some buried, four in Spanish) and 30 look-alikes. First score 72.5 %
// (58 of 80), emergencies 39 of 50: farewells and plans, "oh no" read as a negation,
// a toddler with an open bottle, jaw and arm pain, a seizure of more than five
// minutes. Its misses were then read, and every emergency must now be caught.
read_blind_set!(routes_sixth_emergency_set, "heldout_emergency6.jsonl", 0.86);
