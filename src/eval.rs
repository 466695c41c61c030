//! Routing accuracy over labelled messages: what `triage eval` reports.
//!
//! A labelled file is JSON lines in the ROUTES.md format: `text`, `accept` (the route
//! labels a right first reply may lead with), optional `id`, `must_say`,
//! `must_not_say` (case-insensitive regexes) and `tags`. Each message is answered in
//! a fresh session. The reply's label is read as ROUTES.md says, from what the pack
//! declares: `emergency` for an emergency, `out_of_scope` for a fallback, `clarify`
//! for a clarification (never right), else the route label of the primary action. A
//! `scam` warning satisfies an item that accepts `scam`, and a line's label also
//! accepts a call to one of its menu options (`main` accepts `main:1`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use jiff::ZonedDateTime as Zoned;
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use crate::{Engine, Explain, Outcome, Reply, Session, Warning};

/// One labelled message.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// An id to name the message by in reports (default: its line number).
    #[serde(default)]
    pub id: Option<String>,
    /// What the member wrote.
    pub text: String,
    /// Route labels a right first reply may lead with; the first is the expected one.
    pub accept: Vec<String>,
    /// A regex the reply text must match.
    #[serde(default)]
    pub must_say: Option<String>,
    /// A regex nothing shown (reply, actions, choices) may match.
    #[serde(default)]
    pub must_not_say: Option<String>,
    /// Free-form tags (ignored by the scoring).
    #[serde(default)]
    pub tags: Vec<String>,
    /// The line it came from (1-based).
    #[serde(skip)]
    pub line: usize,
}

/// A labelled file that cannot be read, with where and what to do.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not a labelled item.
    #[error("{path}:{line}:{column}: {message}\n  help: {help}")]
    Item {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
        /// What to do.
        help: String,
    },
}

const ITEM_HELP: &str = "each line is {\"text\": string, \"accept\": [route labels], \
                         \"id\"?, \"must_say\"?, \"must_not_say\"?, \"tags\"?} (ROUTES.md)";

/// Reads a JSON-lines labelled file; blank lines are skipped.
pub fn read_items(path: &Path) -> Result<Vec<Item>, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_items(&path.display().to_string(), &text)
}

/// Parses labelled items from `text` (named `path` in errors).
pub fn parse_items(path: &str, text: &str) -> Result<Vec<Item>, EvalError> {
    let mut items = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let error = |column: usize, message: String| EvalError::Item {
            path: path.to_string(),
            line: i + 1,
            column,
            message,
            help: ITEM_HELP.to_string(),
        };
        let mut item: Item =
            serde_json::from_str(line).map_err(|e| error(e.column().max(1), e.to_string()))?;
        if item.accept.is_empty() {
            return Err(error(1, "`accept` is empty".into()));
        }
        for (field, pattern) in [
            ("must_say", &item.must_say),
            ("must_not_say", &item.must_not_say),
        ] {
            if let Some(p) = pattern
                && let Err(e) = Regex::new(p)
            {
                let column = line.find(field).map_or(1, |c| c + 1);
                return Err(error(
                    column,
                    format!("`{field}` is not a valid regex: {e}"),
                ));
            }
        }
        item.line = i + 1;
        items.push(item);
    }
    Ok(items)
}

/// The route label a reply leads with, as ROUTES.md reads it.
pub fn route_label(reply: &Reply) -> String {
    match reply.outcome {
        Outcome::Emergency => "emergency".into(),
        Outcome::Fallback => "out_of_scope".into(),
        Outcome::Clarify => "clarify".into(),
        Outcome::Answer => reply
            .actions
            .first()
            .map_or_else(|| "none".into(), |a| a.route.clone()),
    }
}

/// Which accepted label the reply satisfies, if any. A line's label also accepts
/// a call to one of its menu options (`main` accepts `main:1`: the member reaches
/// the same line), but a contact does not accept its other actions.
pub fn accepted<'a>(accept: &'a [String], reply: &Reply, label: &str) -> Option<&'a str> {
    let option = reply
        .actions
        .first()
        .filter(|_| reply.outcome == Outcome::Answer)
        .and_then(|a| a.option.as_deref());
    accept
        .iter()
        .find(|want| {
            (want.as_str() == "scam" && reply.warnings.contains(&Warning::Scam))
                || want.as_str() == label
                || option.is_some_and(|key| {
                    label
                        .strip_prefix(want.as_str())
                        .and_then(|rest| rest.strip_prefix(':'))
                        == Some(key)
                })
        })
        .map(String::as_str)
}

