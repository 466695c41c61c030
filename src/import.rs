//! `triage import`: a pack from labelled examples (a CSV of text and label).
//!
//! One intent per label, with every example kept, phrases mined from the data (word
//! sequences frequent in one label and rare in the others), suggested patterns left
//! as comments for a person to review, and a placeholder contact with one action per
//! label whose route label is the label itself, so that `triage eval` on the
//! imported pack scores by the data's own categories. The output is deterministic:
//! the same CSV and options give the same bytes.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use crate::normalize::fold;

/// What to import.
#[derive(Clone, Debug)]
pub struct Options {
    /// The column holding the message text (a header name).
    pub text_column: String,
    /// The column holding the label.
    pub label_column: String,
    /// The pack's name.
    pub name: String,
    /// The CSV's file name, cited as the source of the pack.
    pub source_name: String,
    /// Also fit a linear model over the pack's features (`model.toml`).
    pub model: bool,
    /// An `[embeddings]` file (its path, for messages, and its text) for the
    /// model to read too: copied into the pack as `embeddings.toml` (with
    /// `model` only).
    pub embeddings: Option<(String, String)>,
}

/// A CSV that cannot be imported, with where and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The CSV is malformed.
    #[error("{file}:{line}: {message}\n  help: {help}")]
    Csv {
        /// The file.
        file: String,
        /// 1-based line (0 when unknown).
        line: u64,
        /// What is wrong.
        message: String,
        /// What to do.
        help: String,
    },
    /// A named column is not in the header.
    #[error(
        "{file}:1: no column {column:?}; the header has {header}\n  help: pass --text-column and --label-column with names from the header"
    )]
    Column {
        /// The file.
        file: String,
        /// The missing column.
        column: String,
        /// The header's columns.
        header: String,
    },
    /// The pack built from the CSV does not load (a bug: please report it).
    #[error("the imported pack does not load: {0}")]
    Pack(String),
    /// The embeddings file given does not load.
    #[error(
        "{0}\n  help: give a file written by tools/distill_embeddings.py, such as data/embeddings/minilm-l6-128.toml"
    )]
    Embeddings(String),
    /// Nothing to import.
    #[error("{file}: {message}\n  help: {help}")]
    Empty {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
        /// What to do.
        help: String,
    },
}

/// Labelled examples read from a CSV: (text, label), in file order.
pub fn read_csv(
    file: &str,
    data: &str,
    options: &Options,
) -> Result<Vec<(String, String)>, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(data.as_bytes());
    let csv_error = |e: csv::Error| ImportError::Csv {
        file: file.to_string(),
        line: e.position().map_or(0, csv::Position::line),
        message: e.to_string(),
        help: "each row needs as many fields as the header; quote fields that hold commas".into(),
    };
    let header = reader.headers().map_err(csv_error)?.clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| ImportError::Column {
                file: file.to_string(),
                column: name.to_string(),
                header: header
                    .iter()
                    .map(|h| format!("{h:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    };
    let (text_at, label_at) = (
        column(&options.text_column)?,
        column(&options.label_column)?,
    );
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let text = record.get(text_at).unwrap_or("").trim();
        let label = record.get(label_at).unwrap_or("").trim();
        if text.is_empty() || label.is_empty() {
            continue;
        }
        rows.push((text.to_string(), label.to_string()));
    }
    if rows.is_empty() {
        return Err(ImportError::Empty {
            file: file.to_string(),
            message: "no row has both a text and a label".into(),
            help: "check the column names and that the file has data rows".into(),
        });
    }
    Ok(rows)
}

/// An id for a label: lowercase ASCII letters, digits and underscores.
fn slug(label: &str) -> String {
    let mut out = String::new();
    for c in fold(label).chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("label_{out}")
    } else {
        out
    }
}

