//! Banking77 (data/banking77, CC BY 4.0): per-message latency of a pack imported from
//! the training split, answering the test split's messages (BENCHMARKS.md).
//!
//! `cargo bench --bench banking77`; accuracy comes from `triage eval` (README).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use triage::{Engine, Session};

/// The binary's allocator (src/main.rs), so that these figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench(c: &mut Criterion) {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = repo.join("data/banking77");
    let embeddings = repo.join("data/embeddings/minilm-l6-128.toml");
    let options = triage::import::Options {
        text_column: "text".into(),
        label_column: "category".into(),
        name: "banking77".into(),
        source_name: "train.csv".into(),
        model: true,
        embeddings: Some((
            embeddings.display().to_string(),
            std::fs::read_to_string(&embeddings).expect("data/embeddings is in the repo"),
        )),
    };
    let read = |name: &str| {
        let data = std::fs::read_to_string(root.join(name)).expect("data/banking77 is in the repo");
        triage::import::read_csv(name, &data, &options).expect("valid CSV")
    };
    let files: Vec<(PathBuf, String)> = triage::import::pack_files(&read("train.csv"), &options)
        .expect("imports")
        .into_iter()
        .map(|(path, text)| (PathBuf::from("banking77").join(path), text))
        .collect();
    let (engine, _) = Engine::from_files(files).expect("the imported pack loads");
    let test: Vec<String> = read("test.csv").into_iter().map(|(text, _)| text).collect();
    let now: jiff::ZonedDateTime = "2026-11-24T10:00:00Z[UTC]".parse().expect("instant");
    let mut i = 0;
    c.bench_function("banking77/respond", |b| {
        b.iter(|| {
            i += 1;
            let mut session = Session::new();
            black_box(engine.respond(&mut session, &test[i % test.len()], &now))
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_main!(benches);