/// One message's result.
#[derive(Clone, Debug, Serialize)]
pub struct Scored {
    /// The item's id, or `line N`.
    pub id: String,
    /// What the member wrote (PII redacted).
    pub text: String,
    /// The expected label (the first accepted one).
    pub expected: String,
    /// Every accepted label.
    pub accept: Vec<String>,
    /// The reply's label (the accepted one it satisfied, when right).
    pub got: String,
    /// Whether the reply was right.
    pub correct: bool,
    /// Why a reply with the right route still failed (`must_say`, `must_not_say`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// The intent answered, if any.
    pub intent: Option<String>,
    /// The reply's confidence.
    pub confidence: f64,
    /// The evidence, for misroutes when asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Explain>,
}

/// Precision, recall and F1 of one label.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LabelStats {
    /// Messages expected to get this label.
    pub support: usize,
    /// Replies that led with it rightly.
    pub true_positives: usize,
    /// Replies that led with it for another label.
    pub false_positives: usize,
    /// Messages of this label that got another.
    pub false_negatives: usize,
    /// `tp / (tp + fp)` (1 when nothing was predicted).
    pub precision: f64,
    /// `tp / support` (1 when there is no support).
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

/// How often an expected label got another one.
#[derive(Clone, Debug, Serialize)]
pub struct Confusion {
    /// The expected label.
    pub expected: String,
    /// What the replies led with instead.
    pub got: String,
    /// How many times.
    pub count: usize,
}

/// Everything `triage eval` reports.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Messages scored.
    pub n: usize,
    /// Messages routed right.
    pub correct: usize,
    /// `correct / n` (0–1).
    pub accuracy: f64,
    /// Per expected or predicted label.
    pub per_label: BTreeMap<String, LabelStats>,
    /// Misroutes by (expected, got), most frequent first.
    pub confusions: Vec<Confusion>,
    /// Every message that was not routed right.
    pub misses: Vec<Scored>,
    /// Macro-averaged F1 over the labels with support.
    pub macro_f1: f64,
}

/// Answers every item (in parallel, each in a fresh session at `now`) and scores
/// it. `progress` is called with the number of messages done so far.
pub fn evaluate(
    engine: &Engine,
    items: &[Item],
    now: &Zoned,
    explain: bool,
    progress: &(dyn Fn(usize) + Sync),
) -> Report {
    let done = AtomicUsize::new(0);
    let regex = |p: &str| RegexBuilder::new(p).case_insensitive(true).build().ok();
    let scored = crate::par::map(items, 64, |item| {
        let mut session = Session::new();
        let reply = if explain {
            engine.respond_explained(&mut session, &item.text, now)
        } else {
            engine.respond(&mut session, &item.text, now)
        };
        let label = route_label(&reply);
        let hit = accepted(&item.accept, &reply, &label);
        let mut why = None;
        if hit.is_some() {
            if let Some(p) = &item.must_say
                && regex(p).is_some_and(|r| !r.is_match(&reply.reply))
            {
                why = Some(format!("the reply does not say /{p}/"));
            }
            let shown = format!(
                "{} {} {}",
                reply.reply,
                serde_json::to_string(&reply.actions).unwrap_or_default(),
                serde_json::to_string(&reply.choices).unwrap_or_default()
            );
            if let Some(p) = &item.must_not_say
                && regex(p).is_some_and(|r| r.is_match(&shown))
            {
                why = Some(format!("the reply shows /{p}/"));
            }
        }
        let correct = hit.is_some() && why.is_none();
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(64) {
            progress(n);
        }
        Scored {
            id: item
                .id
                .clone()
                .unwrap_or_else(|| format!("line {}", item.line)),
            text: engine.redact(&item.text),
            expected: item.accept[0].clone(),
            accept: item.accept.clone(),
            got: hit.map_or(label, str::to_string),
            correct,
            why,
            intent: reply.intent.clone(),
            confidence: reply.confidence,
            evidence: if correct {
                Vec::new()
            } else {
                reply.explain.unwrap_or_default()
            },
        }
    });
    progress(items.len());
    summarize(scored)
}

