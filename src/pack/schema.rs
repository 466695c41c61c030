//! Raw serde types of a pack file, as written by a support team.
//!
//! Every table denies unknown keys (a typo in a pack is an error, never silently
//! ignored), and every value a diagnostic may point at is wrapped in
//! [`toml::Spanned`]. Any file of a pack may hold any of the top-level tables; the
//! convention is one topic per file.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// One TOML file of a pack.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    pub pack: Option<Spanned<RawSettings>>,
    pub thresholds: Option<RawThresholds>,
    #[serde(default)]
    pub languages: BTreeMap<Spanned<String>, RawLanguage>,
    #[serde(default)]
    pub contact: Vec<Spanned<RawContact>>,
    #[serde(default)]
    pub synonym: Vec<RawSynonym>,
    #[serde(default)]
    pub lookup: BTreeMap<Spanned<String>, RawLookup>,
    #[serde(default)]
    pub intent: Vec<Spanned<RawIntent>>,
    pub dialogue: Option<Spanned<RawDialogue>>,
    #[serde(default)]
    pub exception: Vec<Spanned<RawException>>,
    pub model: Option<Spanned<RawModel>>,
    pub embeddings: Option<Spanned<RawEmbeddings>>,
}

/// `[embeddings]`: static word-piece vectors for the model (see `crate::embed`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEmbeddings {
    /// Components per vector.
    pub dims: Spanned<u32>,
    /// Where the vectors come from (shown by `triage check`).
    #[allow(dead_code)]
    pub source: Option<String>,
    /// Piece → `"scale base64"`.
    #[serde(default)]
    pub vectors: BTreeMap<String, Spanned<String>>,
}

/// `[model]`: a linear model over words and characters (written by `triage import`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawModel {
    /// The intent of each class.
    pub intents: Vec<Spanned<String>>,
    /// The bias of each class.
    pub bias: Vec<f64>,
    /// Feature name → `"idf class:weight class:weight … pN:weight …"`.
    #[serde(default)]
    pub features: BTreeMap<String, Spanned<String>>,
    /// The pair models' classes, `[first, second]` (classes by position in `intents`).
    #[serde(default)]
    pub pairs: Vec<Spanned<Vec<u32>>>,
    /// The bias of each pair model.
    #[serde(default)]
    pub pair_bias: Vec<f64>,
    /// When a pair model decides (see `LinearModel::pair_margin`).
    pub pair_margin: Option<f64>,
}

/// `[dialogue]`: how conversations go beyond one message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDialogue {
    /// Where a member goes after repeated misses (`main:0`).
    pub human: Option<Spanned<String>>,
    /// Fallbacks or unanswered clarifications in a row before offering `human`.
    pub misses_before_human: Option<u32>,
    /// Context -> where calls go first while it is in force (`deaf = "tty"`).
    #[serde(default)]
    pub call_routes: BTreeMap<String, Spanned<String>>,
}

/// `[[exception]]`: a holiday, or a day with other hours, for some contacts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawException {
    pub date: Spanned<String>,
    pub name: String,
    pub contacts: Vec<Spanned<String>>,
    pub open: Option<String>,
    pub close: Option<String>,
    pub source: Option<RawSource>,
}

/// `[pack]`: the pack's identity and policies.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSettings {
    pub name: Spanned<String>,
    pub title: Option<String>,
    /// IANA time zone, e.g. `America/Chicago`.
    pub time_zone: Spanned<String>,
    /// A short label for the zone in replies, e.g. `CT`.
    pub time_zone_label: Option<String>,
    pub default_language: Spanned<String>,
    #[serde(default)]
    pub official_domains: Vec<Spanned<String>>,
    /// A regex for member-ID-like tokens to redact.
    pub member_id_pattern: Option<Spanned<String>>,
    /// Longest message read, in characters; the rest is cut.
    pub max_message_chars: Option<usize>,
}

/// `[thresholds]`: how sure the engine must be.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawThresholds {
    /// Least confidence for an answer.
    pub answer: Option<f64>,
    /// Top two closer than this (and both above `clarify_floor`) ask to clarify.
    pub clarify_margin: Option<f64>,
    /// Least confidence for a candidate to be offered as a choice.
    pub clarify_floor: Option<f64>,
    /// Least confidence for an emergency intent to interrupt.
    pub emergency: Option<f64>,
}

