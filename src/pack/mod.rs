//! Packs: the domain knowledge of one support organisation, loaded from TOML.
//!
//! [`load`] takes the files as `(path, text)` pairs and does no I/O itself; it returns
//! the pack (when there are no errors) and every diagnostic found. [`read_dir`] is the
//! I/O helper the front ends use to gather a pack folder.

mod schema;
mod validate;

use std::ops::Range;
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use regex::Regex;
use serde::Serialize;

use crate::diag::Diagnostic;
use crate::hours::Hours;

pub use validate::{PATTERN_SIZE_LIMIT, load};

/// Size limit of the compiled pattern set, in bytes.
pub const PATTERN_SET_SIZE_LIMIT: usize = 64 << 20;

/// A validated pack.
#[derive(Debug)]
pub struct Pack {
    /// Short name, e.g. `caremark`.
    pub name: String,
    /// Human title.
    pub title: String,
    /// IANA name of the pack's time zone.
    pub time_zone_name: String,
    /// The time zone, from the bundled tz database.
    pub time_zone: TimeZone,
    /// How the zone is written in replies (`CT`).
    pub time_zone_label: String,
    /// Index into `languages` of the default language.
    pub default_language: usize,
    /// Domains that belong to the organisation.
    pub official_domains: Vec<String>,
    /// Confidence thresholds.
    pub thresholds: Thresholds,
    /// Languages, the default one first.
    pub languages: Vec<Language>,
    /// Contacts in file order.
    pub contacts: Vec<Contact>,
    /// Synonym groups.
    pub synonyms: Vec<Synonym>,
    /// Lookup lists, usable as `@name`.
    pub lookups: Vec<Lookup>,
    /// Intents in file order.
    pub intents: Vec<Intent>,
    /// Member-ID-like tokens to redact.
    pub member_id_pattern: Option<Regex>,
    /// Longest message read, in characters.
    pub max_message_chars: usize,
    /// Conversation rules.
    pub dialogue: Dialogue,
    /// Holidays and days with other hours.
    pub exceptions: Vec<HoursException>,
    /// A linear model over words and characters, if the pack has one.
    pub model: Option<crate::model::LinearModel>,
    /// Static word-piece vectors the model reads, if the pack has them.
    pub embeddings: Option<crate::embed::Embeddings>,
    /// The pack's files, for diagnostics found after loading.
    pub(crate) files: Vec<(PathBuf, String)>,
}

/// `[thresholds] answer` when a pack does not set it.
pub const DEFAULT_ANSWER: f64 = 0.45;

/// Confidence thresholds of a pack.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// Least confidence for an answer.
    pub answer: f64,
    /// Top two closer than this ask to clarify.
    pub clarify_margin: f64,
    /// Least confidence to be offered as a choice.
    pub clarify_floor: f64,
    /// Least confidence for an emergency intent.
    pub emergency: f64,
}

/// A language the pack understands and answers in.
#[derive(Debug)]
pub struct Language {
    /// `en`, `es`, …
    pub code: String,
    /// `English`, `Español`, …
    pub name: String,
    /// Snowball algorithm.
    pub stemmer: rust_stemmers::Algorithm,
    /// Words that identify the language.
    pub markers: Vec<String>,
    /// Words that negate what follows.
    pub negators: Vec<String>,
    /// Words that end a negation's scope.
    pub clause_breaks: Vec<String>,
    /// Words after which a negation is what to check ("make sure it doesn't ...").
    pub check_words: Vec<String>,
    /// Phrases that take back everything before them ("no wait").
    pub retract_before: Vec<String>,
    /// Phrases that take back the rest of their clause ("I was going to").
    pub retract_clause: Vec<String>,
    /// First words that make a short message a continuation of the last answer.
    pub follow_up_cues: Vec<String>,
    /// Phrases that put a clause in the past (emergency evidence there is history).
    pub past_markers: Vec<String>,
    /// Phrases that keep a clause in the present despite a past marker.
    pub present_markers: Vec<String>,
    /// Where members writing in this language go first.
    pub route: Option<Target>,
    /// The word list (index into the pack's files) of real words that typo
    /// correction leaves alone: one word per line.
    pub(crate) dictionary: Option<usize>,
    /// Fixed texts.
    pub messages: Messages,
}