/// A TOML basic string.
pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Function words, negators and clause breaks of English: what makes a word
/// unfit to be a phrase on its own (the same lists go into the pack).
const MARKERS: &[&str] = &[
    "the", "my", "is", "i", "to", "and", "a", "of", "for", "it", "what", "how", "can", "do", "you",
    "in", "on", "where", "when", "who", "why", "have", "need", "want", "please", "with", "this",
    "that", "are", "was", "be", "not", "get", "help", "me", "there", "any", "an", "at", "or", "if",
    "just", "about", "from", "by", "will", "would", "could", "should", "does", "did", "am", "your",
    "our", "his", "her", "they", "we", "he", "she", "them", "here", "some", "which", "been", "has",
    "had", "were", "than", "then", "its", "into", "out", "up", "so", "too", "very", "like", "know",
    "still", "also", "way", "because", "really", "thanks", "hi", "hello", "im", "ive", "dont",
    "cant", "why", "is", "much", "many", "long", "one",
];
const NEGATORS: &[&str] = &[
    "not", "no", "never", "without", "nothing", "none", "neither", "nor",
];
const CLAUSE_BREAKS: &[&str] = &[
    "but", "however", "so", "because", "although", "though", "instead", "rather", "yet",
];

/// Lowercase words of a text, as phrase mining sees them.
fn words(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .map(|w| w.trim_matches('\'').to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Phrases for each label: word sequences (1–3 words, not all function words) that
/// occur in at least `min_count` of the label's examples and whose examples carry
/// that label at least `min_precision` of the time. At most `per_label`, the most
/// frequent first; a phrase inside a kept longer one of the same label is dropped.
fn mine_phrases(
    rows: &[(String, String)],
    labels: &[String],
    min_precision: f64,
    per_label: usize,
) -> BTreeMap<String, Vec<String>> {
    // n-gram → (label → examples containing it)
    let mut counts: HashMap<String, BTreeMap<&str, usize>> = HashMap::new();
    let mut sizes: HashMap<&str, usize> = HashMap::new();
    for (text, label) in rows {
        *sizes.entry(label.as_str()).or_default() += 1;
        let w = words(text);
        let mut seen: Vec<String> = Vec::new();
        for n in 1..=3 {
            for gram in w.windows(n) {
                if gram
                    .iter()
                    .all(|g| MARKERS.contains(&g.as_str()) || NEGATORS.contains(&g.as_str()))
                    || gram.iter().any(|g| g.chars().any(|c| c.is_ascii_digit()))
                    || MARKERS.contains(&gram[0].as_str())
                    || MARKERS.contains(&gram[n - 1].as_str())
                {
                    continue;
                }
                seen.push(gram.join(" "));
            }
        }
        seen.sort();
        seen.dedup();
        for g in seen {
            *counts
                .entry(g)
                .or_default()
                .entry(label.as_str())
                .or_default() += 1;
        }
    }
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for label in labels {
        let size = sizes.get(label.as_str()).copied().unwrap_or(0);
        let min_count = (size / 20).max(4);
        let mut candidates: Vec<(usize, String)> = counts
            .iter()
            .filter_map(|(gram, by_label)| {
                let here = by_label.get(label.as_str()).copied().unwrap_or(0);
                let total: usize = by_label.values().sum();
                (here >= min_count && here as f64 >= min_precision * total as f64)
                    .then(|| (here, gram.clone()))
            })
            .collect();
        candidates.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let mut kept: Vec<String> = Vec::new();
        for (_, gram) in candidates {
            let padded = format!(" {gram} ");
            if kept.iter().any(|k| format!(" {k} ").contains(&padded)) {
                continue;
            }
            // A longer phrase replaces the shorter ones it contains.
            kept.retain(|k| !padded.contains(&format!(" {k} ")));
            kept.push(gram);
            if kept.len() == per_label {
                break;
            }
        }
        kept.sort();
        out.insert(label.clone(), kept);
    }
    out
}

/// Suggested patterns: two content words a few words apart, frequent in one label
/// and nearly never elsewhere. Written as comments for a person to review.
fn mine_patterns(rows: &[(String, String)], label: &str, phrases: &[String]) -> Vec<String> {
    let mut pairs: HashMap<(String, String), (usize, usize)> = HashMap::new();
    for (text, l) in rows {
        let w: Vec<String> = words(text)
            .into_iter()
            .filter(|w| !MARKERS.contains(&w.as_str()) && w.len() > 2)
            .collect();
        let mut seen = Vec::new();
        for i in 0..w.len() {
            for j in i + 1..w.len().min(i + 4) {
                seen.push((w[i].clone(), w[j].clone()));
            }
        }
        seen.sort();
        seen.dedup();
        for p in seen {
            let e = pairs.entry(p).or_default();
            e.1 += 1;
            if l == label {
                e.0 += 1;
            }
        }
    }
    let mut best: Vec<((String, String), usize)> = pairs
        .into_iter()
        .filter(|(_, (here, total))| *here >= 5 && *here as f64 >= 0.95 * *total as f64)
        .map(|(p, (here, _))| (p, here))
        .filter(|((a, b), _)| {
            !phrases
                .iter()
                .any(|ph| ph.contains(a.as_str()) && ph.contains(b.as_str()))
        })
        .collect();
    best.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    best.into_iter()
        .take(3)
        .map(|((a, b), _)| format!(r"\b{a}\b.{{0,30}}\b{b}\b"))
        .collect()
}

/// The pack's files (relative path, contents) for labelled `rows`, with a linear
/// model (`model.toml`) trained on them when `options.model` is set.
pub fn pack_files(
    rows: &[(String, String)],
    options: &Options,
) -> Result<Vec<(String, String)>, ImportError> {
    let mut files = rule_files(rows, options);
    if !options.model {
        return Ok(files);
    }
    let mut sources: Vec<(std::path::PathBuf, String)> = files
        .iter()
        .map(|(path, text)| (std::path::PathBuf::from(path), text.clone()))
        .collect();
    if let Some((path, text)) = &options.embeddings {
        // Loaded under its own name, so that a bad vector is reported there.
        sources.push((path.into(), text.clone()));
        files.push(("embeddings.toml".into(), text.clone()));
    }
    let (engine, _) =
        crate::Engine::from_files(sources).map_err(|e| match &options.embeddings {
            Some((path, _)) if e.to_string().contains(path.as_str()) => {
                ImportError::Embeddings(e.to_string())
            }
            _ => ImportError::Pack(e.to_string()),
        })?;
    // Classes in the pack's intent order; each example's features as the matcher
    // will see a message's.
    let intents: Vec<String> = engine.pack.intents.iter().map(|i| i.id.clone()).collect();
    let ids = label_ids(rows);
    let class_of: HashMap<&str, usize> = engine
        .pack
        .intents
        .iter()
        .enumerate()
        .map(|(c, i)| (i.id.as_str(), c))
        .collect();
    let table = engine.pack.embeddings.as_ref();
    // Per example: its feature names and class, and its embedding vector.
    type Analysed = ((Vec<String>, usize), Vec<f32>);
    let analysed: Vec<Analysed> = crate::par::map(rows, 8, |(text, label)| {
        let a = engine.analyzer.analyze_pack_text(text, None);
        let mut dense = Vec::new();
        if let Some(table) = table {
            crate::model::embedding_of(&a, table, &mut dense);
        }
        let class = ids
            .get(label.as_str())
            .and_then(|id| class_of.get(id.as_str()))
            .copied()
            .unwrap_or(0);
        let mut names = Vec::new();
        crate::model::for_each_feature(&a, &mut String::new(), |f| names.push(f.to_string()));
        ((names, class), dense)
    });
    let (examples, dense): (Vec<_>, Vec<_>) = analysed.into_iter().unzip();
    let t = crate::model::Training::default();
    let model = crate::model::train(&examples, &dense, &intents, t);
    let comment = format!(
        "Written by `triage import` from {}: a linear SVM per intent (cost {}) over\n\
         TF-IDF of words, word pairs and 2-5 character pieces, scores times {} into a\n\
         softmax. Each line: the feature's idf, then class:weight, then pN:weight for pair\n\
         model N (an SVM for two intents the others leave close, trained on their\n\
         examples alone). Features in fewer than {} messages and weights under {}\n\
         ({} in pair models) are left out. Retrain with `triage import` after changing\n\
         the examples.{}",
        options.source_name,
        t.cost,
        t.scale,
        t.min_count,
        t.prune,
        t.pair_prune,
        match engine.pack.embeddings.as_ref() {
            Some(e) => format!(
                "\nFeatures e:0 to e:{} are the message's mean word-piece vector from\n\
                 embeddings.toml, a block of length {} beside the words' and the characters'\n\
                 (their idf).",
                e.dims() - 1,
                t.embedding_weight
            ),
            None => String::new(),
        }
    );
    files.push(("model.toml".into(), model.to_toml(&comment)));
    Ok(files)
}

/// Each label's intent id: its slug, made distinct when two labels fold to the same.
fn label_ids(rows: &[(String, String)]) -> BTreeMap<&str, String> {
    let labels: std::collections::BTreeSet<&str> = rows.iter().map(|(_, l)| l.as_str()).collect();
    let mut ids = BTreeMap::new();
    let mut taken: HashMap<String, usize> = HashMap::new();
    for label in labels {
        let base = slug(label);
        let n = taken.entry(base.clone()).or_default();
        *n += 1;
        let id = if *n == 1 { base } else { format!("{base}_{n}") };
        ids.insert(label, id);
    }
    ids
}

/// The pack's rule files: settings, the placeholder contact, intents, the source.
fn rule_files(rows: &[(String, String)], options: &Options) -> Vec<(String, String)> {
    let mut by_label: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (text, label) in rows {
        by_label.entry(label.clone()).or_default().push(text);
    }
    let labels: Vec<String> = by_label.keys().cloned().collect();
    let ids = label_ids(rows);
    let phrases = mine_phrases(rows, &labels, 0.9, 8);
    let source_doc = format!("{}.txt", slug(&options.source_name));
    let provenance = format!(
        "Imported by triage import from {} ({} labelled messages, {} labels).",
        options.source_name,
        rows.len(),
        labels.len()
    );

    let mut pack = String::new();
    let _ = writeln!(
        pack,
        "# Imported by `triage import` from {}: one intent per label. The contact below\n\
         # is a placeholder: give each label's action a real place to go (a phone line and\n\
         # option, a portal page, a store) and answers that name it.\n\
         # A message about none of the labels gets the fallback when the best intent's\n\
         # confidence is under [thresholds] answer ({} unless set).{}\n\
         # Choose it with `triage eval` on held-out messages, some labelled out_of_scope.\n\
         [pack]\nname = {}\ntime_zone = \"UTC\"\ntime_zone_label = \"UTC\"\n\
         default_language = \"en\"\nofficial_domains = [\"example.com\"]\n",
        options.source_name,
        crate::pack::DEFAULT_ANSWER,
        if options.model {
            " The model is sure of\n\
             # itself: catching such messages takes a higher value (0.8-0.95)."
        } else {
            ""
        },
        quoted(&options.name)
    );
    let list = |words: &[&str]| {
        let mut w: Vec<&str> = words.to_vec();
        w.sort_unstable();
        w.dedup();
        w.iter().map(|w| quoted(w)).collect::<Vec<_>>().join(", ")
    };
    let _ = writeln!(
        pack,
        "[languages.en]\nname = \"English\"\nstemmer = \"english\"\nmarkers = [{}]\n\
         negators = [{}]\nclause_breaks = [{}]\n\n[languages.en.messages]\n\
         fallback = \"I'm not sure I can help with that here. Try {{support.url}}.\"\n\
         clarify = \"Which of these is closest?\"\n\
         pii = \"For your privacy, please don't share personal numbers in chat.\"\n\
         scam = \"This may be a scam. Use only the official contacts at {{support.url}}.\"\n\
         lookalike = \"That address imitates an official domain but is not one.\"\n\
         closed = \"{{name}} is closed right now ({{hours}}); it opens {{opens}}\"\n\
         truncated = \"Your message was very long, so I only read the first part of it.\"\n\
         days = [\"Monday\", \"Tuesday\", \"Wednesday\", \"Thursday\", \"Friday\", \"Saturday\", \"Sunday\"]\n\
         always_open = \"24/7\"",
        list(MARKERS),
        list(NEGATORS),
        list(CLAUSE_BREAKS)
    );

    let mut contacts = String::new();
    let _ = writeln!(
        contacts,
        "# Placeholder: one action per imported label; its route label is the label.\n\
         [[contact]]\nid = \"support\"\nkind = \"portal\"\nname = \"Support (placeholder)\"\n\
         url = \"https://example.com/support\"\nhours = {{ always = true }}\n\
         source = {{ doc = {doc}, quote = {quote} }}",
        doc = quoted(&source_doc),
        quote = quoted(&provenance)
    );
    for label in &labels {
        let _ = writeln!(
            contacts,
            "\n  [[contact.action]]\n  id = {}\n  label = {}\n  route = {}\n  source = {{ doc = {}, quote = {} }}",
            quoted(&ids[label.as_str()]),
            quoted(&title(label)),
            quoted(label),
            quoted(&source_doc),
            quoted(&provenance)
        );
    }

    let mut intents = String::new();
    for (label, examples) in &by_label {
        let id = &ids[label.as_str()];
        let mined = &phrases[label];
        let _ = writeln!(
            intents,
            "[[intent]]\nid = {}\ntitle = {}",
            quoted(id),
            quoted(&title(label))
        );
        let _ = writeln!(intents, "route = {}", quoted(&format!("support:{id}")));
        let _ = writeln!(
            intents,
            "# Mined: frequent in this label's examples, rare in the others'.\nphrases = [{}]",
            mined
                .iter()
                .map(|p| quoted(p))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let patterns = mine_patterns(rows, label, mined);
        if !patterns.is_empty() {
            let _ = writeln!(
                intents,
                "# Suggested patterns (review before enabling):\n# patterns = [{}]",
                patterns
                    .iter()
                    .map(|p| format!("'{p}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let mut unique: Vec<&str> = examples.clone();
        unique.sort_unstable();
        unique.dedup();
        let _ = writeln!(intents, "examples = [");
        for ex in unique {
            let _ = writeln!(intents, "  {},", quoted(ex));
        }
        let _ = writeln!(
            intents,
            "]\nanswer.en = {}\nsource = {{ doc = {}, quote = {} }}\n",
            quoted(&format!(
                "{}: {{support.name}}, {{support.url}}.",
                title(label)
            )),
            quoted(&source_doc),
            quoted(&provenance)
        );
    }

    vec![
        ("pack.toml".into(), pack),
        ("contacts.toml".into(), contacts),
        ("intents/imported.toml".into(), intents),
        (format!("sources/{source_doc}"), format!("{provenance}\n")),
    ]
}

/// "card_arrival" → "Card arrival".
fn title(label: &str) -> String {
    let spaced: String = label
        .chars()
        .map(|c| if c == '_' || c == '-' { ' ' } else { c })
        .collect();
    let spaced = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => label.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options {
            text_column: "text".into(),
            label_column: "category".into(),
            name: "test".into(),
            source_name: "tickets.csv".into(),
            model: false,
            embeddings: None,
        }
    }

    #[test]
    fn slugs_are_ids() {
        assert_eq!(slug("Refund_not_showing_up"), "refund_not_showing_up");
        assert_eq!(slug("card arrival?"), "card_arrival");
        assert_eq!(slug("3ds"), "label_3ds");
        assert_eq!(title("card_arrival"), "Card arrival");
    }

    #[test]
    fn columns_are_found_by_name_and_bad_rows_are_located() {
        let rows = read_csv(
            "t.csv",
            "category,text\na,\"hello, there\"\nb,bye\n",
            &options(),
        )
        .expect("reads");
        assert_eq!(
            rows,
            [
                ("hello, there".to_string(), "a".to_string()),
                ("bye".into(), "b".into())
            ]
        );
        let err = read_csv("t.csv", "label,body\na,b\n", &options()).expect_err("no column");
        assert!(err.to_string().contains("no column \"text\""), "{err}");
        let err = read_csv("t.csv", "text,category\na,b\nc,d,e\n", &options()).expect_err("ragged");
        assert!(err.to_string().starts_with("t.csv:3:"), "{err}");
        let err = read_csv("t.csv", "text,category\n", &options()).expect_err("empty");
        assert!(err.to_string().contains("no row"), "{err}");
    }

    #[test]
    fn mined_phrases_are_frequent_in_one_label_only() {
        let mut rows = Vec::new();
        for i in 0..10 {
            rows.push((
                format!("where is my new card {i}"),
                "card_arrival".to_string(),
            ));
            rows.push((
                format!("my card payment was declined {i}"),
                "declined".to_string(),
            ));
        }
        let labels = vec!["card_arrival".to_string(), "declined".to_string()];
        let phrases = mine_phrases(&rows, &labels, 0.9, 8);
        // "card" is in both labels: never a phrase alone; "new card" is one label's.
        assert!(
            phrases["card_arrival"].contains(&"new card".to_string()),
            "{phrases:?}"
        );
        assert!(!phrases["card_arrival"].contains(&"card".to_string()));
        assert!(
            phrases["declined"].iter().any(|p| p.contains("declined")),
            "{phrases:?}"
        );
        // Numbers are never phrases.
        assert!(phrases.values().flatten().all(|p| !p.contains('1')));
    }
}
