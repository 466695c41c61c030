//! How far `respond` is from the floor, how much faster than a naive matcher, and
//! how it grows with the pack.
//!
//! - `floor/typical`: one aho-corasick scan (every phrase key of the default
//!   pack) plus one `RegexSet` scan (every pattern) of the normalized message —
//!   the least any matcher of these phrases and patterns must do.
//! - `baseline/typical`: a naive matcher written here: each intent in turn, each
//!   phrase searched, each pattern run.
//! - `respond/typical`: the engine, normalize through render.
//! - `scale/respond/N`, `scale/load/N`, `scale/floor/N`: synthetic packs
//!   (`triage gen-pack`, seed 1) of N = 10, 100, 1,000, 10,000 intents, 15-word
//!   messages about one intent's topic; the floor as above, over each pack.
//!
//! Typical messages are the 6–25-word held-out labelled messages.

use std::hint::black_box;
use std::path::PathBuf;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use regex::Regex;
use regex::bytes::{RegexSet, RegexSetBuilder};
use triage::synth::Synth;
use triage::{Engine, Session};

/// The binary's allocator (src/main.rs), so that these figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn now() -> jiff::ZonedDateTime {
    "2026-11-24T10:00:00-06:00[America/Chicago]"
        .parse()
        .expect("instant")
}

fn typical() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("tests/data/heldout.jsonl")).expect("corpus");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            v["text"].as_str().expect("text").to_string()
        })
        .filter(|m| (6..=25).contains(&m.split_whitespace().count()))
        .collect()
}

/// The naive matcher: every intent's phrases and patterns tried in turn.
struct Naive {
    intents: Vec<(Vec<String>, Vec<Regex>)>,
}

impl Naive {
    fn new(engine: &Engine) -> Naive {
        let intents = engine
            .pack()
            .intents
            .iter()
            .map(|i| {
                let phrases = i.phrases.iter().map(|p| p.to_lowercase()).collect();
                let patterns = i
                    .patterns
                    .iter()
                    .filter_map(|p| Regex::new(&format!("(?i){p}")).ok())
                    .collect();
                (phrases, patterns)
            })
            .collect();
        Naive { intents }
    }

    /// The intent with the most phrase and pattern hits.
    fn best(&self, text: &str) -> Option<usize> {
        let lower = text.to_lowercase();
        let mut best = None;
        let mut best_hits = 0;
        for (i, (phrases, patterns)) in self.intents.iter().enumerate() {
            let hits = phrases
                .iter()
                .filter(|p| lower.contains(p.as_str()))
                .count()
                + patterns.iter().filter(|r| r.is_match(&lower)).count();
            if hits > best_hits {
                best_hits = hits;
                best = Some(i);
            }
        }
        best
    }
}

/// The floor: one aho-corasick scan over every phrase key of a pack, plus one
/// `RegexSet` over every pattern, of the normalized message; no other work.
struct Floor {
    automaton: AhoCorasick,
    set: RegexSet,
}

impl Floor {
    fn new(engine: &Engine) -> Floor {
        let (keys, patterns) = triage::stages::floor_parts(engine);
        // A DFA as long as the matcher would build one (up to 10,000 keys);
        // above, aho-corasick's own choice (a DFA of 100,000 keys is too big).
        let kind = (keys.len() <= 10_000).then_some(AhoCorasickKind::DFA);
        let automaton = AhoCorasick::builder()
            .kind(kind)
            .match_kind(MatchKind::Standard)
            .build(&keys)
            .expect("automaton");
        // Compiled as the matcher compiles its patterns: over bytes, ASCII
        // classes. The limits let 15,000 patterns build as one set.
        let set = RegexSetBuilder::new(&patterns)
            .unicode(false)
            .size_limit(1 << 30)
            .dfa_size_limit(1 << 30)
            .build()
            .expect("pattern set");
        Floor { automaton, set }
    }

    /// Phrase matches plus matching patterns.
    fn scan(&self, folded: &str) -> usize {
        let phrases = self.automaton.find_overlapping_iter(folded).count();
        let patterns = self.set.matches(folded.as_bytes()).iter().count();
        phrases + patterns
    }
}

fn bench_floor_and_baseline(c: &mut Criterion) {
    let (engine, _) = Engine::load_dir(&root().join("intents/caremark")).expect("pack loads");
    let msgs = typical();
    let folded: Vec<String> = msgs
        .iter()
        .map(|m| triage::stages::normalize(&engine, m))
        .collect();
    let floor = Floor::new(&engine);
    let naive = Naive::new(&engine);
    let now = now();

    let mut group = c.benchmark_group("compare");
    let mut i = 0;
    group.bench_function("floor/typical", |b| {
        b.iter(|| {
            i += 1;
            black_box(floor.scan(&folded[i % folded.len()]))
        })
    });
    group.bench_function("respond/typical", |b| {
        b.iter(|| {
            i += 1;
            let mut session = Session::new();
            black_box(engine.respond(&mut session, &msgs[i % msgs.len()], &now))
        })
    });
    group.bench_function("baseline/typical", |b| {
        b.iter(|| {
            i += 1;
            black_box(naive.best(&msgs[i % msgs.len()]))
        })
    });
    group.finish();
}

fn bench_scale(c: &mut Criterion) {
    let sizes: Vec<usize> = std::env::var("SCALE_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 100, 1_000, 10_000]);
    let now = now();
    let mut group = c.benchmark_group("scale");
    group.sample_size(10);
    for n in sizes {
        let dir = tempfile::tempdir().expect("temp dir");
        let synth = Synth::new(n, 1);
        synth.write(dir.path()).expect("write pack");
        let files = triage::read_pack_dir(dir.path()).expect("pack files");
        group.bench_function(format!("load/{n}"), |b| {
            b.iter_batched(
                || files.clone(),
                |files| Engine::from_files(files).expect("loads"),
                BatchSize::LargeInput,
            )
        });
        let (engine, _) = Engine::from_files(files).expect("loads");
        let msgs = synth.messages(500, 15, 2);
        // Steady state: every pattern these messages reach compiled once (a
        // pattern is compiled on its first use), as in a server that has run a while.
        for m in &msgs {
            engine.respond(&mut Session::new(), m, &now);
        }
        let mut i = 0;
        group.bench_function(format!("respond/{n}"), |b| {
            b.iter(|| {
                i += 1;
                let mut session = Session::new();
                black_box(engine.respond(&mut session, &msgs[i % msgs.len()], &now))
            })
        });
        // The floor of the same pack over the same messages, normalized, in
        // steady state too: the `RegexSet`'s lazy DFA builds its states as
        // messages need them, and on 15,000 patterns a cold scan takes tens of
        // milliseconds (a few passes over the messages warm it).
        let floor = Floor::new(&engine);
        let folded: Vec<String> = msgs
            .iter()
            .map(|m| triage::stages::normalize(&engine, m))
            .collect();
        for _ in 0..4 {
            for m in &folded {
                black_box(floor.scan(m));
            }
        }
        group.bench_function(format!("floor/{n}"), |b| {
            b.iter(|| {
                i += 1;
                black_box(floor.scan(&folded[i % folded.len()]))
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench_floor_and_baseline, bench_scale
}
criterion_main!(benches);
