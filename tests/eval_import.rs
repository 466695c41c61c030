//! End-to-end tests of `triage eval` and `triage import`.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const TUESDAY_MORNING: &str = "2026-11-24T10:00:00-06:00";

fn triage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("TRIAGE_PACK")
        .env_remove("RUST_LOG")
        .output()
        .expect("run triage")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(o), stderr(o)))
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn eval_json_matches_the_routing_test_on_the_dev_set() {
    let out = triage(&[
        "eval",
        "--json",
        "--at",
        TUESDAY_MORNING,
        "tests/data/dev.jsonl",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["n"], 160);
    let accuracy = r["accuracy"].as_f64().expect("accuracy");
    // tests/routing.rs gates the same set at 98 %; eval reads labels the same way.
    assert!((0.98..=1.0).contains(&accuracy), "{accuracy}");
    let correct = r["correct"].as_u64().expect("correct");
    assert_eq!(
        r["misses"].as_array().expect("misses").len() as u64,
        160 - correct
    );
    let emergency = &r["per_label"]["emergency"];
    assert_eq!(emergency["recall"], 1.0, "{emergency}");
    assert!(emergency["support"].as_u64().expect("support") > 5);
    // Labels come from the pack: a menu option's label, and portal actions.
    assert!(
        r["per_label"]["main:1"]["support"]
            .as_u64()
            .expect("main:1")
            > 5
    );
    assert!(r["per_label"].get("portal:message").is_some());
}

#[test]
fn eval_text_report_lists_labels_confusions_and_misroutes() {
    let out = triage(&[
        "eval",
        "--explain",
        "--at",
        TUESDAY_MORNING,
        "tests/data/heldout.jsonl",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("accuracy "), "{text}");
    assert!(text.contains("precision  recall"), "{text}");
    assert!(text.contains("most frequent confusions"), "{text}");
    assert!(text.contains("misroutes:"), "{text}");
    // Each misroute shows its evidence lines (kind, weight, intent, detail).
    assert!(text.contains("expected "), "{text}");
}

#[test]
fn min_accuracy_fails_a_pipeline_below_it() {
    let below = triage(&[
        "eval",
        "--min-accuracy",
        "0.9999",
        "--at",
        TUESDAY_MORNING,
        "tests/data/heldout.jsonl",
    ]);
    assert_eq!(below.status.code(), Some(1), "{}", stderr(&below));
    assert!(stderr(&below).contains("below --min-accuracy 0.9999"));
    let above = triage(&[
        "eval",
        "--min-accuracy",
        "0.5",
        "--at",
        TUESDAY_MORNING,
        "tests/data/heldout.jsonl",
    ]);
    assert!(above.status.success(), "{}", stderr(&above));
    // A percentage instead of a fraction is a usage error, not a pass.
    let percent = triage(&["eval", "--min-accuracy", "95", "tests/data/dev.jsonl"]);
    assert_eq!(percent.status.code(), Some(2));
    assert!(
        stderr(&percent).contains("between 0 and 1"),
        "{}",
        stderr(&percent)
    );
}

#[test]
fn a_bad_labelled_file_names_its_line_and_column() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("set.jsonl");
    std::fs::write(
        &file,
        "{\"text\": \"my meds never came\", \"accept\": [\"main:1\"]}\n{\"text\": \"hi\", \"acept\": []}\n",
    )
    .expect("write");
    let out = triage(&["eval", path(&file)]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("set.jsonl:2:"), "{err}");
    assert!(err.contains("acept"), "{err}");
    assert!(err.contains("help:"), "{err}");
}

#[test]
fn eval_html_is_a_self_contained_page() {
    let dir = tempfile::tempdir().expect("temp dir");
    let html = dir.path().join("report.html");
    let out = triage(&[
        "eval",
        "--html",
        path(&html),
        "--at",
        TUESDAY_MORNING,
        "tests/data/heldout.jsonl",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = std::fs::read_to_string(&html).expect("report written");
    assert!(page.starts_with("<!doctype html>"));
    for id in [
        "id=\"summary\"",
        "id=\"labels\"",
        "id=\"matrix\"",
        "id=\"misses\"",
    ] {
        assert!(page.contains(id), "{id} missing");
    }
    // Nothing is fetched: no scripts, stylesheets or images from elsewhere.
    for outside in ["<script", "<link", "src=", "http://", "https://"] {
        assert!(!page.contains(outside), "{outside} in the page");
    }
}

/// `triage import` of the test CSV (columns `body` and `topic`) into `out`.
fn import(csv: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "import",
        "--csv",
        path(csv),
        "--text-column",
        "body",
        "--label-column",
        "topic",
        "--out",
        path(out),
    ];
    args.extend(extra);
    triage(&args)
}

fn write_csv(dir: &Path) -> std::path::PathBuf {
    let mut csv = String::from("body,topic\n");
    let topics = [
        (
            "lost_card",
            [
                "I lost my card",
                "my card is lost",
                "cannot find my card anywhere",
                "card went missing yesterday",
                "lost card what now",
            ],
        ),
        (
            "exchange_rate",
            [
                "what exchange rate do you use",
                "is the exchange rate fair",
                "exchange rate for euros",
                "how is the exchange rate set",
                "bad exchange rate on my purchase",
            ],
        ),
        (
            "top_up_failed",
            [
                "my top up failed",
                "top up did not go through",
                "why did the top up fail",
                "top up failed twice",
                "failed top up with my card",
            ],
        ),
    ];
    for round in 0..4 {
        for (label, texts) in &topics {
            for t in texts {
                csv.push_str(&format!("\"{t}, please ({round})\",{label}\n"));
            }
        }
    }
    let file = dir.join("tickets.csv");
    std::fs::write(&file, csv).expect("write csv");
    file
}

#[test]
fn import_builds_a_pack_that_checks_and_routes_by_its_labels() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = write_csv(dir.path());
    let out_dir = dir.path().join("pack");
    let out = import(&csv, &out_dir, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("3 intents from 60 examples"),
        "{}",
        stderr(&out)
    );
    let check = triage(&["check", "--pack", path(&out_dir)]);
    assert!(
        stdout(&check).contains("3 intents, 1 contacts, 0 error(s)"),
        "{}{}",
        stdout(&check),
        stderr(&check)
    );
    // The model's evidence names the feature that counted most for it.
    let ask = triage(&[
        "ask",
        "--pack",
        path(&out_dir),
        "--explain",
        "the top up keeps failing",
    ]);
    let explained = stdout(&ask);
    assert!(
        explained.lines().any(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.len() >= 4
                && words[0] == "top_up_failed"
                && words[1] == "model"
                && (words[3].starts_with("w:") || words[3].starts_with("c:"))
        }),
        "{explained}"
    );
    // Mined phrases are there; suggested patterns are comments.
    let intents = std::fs::read_to_string(out_dir.join("intents/imported.toml")).expect("intents");
    assert!(intents.contains("phrases = [\""), "{intents}");
    // Evaluated on the CSV itself (columns by name), the labels are the route labels.
    let eval = triage(&[
        "eval",
        "--pack",
        path(&out_dir),
        "--json",
        "--text-column",
        "body",
        "--label-column",
        "topic",
        path(&csv),
    ]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    let r = json(&eval);
    assert_eq!(r["n"], 60);
    assert!(r["accuracy"].as_f64().expect("accuracy") >= 0.9, "{r}");
    for label in ["lost_card", "exchange_rate", "top_up_failed"] {
        assert!(r["per_label"][label]["support"] == 20, "{label}: {r}");
    }
    // Same data, same bytes.
    let again = dir.path().join("again");
    let out = import(&csv, &again, &[]);
    assert!(out.status.success());
    for file in [
        "pack.toml",
        "contacts.toml",
        "intents/imported.toml",
        "model.toml",
    ] {
        assert_eq!(
            std::fs::read(out_dir.join(file)).expect("first"),
            std::fs::read(again.join(file)).expect("second"),
            "{file} differs"
        );
    }
}

#[test]
fn a_broken_model_is_an_error_that_names_its_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = write_csv(dir.path());
    let out_dir = dir.path().join("pack");
    let out = import(&csv, &out_dir, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let model_file = out_dir.join("model.toml");
    let model = std::fs::read_to_string(&model_file).expect("model written");
    assert!(model.contains("[model.features]"), "{model}");
    // An intent the pack does not have, a pair model of a class it does not have
    // and without its bias, a weight that is no number, and a feature name the
    // matcher never makes.
    let broken = format!(
        "{}\"w:zz\" = \"1.5 0:x\"\n\"card\" = \"1.5\"\n",
        model
            .replacen("\"exchange_rate\"", "\"exchange_rates\"", 1)
            .replacen("\nbias = [", "\npairs = [[0, 7]]\nbias = [", 1),
    );
    let lines = broken.lines().count();
    std::fs::write(&model_file, broken).expect("write");
    let check = triage(&["check", "--pack", path(&out_dir)]);
    assert_eq!(check.status.code(), Some(1));
    let text = format!("{}{}", stdout(&check), stderr(&check));
    assert!(text.contains("model.toml:"), "{text}");
    assert!(
        text.contains(&format!("model.toml:{}:", lines - 1)) && text.contains("is not a number"),
        "{text}"
    );
    assert!(
        text.contains(&format!("model.toml:{lines}:"))
            && text.contains("neither words (w:…) nor characters (c:…)"),
        "{text}"
    );
    assert!(
        text.contains("the model names intent \"exchange_rates\""),
        "{text}"
    );
    assert!(
        text.contains("pair [0, 7] is not two different classes under 3")
            && text.contains("the model has 1 pairs but 0 pair biases"),
        "{text}"
    );
    // Without the model the pack still routes (by phrases and examples).
    let plain = dir.path().join("plain");
    let out = import(&csv, &plain, &["--no-model"]);
    assert!(out.status.success());
    assert!(!plain.join("model.toml").exists());
}

#[test]
fn import_names_a_missing_column_and_refuses_a_full_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = write_csv(dir.path());
    let out_dir = dir.path().join("pack");
    let out = triage(&["import", "--csv", path(&csv), "--out", path(&out_dir)]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("no column \"text\""), "{err}");
    assert!(err.contains("\"body\", \"topic\""), "{err}");
    std::fs::create_dir_all(&out_dir).expect("mkdir");
    std::fs::write(out_dir.join("x"), "x").expect("write");
    let out = import(&csv, &out_dir, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is not empty"), "{}", stderr(&out));
}

/// A small `[embeddings]` table: "vanished" sits near "lost" and "missing",
/// "pricing" near "rate" and "exchange", "bounced" near "top up failed".
const EMBEDDINGS: &str = r#"[embeddings]
dims = 4
source = "a test"

[embeddings.vectors]
"lost" = "1 fwAAAA=="
"missing" = "1 eBQAAA=="
"vanished" = "1 fQoAAA=="
"rate" = "1 AH8AAA=="
"exchange" = "1 CngAAA=="
"pricing" = "1 AH0KAA=="
"top" = "1 AAB/AA=="
"up" = "1 AAB4Cg=="
"failed" = "1 AAB/FA=="
"bounced" = "1 AAV9Cg=="
"card" = "1 PAA8AA=="
"my" = "1 CgoKCg=="
"#;

#[test]
fn embeddings_let_the_model_read_words_its_examples_never_had() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = write_csv(dir.path());
    let table = dir.path().join("vectors.toml");
    std::fs::write(&table, EMBEDDINGS).expect("write");
    // Words no example has, each alone.
    let unseen = dir.path().join("unseen.csv");
    std::fs::write(
        &unseen,
        "body,topic\nvanished,lost_card\npricing,exchange_rate\nbounced,top_up_failed\n",
    )
    .expect("write");
    let accuracy = |pack: &Path| {
        let eval = triage(&[
            "eval",
            "--pack",
            path(pack),
            "--json",
            "--text-column",
            "body",
            "--label-column",
            "topic",
            path(&unseen),
        ]);
        assert!(eval.status.success(), "{}", stderr(&eval));
        json(&eval)["accuracy"].as_f64().expect("accuracy")
    };
    let with = dir.path().join("with");
    let out = import(&csv, &with, &["--embeddings", path(&table)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(with.join("embeddings.toml")).expect("copied"),
        EMBEDDINGS
    );
    let model = std::fs::read_to_string(with.join("model.toml")).expect("model");
    for k in 0..4 {
        assert!(model.contains(&format!("\"e:{k}\" = ")), "e:{k} in {model}");
    }
    let check = triage(&["check", "--pack", path(&with)]);
    assert!(
        check.status.success(),
        "{}{}",
        stdout(&check),
        stderr(&check)
    );
    let without = dir.path().join("without");
    assert!(import(&csv, &without, &[]).status.success());
    assert_eq!(accuracy(&with), 1.0);
    assert!(accuracy(&without) < 1.0);
    // Same data, same bytes.
    let again = dir.path().join("again");
    assert!(
        import(&csv, &again, &["--embeddings", path(&table)])
            .status
            .success()
    );
    assert_eq!(
        std::fs::read(with.join("model.toml")).expect("first"),
        std::fs::read(again.join("model.toml")).expect("second")
    );
}

#[test]
fn bad_embeddings_are_errors_that_name_the_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = write_csv(dir.path());
    // Given to import: the error names the file given, at the bad vector's line.
    let table = dir.path().join("vectors.toml");
    std::fs::write(&table, EMBEDDINGS.replace("\"1 AH8AAA==\"", "\"1 AH8A\"")).expect("write");
    let out = import(
        &csv,
        &dir.path().join("pack"),
        &["--embeddings", path(&table)],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}:9:", path(&table)))
            && err.contains("vector of \"rate\": 3 bytes where the table has 4 dimensions")
            && err.contains("help: give a file written by tools/distill_embeddings.py"),
        "{err}"
    );
    // In a pack: a model that reads embeddings the pack no longer has.
    let pack = dir.path().join("ok");
    std::fs::write(&table, EMBEDDINGS).expect("write");
    assert!(
        import(&csv, &pack, &["--embeddings", path(&table)])
            .status
            .success()
    );
    std::fs::remove_file(pack.join("embeddings.toml")).expect("remove");
    let check = triage(&["check", "--pack", path(&pack)]);
    assert_eq!(check.status.code(), Some(1));
    let text = format!("{}{}", stdout(&check), stderr(&check));
    assert!(
        text.contains("model.toml:")
            && text.contains("reads embeddings, but the pack has no [embeddings] table"),
        "{text}"
    );
}
