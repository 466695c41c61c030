//! Latency of `respond` on the default pack, and pack load + compile time.
//!
//! The utterances are the held-out labelled messages (`tests/data/heldout.jsonl`),
//! grouped by length: short (≤ 5 words), typical (6–25 words), long (> 25 words).

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use triage::{Engine, Session};

/// The binary's allocator (src/main.rs), so that these figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn utterances() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("tests/data/heldout.jsonl")).expect("corpus");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            v["text"].as_str().expect("text").to_string()
        })
        .collect()
}

fn bench_respond(c: &mut Criterion) {
    let (engine, _) = Engine::load_dir(&root().join("intents/caremark")).expect("pack loads");
    let now: jiff::ZonedDateTime = "2026-11-24T10:00:00-06:00[America/Chicago]"
        .parse()
        .expect("instant");
    let all = utterances();
    // (name, fewest words, most words)
    let groups = [
        ("short", 0, 5),
        ("typical", 6, 25),
        ("long", 26, usize::MAX),
    ];
    let mut group = c.benchmark_group("respond");
    for (name, least, most) in groups {
        let msgs: Vec<&String> = all
            .iter()
            .filter(|m| (least..=most).contains(&m.split_whitespace().count()))
            .collect();
        if msgs.is_empty() {
            continue;
        }
        let mut i = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut session = Session::new();
                let m = msgs[i % msgs.len()];
                i += 1;
                black_box(engine.respond(&mut session, black_box(m), &now))
            })
        });
    }
    group.finish();

    // Stages, on the typical messages: normalize, + analyze, + score.
    let typical: Vec<&String> = all
        .iter()
        .filter(|m| (6..=25).contains(&m.split_whitespace().count()))
        .collect();
    let folded: Vec<String> = typical
        .iter()
        .map(|m| triage::stages::normalize(&engine, m))
        .collect();
    let mut group = c.benchmark_group("stage");
    let mut i = 0;
    group.bench_function("normalize", |b| {
        b.iter(|| {
            i += 1;
            black_box(triage::stages::normalize(
                &engine,
                typical[i % typical.len()],
            ))
        })
    });
    group.bench_function("analyze", |b| {
        b.iter(|| {
            i += 1;
            black_box(triage::stages::analyze(&engine, &folded[i % folded.len()]))
        })
    });
    group.bench_function("analyze_score", |b| {
        b.iter(|| {
            i += 1;
            black_box(triage::stages::analyze_and_score(
                &engine,
                &folded[i % folded.len()],
            ))
        })
    });
    group.finish();
}

fn bench_load(c: &mut Criterion) {
    let dir = root().join("intents/caremark");
    let files = triage::read_pack_dir(Path::new(&dir)).expect("pack files");
    // Load and compile only: the file list is cloned and the engine dropped
    // outside the timed part.
    c.bench_function("load_default_pack", |b| {
        b.iter_batched(
            || files.clone(),
            |files| Engine::from_files(files).expect("loads"),
            criterion::BatchSize::LargeInput,
        )
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench_respond, bench_load
}
criterion_main!(benches);
