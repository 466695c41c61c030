//! Transcripts: whole conversations with what each reply must be, replayed as
//! regression tests (`triage replay`, `cargo test`). The format is documented in
//! `transcripts/README.md`.
//!
//! ```text
//! # A Medicare member asks about a bill.
//! @at 2026-11-24T10:00:00-06:00
//!
//! > I'm on Medicare Part D and my bill looks wrong
//!   outcome: answer
//!   route: main:3
//!   says: press 3
//! ```

use std::path::{Path, PathBuf};

use jiff::ZonedDateTime as Zoned;

use crate::render::{Outcome, Reply};
use crate::{Engine, Session};

/// The file extension of transcripts.
pub const EXTENSION: &str = "chat";

/// The clock when a transcript sets none: a Tuesday morning, every line open.
const DEFAULT_CLOCK: &str = "2026-11-24 10:00";

/// A parsed transcript.
#[derive(Clone, Debug)]
pub struct Transcript {
    /// How the file is named in messages.
    pub name: String,
    /// `@pack`, resolved against the transcript's folder.
    pub pack: Option<PathBuf>,
    /// Directives and turns in file order.
    pub steps: Vec<Step>,
}

/// One line of effect in a transcript.
#[derive(Clone, Debug)]
pub enum Step {
    /// `@at`: the clock from here on.
    At {
        /// Its line.
        line: usize,
        /// The clock.
        at: Clock,
    },
    /// `@lang`: the conversation's language from here on.
    Lang {
        /// Its line.
        line: usize,
        /// A language code of the pack.
        code: String,
    },
    /// `@reset`: a new conversation.
    Reset {
        /// Its line.
        line: usize,
    },
    /// `> text` with its expectations.
    Turn(Turn),
}

/// A clock as written: an instant, or a wall-clock time in the pack's zone.
#[derive(Clone, Debug)]
pub enum Clock {
    /// RFC 3339 with an offset.
    Instant(jiff::Timestamp),
    /// `YYYY-MM-DD HH:MM` in the pack's time zone.
    Local(jiff::civil::DateTime),
}

impl Clock {
    /// Parses RFC 3339 with an offset, or `YYYY-MM-DD HH:MM` in the pack's zone.
    ///
    /// # Errors
    /// A message saying what to write instead.
    pub fn parse(s: &str) -> Result<Clock, String> {
        let s = s.trim();
        if let Ok(t) = s.parse::<jiff::Timestamp>() {
            return Ok(Clock::Instant(t));
        }
        s.parse::<jiff::civil::DateTime>()
            .map(Clock::Local)
            .map_err(|_| {
                format!(
                    "cannot read the time {s:?}: write RFC 3339 with an offset \
                     (2026-11-24T21:00:00-06:00) or a local time in the pack's zone \
                     (2026-11-24 21:00)"
                )
            })
    }

    /// The instant in the pack's time zone.
    pub fn resolve(&self, tz: &jiff::tz::TimeZone) -> Option<Zoned> {
        match self {
            Clock::Instant(t) => Some(t.to_zoned_datetime(tz.clone())),
            Clock::Local(dt) => dt.to_zoned_datetime(tz.clone()).ok(),
        }
    }
}

/// A member's message and what its reply must be.
#[derive(Clone, Debug)]
pub struct Turn {
    /// Line of the `>`.
    pub line: usize,
    /// The message.
    pub text: String,
    /// Expectations, in file order.
    pub expects: Vec<Expect>,
}

/// One expectation line.
#[derive(Clone, Debug)]
pub struct Expect {
    /// Its line.
    pub line: usize,
    /// What it checks.
    pub check: Check,
}

/// What an expectation checks.
#[derive(Clone, Debug)]
pub enum Check {
    /// `outcome: answer|clarify|fallback|emergency`
    Outcome(Outcome),
    /// `intent: id` or `intent: none`
    Intent(Option<String>),
    /// `route: label` of the primary action, or `none` for no action.
    Route(Option<String>),
    /// `routes: a, b, …`: every action's route label, in order.
    Routes(Vec<String>),
    /// `contact: id [option]`: the primary action's contact and menu option.
    Contact {
        /// Contact id.
        contact: String,
        /// Menu option, when given.
        option: Option<String>,
    },
    /// `reply: …`: the whole reply text.
    Reply(String),
    /// `says: …`: the reply contains this (case-insensitive).
    Says(String),
    /// `not says: …`
    NotSays(String),
    /// `matches: regex` over the reply text.
    Matches(regex::Regex),
    /// `not matches: regex`
    NotMatches(regex::Regex),
    /// `warnings: a, b` (any order) or `warnings: none`.
    Warnings(Vec<String>),
    /// `choices: intent, intent`: the clarification's choices, in order.
    Choices(Vec<String>),
    /// `language: es`
    Language(String),
}

