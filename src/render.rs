//! The reply contract (JSON wire types) and rendering of texts and actions.

use std::fmt::Write as _;

use jiff::ZonedDateTime as Zoned;
use serde::{Deserialize, Serialize};

use crate::matcher::EvidenceKind;
use crate::pack::{ContactKind, Field, Pack, Sub, Target, Template, TemplatePart};

/// What the engine decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A clear route.
    Answer,
    /// Two close candidates: choose.
    Clarify,
    /// Nothing convincing, or out of scope.
    Fallback,
    /// Call 911 / 988 / Poison Control.
    Emergency,
}

/// Warnings a reply may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Warning {
    /// Personal data was removed from the message.
    PiiRedacted,
    /// The message describes a likely scam.
    Scam,
    /// The message names a domain that imitates an official one.
    LookalikeDomain,
    /// The message was cut at the size limit.
    InputTruncated,
    /// The primary contact is closed at the session's clock.
    ClosedNow,
    /// A contact offered is not verified.
    UnverifiedContact,
}

impl Warning {
    /// Parses the snake_case name used in packs and replies.
    pub fn parse(s: &str) -> Option<Warning> {
        Some(match s {
            "pii_redacted" => Warning::PiiRedacted,
            "scam" => Warning::Scam,
            "lookalike_domain" => Warning::LookalikeDomain,
            "input_truncated" => Warning::InputTruncated,
            "closed_now" => Warning::ClosedNow,
            "unverified_contact" => Warning::UnverifiedContact,
            _ => return None,
        })
    }

    /// The snake_case name used in packs and replies.
    pub fn as_str(self) -> &'static str {
        match self {
            Warning::PiiRedacted => "pii_redacted",
            Warning::Scam => "scam",
            Warning::LookalikeDomain => "lookalike_domain",
            Warning::InputTruncated => "input_truncated",
            Warning::ClosedNow => "closed_now",
            Warning::UnverifiedContact => "unverified_contact",
        }
    }
}

/// The kind of an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Phone call.
    Call,
    /// Fax.
    Fax,
    /// Postal mail.
    Mail,
    /// Web portal.
    Portal,
    /// Mobile app.
    App,
    /// Visit a store.
    Store,
    /// Email.
    Email,
}

/// One recommended action; the first of a reply is the primary one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// What to do.
    pub kind: ActionKind,
    /// The pack's route label.
    pub route: String,
    /// The contact's id.
    pub contact: String,
    /// Display name of the contact.
    pub name: String,
    /// Phone or fax number.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub number: Option<String>,
    /// Menu option to press.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub option: Option<String>,
    /// Label of the option or action.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub label: Option<String>,
    /// A TDD/TTY line.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub tty: bool,
    /// Postal or email address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub address: Option<String>,
    /// Web address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub url: Option<String>,
    /// Portal, app or store action id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub action: Option<String>,
    /// Steps for a portal or app action.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub steps: Vec<String>,
    /// Opening hours, as text.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hours: Option<String>,
    /// Open at the session's clock; `None` where the pack gives no hours.
    pub open_now: Option<bool>,
}

/// A choice offered on `clarify`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// The intent it stands for.
    pub intent: String,
    /// Its title in the reply's language.
    pub title: String,
    /// What a chat button sends back: `/intent_id`.
    pub payload: String,
}

/// One line of evidence for `--explain`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Explain {
    /// The intent it counts for (or `null` for analysis notes).
    pub intent: Option<String>,
    /// `phrase`, `hint`, `pattern`, `example`, `negative`, `negated`, `context`,
    /// `typo`, `language`.
    pub kind: String,
    /// What fired.
    pub detail: String,
    /// Weight (negative kinds count against).
    pub weight: f64,
}

/// The reply contract of DESIGN.md.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// What was decided.
    pub outcome: Outcome,
    /// Winning intent; `None` on fallback.
    pub intent: Option<String>,
    /// 0–1.
    pub confidence: f64,
    /// Language of the reply.
    pub language: String,
    /// The text for the member.
    pub reply: String,
    /// Primary first.
    pub actions: Vec<Action>,
    /// On clarify.
    pub choices: Vec<Choice>,
    /// Warnings.
    pub warnings: Vec<Warning>,
    /// Evidence, when asked for.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub explain: Option<Vec<Explain>>,
}