/// Fixed texts of the engine, in one language.
#[derive(Debug)]
pub struct Messages {
    /// Nothing matched.
    pub fallback: Template,
    /// Two candidates are close; choices follow.
    pub clarify: Template,
    /// The member shared personal data.
    pub pii: Template,
    /// The message describes a scam.
    pub scam: Template,
    /// The message names a lookalike domain.
    pub lookalike: Template,
    /// The primary contact is closed (`{name}`, `{hours}`, `{opens}`).
    pub closed: Template,
    /// The message was cut.
    pub truncated: Template,
    /// Said before the answer when the language's route replaces the intent's.
    pub language_route: Option<Template>,
    /// Offering a person after repeated misses. The dialogue templates are
    /// optional: without one, the reply falls back to the intent's own answer (or
    /// the fallback text) and still carries the actions.
    pub human: Option<Template>,
    /// Follow-up: the last route's hours.
    pub follow_hours: Option<Template>,
    /// Follow-up: the last route's number and option.
    pub follow_number: Option<Template>,
    /// Follow-up: the menu option to press after the number.
    pub follow_option: Option<Template>,
    /// Follow-up: whether the last route is open now (when it is).
    pub follow_open: Option<Template>,
    /// Follow-up: doing the last thing online.
    pub follow_online: Option<Template>,
    /// Follow-up: the last thing has no online way.
    pub follow_offline: Option<Template>,
    /// Follow-up: doing the last thing in an app (an online way with no address).
    pub follow_app: Option<Template>,
    /// Follow-up: hours asked of a contact that has none (a store).
    pub follow_no_hours: Option<Template>,
    /// What to do while a closed contact is closed.
    pub meanwhile: Option<Template>,
    /// Said when a holiday or exception changes a contact's hours today.
    pub holiday: Option<Template>,
    /// Weekday names, Monday first.
    pub days: Vec<String>,
    /// How 24/7 hours are said.
    pub always_open: String,
}

/// What a contact is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContactKind {
    /// A phone line (possibly TTY or an emergency number).
    Phone,
    /// A fax number.
    Fax,
    /// A postal address.
    Mail,
    /// A web portal.
    Portal,
    /// A mobile app.
    App,
    /// Physical stores.
    Store,
    /// An email address.
    Email,
}

/// A way to reach the organisation.
#[derive(Debug)]
pub struct Contact {
    /// Id used by routes.
    pub id: String,
    /// Phone, fax, ….
    pub kind: ContactKind,
    /// Display name.
    pub name: String,
    /// Route label of the contact itself.
    pub route: String,
    /// Phone or fax number.
    pub number: Option<String>,
    /// A TDD/TTY line.
    pub tty: bool,
    /// 911-style numbers, only for emergencies.
    pub emergency: bool,
    /// Postal or email address.
    pub address: Option<String>,
    /// Web address.
    pub url: Option<String>,
    /// False for contacts the pack keeps but never offers.
    pub verified: bool,
    /// Opening hours; `None` when the source gives none.
    pub hours: Option<Hours>,
    /// Where to go while the contact is closed.
    pub when_closed: Option<Target>,
    /// Phone menu options.
    pub options: Vec<MenuOption>,
    /// Portal, app or store actions.
    pub actions: Vec<ContactAction>,
    /// Where the facts come from.
    pub source: Option<Source>,
    pub(crate) loc: Loc,
}

/// A phone menu option.
#[derive(Debug)]
pub struct MenuOption {
    /// The key to press, always a string.
    pub key: String,
    /// Labels per language (index as `Pack::languages`).
    pub labels: Vec<String>,
    /// Route label.
    pub route: String,
    /// Where the option is documented.
    pub source: Option<Source>,
}

/// A portal, app or store action.
#[derive(Debug)]
pub struct ContactAction {
    /// Short id, e.g. `message`, `chat`, `track`.
    pub id: String,
    /// Labels per language.
    pub labels: Vec<String>,
    /// Route label.
    pub route: String,
    /// How to do it.
    pub steps: Vec<String>,
    /// Hours, when they differ from the contact's.
    pub hours: Option<Hours>,
    /// Where the action is documented.
    pub source: Option<Source>,
}

/// Provenance of a fact.
#[derive(Clone, Debug)]
pub struct Source {
    /// Document name under `sources/`.
    pub doc: String,
    /// Verbatim quote.
    pub quote: String,
}

/// A resolved route target: a contact, maybe one of its options or actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// Index into `Pack::contacts`.
    pub contact: usize,
    /// Option or action of that contact.
    pub sub: Sub,
}

/// The part of a contact a target names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sub {
    /// The contact itself.
    None,
    /// A menu option (index).
    Option(usize),
    /// An action (index).
    Action(usize),
}

/// A synonym group.
#[derive(Debug)]
pub struct Synonym {
    /// The word every term becomes.
    pub canonical: String,
    /// The words.
    pub terms: Vec<String>,
}

/// A lookup list, referenced as `@name`.
#[derive(Debug)]
pub struct Lookup {
    /// Name without `@`.
    pub name: String,
    /// Terms (single or multi-word).
    pub terms: Vec<String>,
}