impl Check {
    fn key(&self) -> &'static str {
        match self {
            Check::Outcome(_) => "outcome",
            Check::Intent(_) => "intent",
            Check::Route(_) => "route",
            Check::Routes(_) => "routes",
            Check::Contact { .. } => "contact",
            Check::Reply(_) => "reply",
            Check::Says(_) => "says",
            Check::NotSays(_) => "not says",
            Check::Matches(_) => "matches",
            Check::NotMatches(_) => "not matches",
            Check::Warnings(_) => "warnings",
            Check::Choices(_) => "choices",
            Check::Language(_) => "language",
        }
    }
}

/// A problem in a transcript file, at a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The file as named.
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

const KEYS: &str = "outcome, intent, route, routes, contact, reply, says, not says, \
                    matches, not matches, warnings, choices, language";

fn list(value: &str) -> Vec<String> {
    if value.trim() == "none" {
        return Vec::new();
    }
    value
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn none_or(value: &str) -> Option<String> {
    (value != "none").then(|| value.to_string())
}

fn parse_check(key: &str, value: &str) -> Result<Check, String> {
    let regex =
        |v: &str| regex::Regex::new(v).map_err(|e| format!("invalid regex in `{key}`: {e}"));
    if value.is_empty() && key != "reply" {
        return Err(format!("`{key}:` needs a value"));
    }
    Ok(match key {
        "outcome" => Check::Outcome(match value {
            "answer" => Outcome::Answer,
            "clarify" => Outcome::Clarify,
            "fallback" => Outcome::Fallback,
            "emergency" => Outcome::Emergency,
            other => {
                return Err(format!(
                    "unknown outcome {other:?}: use answer, clarify, fallback or emergency"
                ));
            }
        }),
        "intent" => Check::Intent(none_or(value)),
        "route" => Check::Route(none_or(value)),
        "routes" => Check::Routes(list(value)),
        "contact" => {
            let mut parts = value.split_whitespace();
            let contact = parts.next().unwrap_or_default().to_string();
            let option = parts.rfind(|p| *p != "option").map(str::to_string);
            Check::Contact { contact, option }
        }
        "reply" => Check::Reply(value.to_string()),
        "says" => Check::Says(value.to_string()),
        "not says" => Check::NotSays(value.to_string()),
        "matches" => Check::Matches(regex(value)?),
        "not matches" => Check::NotMatches(regex(value)?),
        "warnings" => Check::Warnings(list(value)),
        "choices" => Check::Choices(list(value)),
        "language" => Check::Language(value.to_string()),
        other => return Err(format!("unknown expectation `{other}:` (one of: {KEYS})")),
    })
}

/// Parses a transcript. `path` resolves `@pack` and names the file in errors.
///
/// # Errors
/// Every problem in the file, each at its line.
pub fn parse(path: &Path, text: &str) -> Result<Transcript, Vec<ParseError>> {
    let name = path.display().to_string();
    let mut errors = Vec::new();
    let mut steps: Vec<Step> = Vec::new();
    let mut pack = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        let mut error = |message: String| {
            errors.push(ParseError {
                file: name.clone(),
                line,
                message,
            })
        };
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(text) = trimmed.strip_prefix('>') {
            let text = text.trim();
            if text.is_empty() {
                error("a member turn `>` needs a message".into());
            }
            steps.push(Step::Turn(Turn {
                line,
                text: text.to_string(),
                expects: Vec::new(),
            }));
            continue;
        }
        if let Some(directive) = trimmed.strip_prefix('@') {
            let (word, value) = directive
                .split_once(char::is_whitespace)
                .map_or((directive, ""), |(w, v)| (w, v.trim()));
            match word {
                "at" => match Clock::parse(value) {
                    Ok(at) => steps.push(Step::At { line, at }),
                    Err(e) => error(e),
                },
                "lang" if !value.is_empty() => steps.push(Step::Lang {
                    line,
                    code: value.to_string(),
                }),
                "reset" => steps.push(Step::Reset { line }),
                "pack" if !value.is_empty() => {
                    if steps.iter().any(|s| matches!(s, Step::Turn(_))) {
                        error("`@pack` must come before the first turn".into());
                    }
                    let base = path.parent().unwrap_or(Path::new("."));
                    pack = Some(base.join(value));
                }
                "lang" | "pack" => error(format!("`@{word}` needs a value")),
                other => error(format!(
                    "unknown directive `@{other}` (use @at, @lang, @reset or @pack)"
                )),
            }
            continue;
        }
        let Some((key, value)) = trimmed.split_once(':') else {
            error(format!(
                "cannot read {trimmed:?}: a line is a `> message`, an `@directive`, \
                 a `# comment` or an expectation `key: value`"
            ));
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        match parse_check(&key, value.trim()) {
            Ok(check) => match steps.last_mut() {
                Some(Step::Turn(turn)) => turn.expects.push(Expect { line, check }),
                _ => error(format!(
                    "expectation `{key}:` before any member turn: put it after a `> message` line"
                )),
            },
            Err(e) => error(e),
        }
    }
    if !steps.iter().any(|s| matches!(s, Step::Turn(_))) && errors.is_empty() {
        errors.push(ParseError {
            file: name.clone(),
            line: 1,
            message: "no member turns: write at least one `> message` line".into(),
        });
    }
    if errors.is_empty() {
        Ok(Transcript { name, pack, steps })
    } else {
        Err(errors)
    }
}

/// An expectation that did not hold.
#[derive(Clone, Debug)]
pub struct Failure {
    /// Line of the expectation.
    pub line: usize,
    /// Its key (`intent`, `says`, …).
    pub key: &'static str,
    /// What the file expects.
    pub expected: String,
    /// What the reply had.
    pub actual: String,
}

/// The result of replaying one transcript.
#[derive(Clone, Debug)]
pub struct Report {
    /// The transcript's name.
    pub name: String,
    /// Member turns replayed.
    pub turns: usize,
    /// Every expectation that failed, in file order.
    pub failures: Vec<Failure>,
    /// The reply to each turn, by the turn's line.
    pub replies: Vec<(usize, Reply)>,
}

impl Report {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The failures as text: `file:line: key: expected …, got …`, with a word
    /// diff for reply text.
    pub fn render_failures(&self) -> String {
        let mut out = String::new();
        for f in &self.failures {
            out.push_str(&format!("{}:{}: {}\n", self.name, f.line, f.key));
            if f.key == "reply" {
                out.push_str(&word_diff(&f.expected, &f.actual));
            } else {
                out.push_str(&format!(
                    "    expected: {}\n    actual:   {}\n",
                    f.expected, f.actual
                ));
            }
        }
        out
    }
}

/// The words of `actual` with `[-removed-]` and `{+added+}` runs marked.
fn word_diff(expected: &str, actual: &str) -> String {
    use similar::{ChangeTag, TextDiff};
    let diff = TextDiff::from_words(expected, actual);
    let mut marked = String::new();
    let mut run: Option<(ChangeTag, String)> = None;
    let close = |run: &mut Option<(ChangeTag, String)>, out: &mut String| {
        if let Some((tag, text)) = run.take() {
            match tag {
                ChangeTag::Delete => out.push_str(&format!("[-{}-]", text.trim_end())),
                ChangeTag::Insert => out.push_str(&format!("{{+{}+}}", text.trim_end())),
                ChangeTag::Equal => out.push_str(&text),
            }
            if text.ends_with(' ') && tag != ChangeTag::Equal {
                out.push(' ');
            }
        }
    };
    for change in diff.iter_all_changes() {
        let tag = change.tag();
        match &mut run {
            Some((t, text)) if *t == tag => text.push_str(change.value()),
            _ => {
                close(&mut run, &mut marked);
                run = Some((tag, change.value().to_string()));
            }
        }
    }
    close(&mut run, &mut marked);
    format!("    expected: {expected}\n    actual:   {actual}\n    diff:     {marked}\n")
}

fn show_list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Answer => "answer",
        Outcome::Clarify => "clarify",
        Outcome::Fallback => "fallback",
        Outcome::Emergency => "emergency",
    }
}