/// `[languages.xx]`: how to recognise a language and what to say in it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLanguage {
    pub name: String,
    /// Snowball stemmer name: `english`, `spanish`, ….
    pub stemmer: Spanned<String>,
    /// Common words that identify the language.
    #[serde(default)]
    pub markers: Vec<String>,
    /// Words that negate what follows.
    #[serde(default)]
    pub negators: Vec<String>,
    /// Words that end a negation's scope.
    #[serde(default)]
    pub clause_breaks: Vec<String>,
    /// Words after which a negation is what to check, not a denial ("make sure
    /// it doesn't interact"): a negator shortly after one negates nothing.
    #[serde(default)]
    pub check_words: Vec<String>,
    /// Phrases that take back everything before them ("no wait", "never mind").
    #[serde(default)]
    pub retract_before: Vec<String>,
    /// Phrases that take back the rest of their clause ("I was going to ask about
    /// my bill, but ...").
    #[serde(default)]
    pub retract_clause: Vec<String>,
    /// First words that make a short message a continuation of the last answer
    /// ("and if I'm on Medicare?").
    #[serde(default)]
    pub follow_up_cues: Vec<String>,
    /// Phrases that put a clause in the past ("years ago", "turned out"): an
    /// emergency mentioned there is history, not happening now.
    #[serde(default)]
    pub past_markers: Vec<String>,
    /// Phrases that keep a clause in the present despite a past marker ("now",
    /// "again").
    #[serde(default)]
    pub present_markers: Vec<String>,
    /// A word list (one word per line, relative to the pack folder): real words
    /// that typo correction must leave alone.
    pub dictionary: Option<Spanned<String>>,
    /// Members writing in this language are sent here first (e.g. `main:9`).
    pub route: Option<Spanned<String>>,
    /// Fixed texts of the engine in this language.
    pub messages: RawMessages,
}

/// Texts the engine says itself, per language.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMessages {
    pub fallback: Spanned<String>,
    pub clarify: Spanned<String>,
    pub pii: Spanned<String>,
    pub scam: Spanned<String>,
    pub lookalike: Spanned<String>,
    pub closed: Spanned<String>,
    pub truncated: Spanned<String>,
    /// Said before the answer when the language's route replaces the intent's.
    pub language_route: Option<Spanned<String>>,
    /// Offering a person after repeated misses.
    pub human: Option<Spanned<String>>,
    /// Follow-ups about the last route: its hours, its number, open now, online.
    pub follow_hours: Option<Spanned<String>>,
    pub follow_number: Option<Spanned<String>>,
    pub follow_option: Option<Spanned<String>>,
    pub follow_open: Option<Spanned<String>>,
    pub follow_online: Option<Spanned<String>>,
    pub follow_offline: Option<Spanned<String>>,
    /// Follow-up: doing the last thing in an app (an online way with no address).
    pub follow_app: Option<Spanned<String>>,
    /// Follow-up: hours asked of a contact that has none (a store).
    pub follow_no_hours: Option<Spanned<String>>,
    /// What to do while a closed contact is closed.
    pub meanwhile: Option<Spanned<String>>,
    /// Said when a holiday or exception changes a contact's hours today.
    pub holiday: Option<Spanned<String>>,
    /// Weekday names, Monday first.
    pub days: Vec<String>,
    /// How 24/7 hours are said.
    pub always_open: String,
}

/// Provenance: a document of the pack and a verbatim quote from it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSource {
    pub doc: Spanned<String>,
    pub quote: Spanned<String>,
}

/// `[[contact]]`: a way to reach the organisation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawContact {
    pub id: Spanned<String>,
    /// `phone`, `fax`, `mail`, `portal`, `app`, `store`, `email`.
    pub kind: Spanned<String>,
    pub name: String,
    /// The route label of the contact itself (defaults to the id).
    pub route: Option<String>,
    pub number: Option<Spanned<String>>,
    #[serde(default)]
    pub tty: bool,
    /// Emergency numbers are offered only by emergency intents.
    #[serde(default)]
    pub emergency: bool,
    pub address: Option<Spanned<String>>,
    pub url: Option<Spanned<String>>,
    pub verified: Option<bool>,
    pub hours: Option<Spanned<RawHours>>,
    /// Where to go while this contact is closed (`portal:message`).
    pub when_closed: Option<Spanned<String>>,
    pub source: Option<RawSource>,
    #[serde(default)]
    pub option: Vec<Spanned<RawOption>>,
    #[serde(default)]
    pub action: Vec<Spanned<RawAction>>,
}