/// Totals, per-label statistics and confusions of scored messages.
pub fn summarize(scored: Vec<Scored>) -> Report {
    let mut per_label: BTreeMap<String, LabelStats> = BTreeMap::new();
    let mut confusions: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut correct = 0;
    for s in &scored {
        per_label.entry(s.expected.clone()).or_default().support += 1;
        if s.correct {
            correct += 1;
            per_label
                .entry(s.expected.clone())
                .or_default()
                .true_positives += 1;
        } else {
            per_label
                .entry(s.expected.clone())
                .or_default()
                .false_negatives += 1;
            // A right route that failed `must_say` is no false positive of another label.
            if s.got != s.expected {
                per_label.entry(s.got.clone()).or_default().false_positives += 1;
            }
            *confusions
                .entry((s.expected.clone(), s.got.clone()))
                .or_default() += 1;
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    for stats in per_label.values_mut() {
        stats.precision = ratio(
            stats.true_positives,
            stats.true_positives + stats.false_positives,
        );
        stats.recall = ratio(stats.true_positives, stats.support);
        let (p, r) = (stats.precision, stats.recall);
        stats.f1 = if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        };
    }
    let supported: Vec<f64> = per_label
        .values()
        .filter(|s| s.support > 0)
        .map(|s| s.f1)
        .collect();
    let macro_f1 = if supported.is_empty() {
        0.0
    } else {
        supported.iter().sum::<f64>() / supported.len() as f64
    };
    let mut confusions: Vec<Confusion> = confusions
        .into_iter()
        .map(|((expected, got), count)| Confusion {
            expected,
            got,
            count,
        })
        .collect();
    confusions.sort_by_key(|c| std::cmp::Reverse(c.count));
    let n = scored.len();
    Report {
        n,
        correct,
        accuracy: if n == 0 {
            0.0
        } else {
            correct as f64 / n as f64
        },
        per_label,
        confusions,
        misses: scored.into_iter().filter(|s| !s.correct).collect(),
        macro_f1,
    }
}

/// The report as text: totals, per-label table, top confusions and (with
/// `explain`) every misroute with its evidence.
pub fn text(report: &Report, explain: bool, top_confusions: usize) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "accuracy {:.1} % ({}/{}), macro F1 {:.3}\n",
        100.0 * report.accuracy,
        report.correct,
        report.n,
        report.macro_f1
    );
    let width = report
        .per_label
        .keys()
        .map(String::len)
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(
        out,
        "{:<width$}  {:>7}  {:>9}  {:>6}  {:>5}",
        "label", "support", "precision", "recall", "F1"
    );
    for (label, s) in &report.per_label {
        let (p, r, f) = shown(s);
        let _ = writeln!(
            out,
            "{label:<width$}  {:>7}  {p:>9}  {r:>6}  {f:>5}",
            s.support
        );
    }
    if !report.confusions.is_empty() {
        let _ = writeln!(out, "\nmost frequent confusions (expected → got):");
        for c in report.confusions.iter().take(top_confusions) {
            let _ = writeln!(out, "  {:>4}  {} → {}", c.count, c.expected, c.got);
        }
    }
    if explain && !report.misses.is_empty() {
        let _ = writeln!(out, "\nmisroutes:");
        for m in &report.misses {
            let _ = writeln!(
                out,
                "  {}: {:?}\n    expected {} got {} (intent {}, confidence {:.2}){}",
                m.id,
                m.text,
                m.accept.join("|"),
                m.got,
                m.intent.as_deref().unwrap_or("-"),
                m.confidence,
                m.why
                    .as_deref()
                    .map(|w| format!("; {w}"))
                    .unwrap_or_default()
            );
            for e in m.evidence.iter().take(6) {
                let _ = writeln!(
                    out,
                    "      {:<9} {:+.2} {} {:?}",
                    e.kind,
                    e.weight,
                    e.intent.as_deref().unwrap_or("-"),
                    e.detail
                );
            }
        }
    }
    out
}