/// Checks one reply against one expectation; `Some((expected, actual))` when it fails.
fn verify(check: &Check, reply: &Reply) -> Option<(String, String)> {
    let fail = |e: String, a: String| Some((e, a));
    let primary = reply.actions.first();
    let quoted = || format!("{:?}", reply.reply);
    match check {
        Check::Outcome(o) => (reply.outcome != *o)
            .then(|| (outcome_name(*o).into(), outcome_name(reply.outcome).into())),
        Check::Intent(i) => (reply.intent != *i).then(|| {
            (
                i.clone().unwrap_or_else(|| "none".into()),
                reply.intent.clone().unwrap_or_else(|| "none".into()),
            )
        }),
        Check::Route(r) => {
            let actual = primary.map(|a| a.route.clone());
            (actual != *r).then(|| {
                (
                    r.clone().unwrap_or_else(|| "none".into()),
                    actual.unwrap_or_else(|| "none".into()),
                )
            })
        }
        Check::Routes(rs) => {
            let actual: Vec<String> = reply.actions.iter().map(|a| a.route.clone()).collect();
            (actual != *rs).then(|| (show_list(rs), show_list(&actual)))
        }
        Check::Contact { contact, option } => {
            let actual = primary.map(|a| (a.contact.clone(), a.option.clone()));
            let ok = actual.as_ref().is_some_and(|(c, o)| {
                c == contact && (option.is_none() || o.as_ref() == option.as_ref())
            });
            let show = |c: &str, o: &Option<String>| match o {
                Some(o) => format!("{c} option {o}"),
                None => c.to_string(),
            };
            (!ok).then(|| {
                (
                    show(contact, option),
                    actual.map_or_else(|| "no action".into(), |(c, o)| show(&c, &o)),
                )
            })
        }
        Check::Reply(text) => (reply.reply != *text).then(|| (text.clone(), reply.reply.clone())),
        Check::Says(s) => {
            if reply.reply.to_lowercase().contains(&s.to_lowercase()) {
                None
            } else {
                fail(format!("the reply contains {s:?}"), quoted())
            }
        }
        Check::NotSays(s) => {
            if reply.reply.to_lowercase().contains(&s.to_lowercase()) {
                fail(format!("the reply does not contain {s:?}"), quoted())
            } else {
                None
            }
        }
        Check::Matches(r) => (!r.is_match(&reply.reply))
            .then(|| (format!("the reply matches /{}/", r.as_str()), quoted())),
        Check::NotMatches(r) => r.is_match(&reply.reply).then(|| {
            (
                format!("the reply does not match /{}/", r.as_str()),
                quoted(),
            )
        }),
        Check::Warnings(ws) => {
            let mut expected = ws.clone();
            expected.sort();
            let mut actual: Vec<String> = reply
                .warnings
                .iter()
                .map(|w| w.as_str().to_string())
                .collect();
            actual.sort();
            (actual != expected).then(|| (show_list(&expected), show_list(&actual)))
        }
        Check::Choices(cs) => {
            let actual: Vec<String> = reply.choices.iter().map(|c| c.intent.clone()).collect();
            (actual != *cs).then(|| (show_list(cs), show_list(&actual)))
        }
        Check::Language(l) => (reply.language != *l).then(|| (l.clone(), reply.language.clone())),
    }
}