pub(crate) fn evidence_kind_name(kind: EvidenceKind) -> &'static str {
    match kind {
        EvidenceKind::Phrase => "phrase",
        EvidenceKind::Hint => "hint",
        EvidenceKind::Pattern => "pattern",
        EvidenceKind::Example => "example",
        EvidenceKind::Negative => "negative",
        EvidenceKind::Negated => "negated",
        EvidenceKind::Model => "model",
    }
}

/// Renders templates and actions of one pack in one language at one instant.
pub(crate) struct Renderer<'a> {
    pub pack: &'a Pack,
    pub language: usize,
    pub now: &'a Zoned,
}

impl Renderer<'_> {
    /// Fills a template; `vars` answers `{name}`-style variables.
    /// `template` filled, or `None` when one of its `{variables}` would be empty
    /// (a follow-up's "at {url}" for an app that has none), so that the caller
    /// says something else instead of "at .".
    pub fn fill_complete(&self, template: &Template, vars: &[(&str, String)]) -> Option<String> {
        let empty = template.parts.iter().any(|p| match p {
            TemplatePart::Var(name) => vars.iter().all(|(k, v)| k != name || v.is_empty()),
            _ => false,
        });
        (!empty).then(|| self.fill(template, vars))
    }

    pub fn fill(&self, template: &Template, vars: &[(&str, String)]) -> String {
        let mut out = String::new();
        for part in &template.parts {
            match part {
                TemplatePart::Text(t) => out.push_str(t),
                TemplatePart::Var(name) => {
                    if let Some((_, v)) = vars.iter().find(|(k, _)| k == name) {
                        out.push_str(v);
                    }
                }
                TemplatePart::Field(target, field) => out.push_str(&self.field(*target, *field)),
            }
        }
        out
    }

    fn field(&self, target: Target, field: Field) -> String {
        let contact = &self.pack.contacts[target.contact];
        match field {
            Field::Number => contact.number.clone().unwrap_or_default(),
            Field::Address => contact.address.clone().unwrap_or_default(),
            Field::Url => contact.url.clone().unwrap_or_default(),
            Field::Name => contact.name.clone(),
            Field::Hours => self.hours_text(target).unwrap_or_default(),
            Field::Label => self.label(target).unwrap_or_default(),
            Field::Key => match target.sub {
                Sub::Option(i) => contact.options[i].key.clone(),
                Sub::Action(i) => contact.actions[i].id.clone(),
                Sub::None => String::new(),
            },
        }
    }

    fn label(&self, target: Target) -> Option<String> {
        let contact = &self.pack.contacts[target.contact];
        let labels = match target.sub {
            Sub::Option(i) => &contact.options[i].labels,
            Sub::Action(i) => &contact.actions[i].labels,
            Sub::None => return None,
        };
        labels
            .get(self.language)
            .or_else(|| labels.first())
            .cloned()
    }

    /// The hours of a target in this language.
    pub fn hours_text(&self, target: Target) -> Option<String> {
        let messages = &self.pack.languages[self.language].messages;
        self.pack.hours_of(target).map(|h| {
            h.describe(
                &messages.days,
                &messages.always_open,
                &self.pack.time_zone_label,
            )
        })
    }

    /// Whether a target is open now (`None` without hours).
    pub fn open_now(&self, target: Target) -> Option<bool> {
        self.pack.is_open(target, self.now)
    }

    /// Why a target keeps other hours today (a holiday's name), if it does.
    pub fn exception_today(&self, target: Target) -> Option<String> {
        let date = self.now.with_time_zone(self.pack.time_zone.clone()).date();
        self.pack.exception_on(target, date).map(|e| e.name.clone())
    }

    /// When a closed target opens next, as text (`Monday 8 a.m.`).
    pub fn opens_text(&self, target: Target) -> Option<String> {
        let messages = &self.pack.languages[self.language].messages;
        let (day, minute) = self.pack.next_open(target, self.now)?;
        let day_name = messages.days.get(day).cloned().unwrap_or_default();
        Some(format!("{day_name} {}", crate::hours::clock(minute)))
    }

    /// The wire action for a target.
    pub fn action(&self, target: Target) -> Action {
        let contact = &self.pack.contacts[target.contact];
        let kind = match contact.kind {
            ContactKind::Phone => ActionKind::Call,
            ContactKind::Fax => ActionKind::Fax,
            ContactKind::Mail => ActionKind::Mail,
            ContactKind::Portal => ActionKind::Portal,
            ContactKind::App => ActionKind::App,
            ContactKind::Store => ActionKind::Store,
            ContactKind::Email => ActionKind::Email,
        };
        let (option, action, steps) = match target.sub {
            Sub::Option(i) => (Some(contact.options[i].key.clone()), None, Vec::new()),
            Sub::Action(i) => (
                None,
                Some(contact.actions[i].id.clone()),
                contact.actions[i].steps.clone(),
            ),
            Sub::None => (None, None, Vec::new()),
        };
        Action {
            kind,
            route: self.pack.route_label(target).to_string(),
            contact: contact.id.clone(),
            name: contact.name.clone(),
            number: contact.number.clone(),
            option,
            label: self.label(target),
            tty: contact.tty,
            address: contact.address.clone(),
            url: contact.url.clone(),
            action,
            steps,
            hours: self.hours_text(target),
            open_now: self.open_now(target),
        }
    }
}