/// Precision, recall and F1 as printed: a label never expected (support 0, such as
/// `clarify`) has no recall or F1, only a precision of 0.
fn shown(s: &LabelStats) -> (String, String, String) {
    let p = format!("{:.3}", s.precision);
    if s.support == 0 {
        (p, "–".into(), "–".into())
    } else {
        (p, format!("{:.3}", s.recall), format!("{:.3}", s.f1))
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A self-contained HTML page: the summary, per-label table, a confusion-matrix
/// heatmap (rows expected, columns got; each cell's colour is its share of the
/// row) and every misroute with its evidence.
pub fn html(report: &Report, title: &str) -> String {
    use std::fmt::Write;
    // Labels in the matrix: every expected one, then any other the replies gave.
    let mut labels: Vec<&str> = report
        .per_label
        .iter()
        .filter(|(_, s)| s.support > 0)
        .map(|(l, _)| l.as_str())
        .collect();
    for (l, s) in &report.per_label {
        if s.support == 0 {
            labels.push(l);
        }
    }
    let index: BTreeMap<&str, usize> = labels.iter().enumerate().map(|(i, l)| (*l, i)).collect();
    let mut matrix = vec![vec![0usize; labels.len()]; labels.len()];
    for (l, s) in &report.per_label {
        if let Some(&i) = index.get(l.as_str()) {
            matrix[i][i] += s.true_positives;
        }
    }
    for c in &report.confusions {
        if let (Some(&i), Some(&j)) = (index.get(c.expected.as_str()), index.get(c.got.as_str())) {
            matrix[i][j] += c.count;
        }
    }
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{t}</title><style>\
         body{{font:14px system-ui,sans-serif;margin:2em;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0}}\
         td,th{{border:1px solid #ddd;padding:3px 6px;text-align:right}}\
         th{{background:#f4f4f4}} td.l,th.l{{text-align:left}}\
         .m td{{width:1.6em;height:1.6em;padding:0;text-align:center;font-size:11px}}\
         .m th.c{{writing-mode:vertical-rl;transform:rotate(180deg);font-weight:normal}}\
         .m th.r{{text-align:right;font-weight:normal;white-space:nowrap}}\
         .big{{font-size:28px;font-weight:bold}}\
         </style></head><body>\n<h1>{t}</h1>\n\
         <p id=\"summary\"><span class=\"big\">{acc:.1} %</span> routed right \
         ({c} of {n}); macro F1 {f1:.3}; {m} misroutes.</p>\n",
        t = escape(title),
        acc = 100.0 * report.accuracy,
        c = report.correct,
        n = report.n,
        f1 = report.macro_f1,
        m = report.misses.len()
    );
    let _ = write!(
        out,
        "<h2>Per label</h2>\n<table id=\"labels\"><tr><th class=\"l\">label</th>\
         <th>support</th><th>precision</th><th>recall</th><th>F1</th></tr>\n"
    );
    for (l, s) in &report.per_label {
        let (p, r, f) = shown(s);
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{p}</td><td>{r}</td><td>{f}</td></tr>",
            escape(l),
            s.support
        );
    }
    out.push_str("</table>\n<h2>Confusion matrix</h2>\n<p>Rows: expected label; columns: the label the reply led with. A cell's colour is its share of the row.</p>\n<table class=\"m\" id=\"matrix\"><tr><th></th>");
    for l in &labels {
        let _ = write!(out, "<th class=\"c\">{}</th>", escape(l));
    }
    out.push_str("</tr>\n");
    for (i, row) in matrix.iter().enumerate() {
        let total: usize = row.iter().sum();
        let _ = write!(out, "<tr><th class=\"r\">{}</th>", escape(labels[i]));
        for (j, &count) in row.iter().enumerate() {
            let share = if total == 0 {
                0.0
            } else {
                count as f64 / total as f64
            };
            // Right answers in blue, misroutes in red; the share sets the strength.
            let (r, g, b) = if i == j {
                (33, 102, 172)
            } else {
                (203, 24, 29)
            };
            let text = if count == 0 {
                String::new()
            } else {
                count.to_string()
            };
            let _ = write!(
                out,
                "<td title=\"{} → {}: {count}\" style=\"background:rgba({r},{g},{b},{share:.3});color:{}\">{text}</td>",
                escape(labels[i]),
                escape(labels[j]),
                if share > 0.5 { "#fff" } else { "#222" }
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n<h2>Misroutes</h2>\n<table id=\"misses\"><tr><th class=\"l\">id</th><th class=\"l\">message</th><th class=\"l\">expected</th><th class=\"l\">got</th><th class=\"l\">intent</th><th>confidence</th><th class=\"l\">evidence</th></tr>\n");
    for m in &report.misses {
        let evidence: Vec<String> = m
            .evidence
            .iter()
            .take(4)
            .map(|e| {
                format!(
                    "{} {:+.2} {} “{}”",
                    escape(&e.kind),
                    e.weight,
                    escape(e.intent.as_deref().unwrap_or("-")),
                    escape(&e.detail)
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}{}</td><td class=\"l\">{}</td><td>{:.2}</td><td class=\"l\">{}</td></tr>",
            escape(&m.id),
            escape(&m.text),
            escape(&m.accept.join(" | ")),
            escape(&m.got),
            m.why
                .as_deref()
                .map(|w| format!(" ({})", escape(w)))
                .unwrap_or_default(),
            escape(m.intent.as_deref().unwrap_or("-")),
            m.confidence,
            evidence.join("<br>")
        );
    }
    out.push_str("</table>\n</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(expected: &str, got: &str) -> Scored {
        Scored {
            id: String::new(),
            text: String::new(),
            expected: expected.into(),
            accept: vec![expected.into()],
            got: got.into(),
            correct: expected == got,
            why: None,
            intent: None,
            confidence: 0.0,
            evidence: Vec::new(),
        }
    }

    #[test]
    fn precision_recall_and_f1_follow_the_confusions() {
        let r = summarize(vec![
            scored("a", "a"),
            scored("a", "a"),
            scored("a", "b"),
            scored("b", "b"),
            scored("b", "a"),
            scored("c", "out_of_scope"),
        ]);
        assert_eq!((r.n, r.correct), (6, 3));
        let a = &r.per_label["a"];
        assert_eq!((a.support, a.true_positives, a.false_positives), (3, 2, 1));
        assert!((a.precision - 2.0 / 3.0).abs() < 1e-9);
        assert!((a.recall - 2.0 / 3.0).abs() < 1e-9);
        let b = &r.per_label["b"];
        assert!((b.precision - 0.5).abs() < 1e-9 && (b.recall - 0.5).abs() < 1e-9);
        assert_eq!(r.per_label["c"].recall, 0.0);
        assert_eq!(r.per_label["c"].f1, 0.0);
        // Predicted but never expected: a label with no support, only false positives.
        assert_eq!(r.per_label["out_of_scope"].support, 0);
        assert_eq!(r.per_label["out_of_scope"].precision, 0.0);
        assert_eq!(r.misses.len(), 3);
        assert_eq!(r.confusions.len(), 3);
        // Macro F1 over a, b, c.
        assert!((r.macro_f1 - (2.0 / 3.0 + 0.5 + 0.0) / 3.0).abs() < 1e-9);
    }

    #[test]
    fn bad_lines_name_the_file_line_and_column() {
        let err = parse_items(
            "set.jsonl",
            "{\"text\": \"hi\", \"accept\": [\"a\"]}\n\n{\"text\": 3}\n",
        )
        .expect_err("a number is no text");
        let msg = err.to_string();
        assert!(msg.starts_with("set.jsonl:3:"), "{msg}");
        assert!(msg.contains("help:"), "{msg}");
        let err = parse_items("s", "{\"text\": \"hi\", \"accept\": []}").expect_err("empty");
        assert!(err.to_string().contains("`accept` is empty"));
        let err = parse_items(
            "s",
            "{\"text\": \"hi\", \"accept\": [\"a\"], \"must_say\": \"(\"}",
        )
        .expect_err("bad regex");
        assert!(err.to_string().contains("must_say"), "{err}");
        let ok = parse_items(
            "s",
            "{\"text\": \"hi\", \"accept\": [\"a\"], \"tags\": [\"x\"]}",
        )
        .expect("valid");
        assert_eq!(ok[0].line, 1);
    }

    #[test]
    fn the_html_report_escapes_what_members_wrote() {
        let mut s = scored("a", "b");
        s.text = "<script>alert(1)</script> & more".into();
        let page = html(&summarize(vec![s, scored("a", "a")]), "T <1>");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"));
        assert!(!page.contains("<script>"));
        assert!(page.contains("<title>T &lt;1&gt;</title>"));
        assert!(page.contains("id=\"matrix\""));
    }
}