/// Replays a transcript against `engine`, turn by turn, in one session.
pub fn run(engine: &Engine, t: &Transcript) -> Report {
    let tz = engine.pack().time_zone.clone();
    let default_clock = Clock::parse(DEFAULT_CLOCK).expect("the default clock parses");
    let mut now = default_clock.resolve(&tz);
    let mut session = Session::new();
    let mut report = Report {
        name: t.name.clone(),
        turns: 0,
        failures: Vec::new(),
        replies: Vec::new(),
    };
    for step in &t.steps {
        match step {
            Step::At { line, at } => {
                now = at.resolve(&tz);
                if now.is_none() {
                    report.failures.push(Failure {
                        line: *line,
                        key: "@at",
                        expected: "a time that exists in the pack's time zone".into(),
                        actual: "a local time skipped by a clock change".into(),
                    });
                }
            }
            Step::Lang { line, code } => {
                if engine.pack().language(code).is_none() {
                    report.failures.push(Failure {
                        line: *line,
                        key: "@lang",
                        expected: "a language of the pack".into(),
                        actual: code.clone(),
                    });
                }
                session.language = Some(code.clone());
            }
            Step::Reset { .. } => session = Session::new(),
            Step::Turn(turn) => {
                let Some(now) = &now else { continue };
                report.turns += 1;
                let reply = engine.respond(&mut session, &turn.text, now);
                for e in &turn.expects {
                    if let Some((expected, actual)) = verify(&e.check, &reply) {
                        report.failures.push(Failure {
                            line: e.line,
                            key: e.check.key(),
                            expected,
                            actual,
                        });
                    }
                }
                report.replies.push((turn.line, reply));
            }
        }
    }
    report
}