/// Conversation rules of a pack (`[dialogue]`).
#[derive(Clone, Debug, Default)]
pub struct Dialogue {
    /// Where a member goes after repeated misses.
    pub human: Option<Target>,
    /// Misses in a row (fallbacks, unanswered clarifications) before offering `human`.
    pub misses_before_human: u32,
    /// Context -> where calls go first while it is in force.
    pub call_routes: Vec<(String, Target)>,
}

/// A holiday or a day with other hours, for some contacts.
#[derive(Clone, Debug)]
pub struct HoursException {
    /// The day, in the pack's time zone.
    pub date: jiff::civil::Date,
    /// What it is ("Christmas Day").
    pub name: String,
    /// Contacts it applies to (indexes).
    pub contacts: Vec<usize>,
    /// Hours that day (minutes after midnight); `None`: closed all day.
    pub hours: Option<(u16, u16)>,
}

/// What a follow-up question asks about the last route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowUp {
    /// "what are their hours?"
    Hours,
    /// "what number again?"
    Number,
    /// "is it open now?"
    OpenNow,
    /// "can I do that online instead?"
    Online,
}

/// What an intent leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntentOutcome {
    /// A route and an answer.
    Answer,
    /// 911 / 988 / poison control, nothing else.
    Emergency,
    /// A recognised out-of-scope request: a fallback that says why.
    Decline,
}

/// Something a member wants.
#[derive(Debug)]
pub struct Intent {
    /// Stable id.
    pub id: String,
    /// Titles per language.
    pub titles: Vec<String>,
    /// What it leads to.
    pub outcome: IntentOutcome,
    /// Primary target.
    pub route: Option<Target>,
    /// Secondary targets.
    pub also: Vec<Target>,
    /// Tie-break between equally scored intents.
    pub priority: i32,
    /// Strong phrases.
    pub phrases: Vec<String>,
    /// Weak phrases.
    pub hints: Vec<String>,
    /// Regexes over the surface text, `{@lookup}` references unexpanded.
    pub patterns: Vec<String>,
    /// Example utterances.
    pub examples: Vec<String>,
    /// Phrases that count against it.
    pub negative: Vec<String>,
    /// Warnings the reply carries.
    pub warnings: Vec<crate::Warning>,
    /// Context set in the session.
    pub sets_context: Vec<String>,
    /// Ignore the language route.
    pub keep_route: bool,
    /// A question about the last route rather than a topic of its own.
    pub follow_up: Option<FollowUp>,
    /// Routes that replace `route` in a context: (context, target).
    pub when: Vec<(String, Target)>,
    /// The answer per language for each `when` route, in the same order.
    pub when_answers: Vec<Vec<Template>>,
    /// Answers per language.
    pub answers: Vec<Template>,
    /// Where the answer's facts come from.
    pub source: Option<Source>,
    pub(crate) loc: Loc,
    pub(crate) phrase_locs: Vec<Loc>,
    pub(crate) example_locs: Vec<Loc>,
}

/// A text with `{contact.field}` placeholders, parsed at load time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Template {
    pub(crate) parts: Vec<TemplatePart>,
}

/// A piece of a template.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TemplatePart {
    Text(String),
    Field(Target, Field),
    /// A runtime variable such as `{name}` in engine messages.
    Var(String),
}

/// A fact of a contact a template can state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Number,
    Hours,
    Address,
    Url,
    Name,
    Label,
    Key,
}

/// Where an item was declared: file index and byte span.
#[derive(Clone, Debug, Default)]
pub(crate) struct Loc {
    pub file: usize,
    pub span: Range<usize>,
}

impl Pack {
    /// The language with this code.
    pub fn language(&self, code: &str) -> Option<usize> {
        self.languages.iter().position(|l| l.code == code)
    }

    /// The intent with this id.
    pub fn intent(&self, id: &str) -> Option<&Intent> {
        self.intents.iter().find(|i| i.id == id)
    }

    /// Where a call to `target` goes first when `in_context` holds for a context
    /// of `[dialogue] call_routes` (a deaf member: the TTY line), with that context;
    /// `None` for anything but a call to a phone line without TTY.
    pub fn call_route(
        &self,
        target: Target,
        in_context: impl Fn(&str) -> bool,
    ) -> Option<(&str, Target)> {
        let contact = &self.contacts[target.contact];
        if contact.kind != ContactKind::Phone || contact.tty {
            return None;
        }
        self.dialogue
            .call_routes
            .iter()
            .find(|(ctx, _)| in_context(ctx))
            .map(|(ctx, line)| (ctx.as_str(), *line))
    }

    /// The route label of a target.
    pub fn route_label(&self, target: Target) -> &str {
        let contact = &self.contacts[target.contact];
        match target.sub {
            Sub::None => &contact.route,
            Sub::Option(i) => &contact.options[i].route,
            Sub::Action(i) => &contact.actions[i].route,
        }
    }