/// Opening hours: `{ always = true }` or days with open and close times.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHours {
    #[serde(default)]
    pub always: bool,
    /// `mon-sat`, `mon-fri`, `mon,wed,fri`, …
    pub days: Option<String>,
    /// `08:00`
    pub open: Option<String>,
    /// `20:00`
    pub close: Option<String>,
}

/// `[[contact.option]]`: a phone menu option.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOption {
    pub key: Spanned<String>,
    pub label: String,
    /// The label in the pack's other languages.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Route label (defaults to `<contact route>:<key>`).
    pub route: Option<String>,
    pub source: Option<RawSource>,
}

/// `[[contact.action]]`: something to do on a portal, app or in a store.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAction {
    pub id: Spanned<String>,
    pub label: String,
    /// The label in the pack's other languages.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Route label (defaults to the contact's).
    pub route: Option<String>,
    #[serde(default)]
    pub steps: Vec<String>,
    pub hours: Option<Spanned<RawHours>>,
    pub source: Option<RawSource>,
}

/// `[[synonym]]`: words that mean the same as a canonical word.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSynonym {
    pub canonical: Spanned<String>,
    pub terms: Vec<Spanned<String>>,
}

/// `[lookup.name]`: a list of terms an intent can use as one term, `@name`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLookup {
    pub terms: Vec<Spanned<String>>,
}

/// `[[intent]]`: something a member wants, and where it goes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIntent {
    pub id: Spanned<String>,
    pub title: String,
    /// The title in the pack's other languages.
    #[serde(default)]
    pub titles: BTreeMap<String, String>,
    /// `answer` (default), `emergency`, or `decline` (an out-of-scope pattern).
    pub outcome: Option<Spanned<String>>,
    /// Primary target: `contact` or `contact:option-or-action`.
    pub route: Option<Spanned<String>>,
    /// Secondary targets, in order.
    #[serde(default)]
    pub also: Vec<Spanned<String>>,
    #[serde(default)]
    pub priority: i32,
    /// Strong evidence: phrases that alone mean this intent.
    #[serde(default)]
    pub phrases: Vec<Spanned<String>>,
    /// Weak evidence: words that lean towards this intent.
    #[serde(default)]
    pub hints: Vec<Spanned<String>>,
    /// Regexes over the normalized text (`{@lookup}` expands to its terms).
    #[serde(default)]
    pub patterns: Vec<Spanned<String>>,
    /// Example utterances for the similarity scorer.
    #[serde(default)]
    pub examples: Vec<Spanned<String>>,
    /// Phrases that count against this intent.
    #[serde(default)]
    pub negative: Vec<Spanned<String>>,
    /// Warnings the reply carries (`scam`, …).
    #[serde(default)]
    pub warnings: Vec<Spanned<String>>,
    /// Context the intent records in the session (`medicare`, …).
    #[serde(default)]
    pub sets_context: Vec<String>,
    /// Routes that replace `route` when the conversation has a context.
    #[serde(default)]
    pub when: Vec<RawWhen>,
    /// Keep the intent's own route whatever language the member writes in.
    #[serde(default)]
    pub keep_route: bool,
    /// A question about the last route: `hours`, `number`, `open_now`, `online`.
    pub follow_up: Option<Spanned<String>>,
    /// Answer text per language, with `{contact.field}` placeholders.
    pub answer: BTreeMap<Spanned<String>, Spanned<String>>,
    pub source: Option<RawSource>,
}

/// `[[intent.when]]`: a different route in a given context.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWhen {
    /// A context set by an intent (`sets_context`) or a session.
    pub context: Spanned<String>,
    /// The route in that context.
    pub route: Spanned<String>,
    /// The answer in this context, per language: it must name this route.
    #[serde(default)]
    pub answer: BTreeMap<Spanned<String>, Spanned<String>>,
}