/// The file's text with every failing `reply:` line rewritten to the actual
/// reply. Other failures are left for a person: they change what the
/// conversation does, not how it is worded.
pub fn bless(text: &str, report: &Report) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for f in report.failures.iter().filter(|f| f.key == "reply") {
        if let Some(l) = lines.get_mut(f.line - 1) {
            let indent: String = l.chars().take_while(|c| c.is_whitespace()).collect();
            *l = format!("{indent}reply: {}", f.actual);
        }
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// Writes a conversation as a transcript: the member's (already redacted) lines,
/// each at its clock, with what each reply did, so it replays as a regression test.
pub fn write(header: &str, turns: &[(Zoned, String, Reply)]) -> String {
    let mut out = String::new();
    for line in header.lines() {
        out.push_str(&format!("# {line}\n"));
    }
    let mut last_at: Option<String> = None;
    for (at, text, reply) in turns {
        let stamp = at.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
        out.push('\n');
        if last_at.as_deref() != Some(stamp.as_str()) {
            out.push_str(&format!("@at {stamp}\n"));
            last_at = Some(stamp);
        }
        out.push_str(&format!("> {}\n", text.replace(['\n', '\r'], " ")));
        out.push_str(&format!("  outcome: {}\n", outcome_name(reply.outcome)));
        out.push_str(&format!(
            "  intent: {}\n",
            reply.intent.as_deref().unwrap_or("none")
        ));
        match reply.actions.first() {
            Some(a) => out.push_str(&format!("  route: {}\n", a.route)),
            None => out.push_str("  route: none\n"),
        }
        if !reply.choices.is_empty() {
            let ids: Vec<String> = reply.choices.iter().map(|c| c.intent.clone()).collect();
            out.push_str(&format!("  choices: {}\n", ids.join(", ")));
        }
        let ws: Vec<&str> = reply.warnings.iter().map(|w| w.as_str()).collect();
        out.push_str(&format!(
            "  warnings: {}\n",
            show_list(&ws.iter().map(|w| w.to_string()).collect::<Vec<_>>())
        ));
        out.push_str(&format!(
            "  reply: {}\n",
            reply.reply.replace(['\n', '\r'], " ")
        ));
    }
    out
}

/// Every transcript file under `paths` (files as given, folders searched
/// recursively for `*.chat`), sorted.
///
/// # Errors
/// A path that does not exist or cannot be read.
pub fn collect(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|e| e == EXTENSION) {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found)?;
            found.sort();
            out.extend(found);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{}: no such file or folder", p.display()),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Transcript, Vec<ParseError>> {
        parse(Path::new("t.chat"), text)
    }

    #[test]
    fn parses_turns_directives_and_expectations() {
        let t = parse_str(
            "# hi\n@at 2026-11-24T21:00:00-06:00\n> where is my order\n  outcome: answer\n  \
             route: main:1\n  not says: 911\n@reset\n> hola\n  language: es\n",
        )
        .expect("parses");
        assert_eq!(t.steps.len(), 4);
        let Step::Turn(turn) = &t.steps[1] else {
            panic!("a turn")
        };
        assert_eq!(turn.line, 3);
        assert_eq!(turn.expects.len(), 3);
        assert_eq!(turn.expects[2].line, 6);
    }

    #[test]
    fn reports_every_error_with_its_line() {
        let errors = parse_str(
            "outcome: answer\n> hi\n  outcom: answer\n  outcome: maybe\n@at yesterday\n@later\n",
        )
        .expect_err("bad file");
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 3, 4, 5, 6]);
        assert!(errors[1].message.contains("unknown expectation `outcom:`"));
        assert!(errors[0].to_string().starts_with("t.chat:1: "));
    }

    #[test]
    fn bless_rewrites_reply_lines_only() {
        let text = "> hi\n  intent: a\n  reply: old words\n";
        let report = Report {
            name: "t".into(),
            turns: 1,
            failures: vec![
                Failure {
                    line: 2,
                    key: "intent",
                    expected: "a".into(),
                    actual: "b".into(),
                },
                Failure {
                    line: 3,
                    key: "reply",
                    expected: "old words".into(),
                    actual: "new words".into(),
                },
            ],
            replies: Vec::new(),
        };
        assert_eq!(
            bless(text, &report),
            "> hi\n  intent: a\n  reply: new words\n"
        );
    }

    #[test]
    fn word_diff_marks_changes() {
        let d = word_diff("press 1 now", "press 3 now");
        assert!(
            d.contains("press [-1-] {+3+} now") || d.contains("press [-1-]{+3+} now"),
            "{d}"
        );
    }
}