    /// The target whose route label is `label`: a contact, then its options and
    /// actions, in pack order.
    pub fn target_by_label(&self, label: &str) -> Option<Target> {
        self.contacts.iter().enumerate().find_map(|(ci, c)| {
            if c.route == label {
                return Some(Target {
                    contact: ci,
                    sub: Sub::None,
                });
            }
            let sub = c
                .options
                .iter()
                .position(|o| o.route == label)
                .map(Sub::Option)
                .or_else(|| {
                    c.actions
                        .iter()
                        .position(|a| a.route == label)
                        .map(Sub::Action)
                })?;
            Some(Target { contact: ci, sub })
        })
    }

    /// The hours that apply to a target.
    pub fn hours_of(&self, target: Target) -> Option<&Hours> {
        let contact = &self.contacts[target.contact];
        match target.sub {
            Sub::Action(i) => contact.actions[i].hours.as_ref().or(contact.hours.as_ref()),
            _ => contact.hours.as_ref(),
        }
    }

    /// The exception (holiday, other hours) to a target's hours on `date`.
    pub fn exception_on(&self, target: Target, date: jiff::civil::Date) -> Option<&HoursException> {
        self.exceptions
            .iter()
            .find(|e| e.date == date && e.contacts.contains(&target.contact))
    }

    /// Whether `target` is open at `now`; `None` when it has no hours.
    pub fn is_open(&self, target: Target, now: &jiff::ZonedDateTime) -> Option<bool> {
        let hours = self.hours_of(target)?;
        let local = now.with_time_zone(self.time_zone.clone());
        if let Some(e) = self.exception_on(target, local.date()) {
            let minute = local.hour() as u16 * 60 + local.minute() as u16;
            return Some(e.hours.is_some_and(|(o, c)| minute >= o && minute < c));
        }
        Some(hours.is_open(now, &self.time_zone))
    }

    /// When a closed `target` opens next: (weekday, Monday = 0; minutes after
    /// midnight), holidays and exceptions included.
    pub fn next_open(&self, target: Target, now: &jiff::ZonedDateTime) -> Option<(usize, u16)> {
        let hours = self.hours_of(target)?;
        let local = now.with_time_zone(self.time_zone.clone());
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        let mut date = local.date();
        for ahead in 0..15 {
            if ahead > 0 {
                date = date.tomorrow().ok()?;
            }
            let weekday = date.weekday().to_monday_zero_offset() as usize;
            let open = match self.exception_on(target, date) {
                Some(e) => match e.hours {
                    Some((open, _)) => open,
                    None => continue,
                },
                None => match hours {
                    Hours::Always => 0,
                    Hours::Weekly { days, open, .. } if days[weekday] => *open,
                    Hours::Weekly { .. } => continue,
                },
            };
            if ahead > 0 || minute < open {
                return Some((weekday, open));
            }
        }
        None
    }

    /// Builds a diagnostic at a declaration.
    pub(crate) fn diag_at(
        &self,
        severity: crate::diag::Severity,
        loc: &Loc,
        message: impl Into<String>,
    ) -> Diagnostic {
        let (path, text) = &self.files[loc.file];
        Diagnostic::at(severity, path, text, loc.span.clone(), message)
    }

    /// Every distinct route label the pack declares.
    pub fn route_labels(&self) -> Vec<String> {
        let mut labels: Vec<String> = Vec::new();
        for c in &self.contacts {
            labels.push(c.route.clone());
            labels.extend(c.options.iter().map(|o| o.route.clone()));
            labels.extend(c.actions.iter().map(|a| a.route.clone()));
        }
        labels.sort();
        labels.dedup();
        labels
    }
}

/// Reads every pack file under `dir`: `*.toml` anywhere, documents under `sources/`
/// and word lists under `dictionary/`.
///
/// Paths are returned relative to the current directory when they are inside it, so
/// that diagnostics read `intents/caremark/contacts.toml:3:1`.
///
/// # Errors
/// An I/O error with the path that failed.
pub fn read_dir(dir: &Path) -> std::io::Result<Vec<(PathBuf, String)>> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    // Diagnostics read best relative to where the command runs.
    if let Ok(cwd) = std::env::current_dir() {
        for (path, _) in &mut files {
            if let Ok(rel) = path.strip_prefix(&cwd) {
                *path = rel.to_path_buf();
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, String)>) -> std::io::Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
            continue;
        }
        let rel = path.strip_prefix(root).unwrap_or(&path);
        let is_source = rel.starts_with("sources") || rel.starts_with("dictionary");
        let is_toml = path.extension().is_some_and(|e| e == "toml");
        if !is_source && !is_toml {
            continue;
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        out.push((path, text));
    }
    Ok(())
}