/// A reply as plain text for a terminal: the text, then the actions.
pub fn human(reply: &Reply) -> String {
    let mut out = String::new();
    if reply.outcome == Outcome::Emergency {
        out.push_str("EMERGENCY: ");
    }
    out.push_str(&reply.reply);
    out.push('\n');
    for (i, a) in reply.actions.iter().enumerate() {
        let marker = if i == 0 { "->" } else { "  " };
        let mut line = match a.kind {
            ActionKind::Call => {
                let mut s = format!("call {}", a.number.as_deref().unwrap_or_default());
                if let Some(o) = &a.option {
                    let _ = write!(s, ", press {o}");
                }
                if a.tty {
                    s.push_str(" (TDD/TTY)");
                }
                s
            }
            ActionKind::Fax => format!("fax {}", a.number.as_deref().unwrap_or_default()),
            ActionKind::Mail => format!(
                "write to {}",
                a.address.as_deref().unwrap_or_default().replace('\n', ", ")
            ),
            ActionKind::Portal => format!("online at {}", a.url.as_deref().unwrap_or_default()),
            ActionKind::App => format!("in the {}", a.name),
            ActionKind::Store => format!("at a {}", a.name),
            ActionKind::Email => format!("email {}", a.address.as_deref().unwrap_or_default()),
        };
        if let Some(l) = &a.label {
            let _ = write!(line, " — {l}");
        }
        if let Some(h) = &a.hours {
            let state = match a.open_now {
                Some(true) => "open now",
                Some(false) => "closed now",
                None => "",
            };
            let _ = write!(
                line,
                " [{h}{}{state}]",
                if state.is_empty() { "" } else { "; " }
            );
        }
        let _ = writeln!(out, "  {marker} {line}  ({})", a.route);
    }
    for (i, c) in reply.choices.iter().enumerate() {
        let _ = writeln!(out, "  {}. {}", i + 1, c.title);
    }
    if !reply.warnings.is_empty() {
        let names: Vec<String> = reply
            .warnings
            .iter()
            .map(|w| {
                serde_json::to_value(w)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            })
            .collect();
        let _ = writeln!(out, "  warnings: {}", names.join(", "));
    }
    if let Some(explain) = &reply.explain {
        let _ = writeln!(
            out,
            "  outcome {:?}, intent {}, confidence {:.2}, language {}",
            reply.outcome,
            reply.intent.as_deref().unwrap_or("-"),
            reply.confidence,
            reply.language
        );
        for e in explain {
            let _ = writeln!(
                out,
                "    {:<20} {:<8} {:+.2}  {}",
                e.intent.as_deref().unwrap_or("-"),
                e.kind,
                e.weight,
                e.detail
            );
        }
    }
    out
}
