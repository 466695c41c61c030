//! One turn of a conversation: normalize -> match -> decide -> render.
//!
//! `Engine::respond(session, text, now)` is synchronous and pure: no I/O, no clock
//! but `now`, no randomness, so a transcript replays identically forever.

use jiff::ZonedDateTime as Zoned;
use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::domain;
use crate::matcher::{Candidate, EvidenceKind};
use crate::normalize::{clean, fold};
use crate::pack::{ContactKind, FollowUp, IntentOutcome, Sub, Target};
use crate::pii::redact;
use crate::render::{Choice, Explain, Outcome, Renderer, Reply, Warning, evidence_kind_name};

/// What the engine remembers of a conversation between turns. Bounded: a few
/// redacted turns, a handful of contexts. Serializes (for `:save` and shared
/// session stores).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Session {
    /// Language of the last replies (`en`, `es`), once the member wrote in one.
    pub language: Option<String>,
    /// Context the member gave (`medicare`, `deaf`, …).
    pub context: Vec<String>,
    /// The intent of the last answer.
    pub last_intent: Option<String>,
    /// The route label of the last answer's primary action.
    pub last_route: Option<String>,
    /// The intents of an open clarification, in the order offered.
    pub pending: Vec<String>,
    /// Fallbacks and unanswered clarifications in a row.
    pub misses: u32,
    /// The last few turns, redacted.
    pub history: Vec<TurnRecord>,
    /// The conversation's clock, when an adapter keeps one (`:at`).
    pub clock: Option<jiff::Timestamp>,
    /// Turns so far.
    pub turns: u32,
}

/// One remembered turn: the member's redacted text and what was decided.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TurnRecord {
    /// The message with personal data replaced by placeholders.
    pub text: String,
    /// What the reply was.
    pub outcome: Outcome,
    /// Its intent.
    pub intent: Option<String>,
}

impl Session {
    /// A new, empty conversation.
    pub fn new() -> Session {
        Session::default()
    }
}

/// Characters of a message a session remembers: sessions stay small (a store
/// holds 100,000 of them) whatever members send.
const MAX_REMEMBERED_CHARS: usize = 160;

/// `text` cut to [`MAX_REMEMBERED_CHARS`], with "…" where it was cut.
fn remembered(mut text: String) -> String {
    if let Some((at, _)) = text.char_indices().nth(MAX_REMEMBERED_CHARS) {
        text.truncate(at);
        text.push('…');
    }
    text
}

/// A template's variables: name and value.
type Vars = [(&'static str, String)];

/// Turns a session remembers.
const MAX_HISTORY: usize = 6;
/// Contexts a session remembers.
const MAX_CONTEXTS: usize = 8;
/// A follow-up ("what are their hours?") is a short message.
const FOLLOW_UP_MAX_TOKENS: usize = 9;

/// How many choices a clarification offers at most.
const MAX_CHOICES: usize = 3;

/// Least score for an intent's `sets_context` to count from the message itself.
const CONTEXT_MIN_SCORE: f64 = 0.5;

/// A decided turn: the reply, whether it was a miss (a fallback or an
/// unanswered clarification, for the loop guard), and the redacted text.
struct Decided {
    reply: Reply,
    miss: bool,
    redacted: String,
}

/// What the decision settled for an answer or emergency reply.
struct Plan {
    outcome: Outcome,
    /// A route that replaces the intent's own (context rules).
    route_override: Option<Target>,
    /// Contexts in force for this turn.
    contexts: Vec<String>,
    /// The member wrote in a language other than the pack's default.
    wrote_in_other_language: bool,
}

impl Engine {
    /// Answers one message of a conversation at the instant `now`.
    ///
    /// # Example
    /// ```
    /// # let engine = triage::Engine::load_dir(std::path::Path::new("intents/caremark")).unwrap().0;
    /// let mut session = triage::Session::new();
    /// let now: jiff::ZonedDateTime = "2026-11-24T10:00:00-06:00[America/Chicago]".parse().unwrap();
    /// let reply = engine.respond(&mut session, "where is my package", &now);
    /// assert_eq!(reply.actions[0].route, "main:1");
    /// ```
    pub fn respond(&self, session: &mut Session, text: &str, now: &Zoned) -> Reply {
        self.turn(session, text, now, false)
    }

    /// Like [`Engine::respond`], with the evidence behind the decision in
    /// `Reply::explain`.
    pub fn respond_explained(&self, session: &mut Session, text: &str, now: &Zoned) -> Reply {
        self.turn(session, text, now, true)
    }

    fn decide(
        &self,
        session: &mut Session,
        text: &str,
        now: &Zoned,
        with_evidence: bool,
    ) -> Decided {
        let pack = &self.pack;
        let mut warnings: Vec<Warning> = Vec::new();
        let mut notes: Vec<Explain> = Vec::new();

        // 1. Clean, redact, look for lookalike domains, fold, analyse.
        let cleaned = clean(text, pack.max_message_chars);
        if cleaned.truncated {
            warnings.push(Warning::InputTruncated);
        }
        let redacted = redact(&cleaned.text, &self.pii);
        if !redacted.found.is_empty() {
            warnings.push(Warning::PiiRedacted);
        }
        let mut working = redacted.text;
        let remembered = working.clone();
        // Called once, on whichever path returns.
        let decided = move |reply: Reply, miss: bool| Decided {
            reply,
            miss,
            redacted: remembered,
        };
        for d in domain::find_domains(&working) {
            if let Some(official) = domain::lookalike_of(&d, &pack.official_domains) {
                if !warnings.contains(&Warning::LookalikeDomain) {
                    // A lookalike of an official domain is a scam sign whatever
                    // else the message asks.
                    warnings.push(Warning::LookalikeDomain);
                    warnings.push(Warning::Scam);
                    // The marker lets the pack's scam intent see the lookalike.
                    working.push_str(" [lookalike_domain]");
                }
                notes.push(Explain {
                    intent: None,
                    kind: "lookalike".into(),
                    detail: format!("{d} imitates {official}"),
                    weight: 0.0,
                });
            }
        }
        let analyzed = self.analyzer.analyze(&fold(&working));
        for (typed, fixed) in &analyzed.corrections {
            notes.push(Explain {
                intent: None,
                kind: "typo".into(),
                detail: format!("{typed} -> {fixed}"),
                weight: 0.0,
            });
        }

        // The reply's language: the message's own, or the conversation's.
        let detected = analyzed.language;
        let language = if detected != pack.default_language {
            detected
        } else {
            session
                .language
                .as_deref()
                .and_then(|code| pack.language(code))
                .filter(|_| analyzed.tokens.len() <= 3)
                .unwrap_or(detected)
        };
        session.turns += 1;

        // 2. Match.
        let candidates = self.index.score(pack, &analyzed);
        let renderer = Renderer {
            pack,
            language,
            now,
        };
        let mut explain = notes;
        explain.extend(
            candidates
                .iter()
                .take(if with_evidence { 4 } else { 0 })
                .flat_map(|c| {
                    let id = pack.intents[c.intent].id.clone();
                    c.evidence.iter().map(move |e| Explain {
                        intent: Some(id.clone()),
                        kind: evidence_kind_name(e.kind).to_string(),
                        detail: e.detail.to_string(),
                        weight: if matches!(e.kind, EvidenceKind::Negative | EvidenceKind::Negated)
                        {
                            -e.weight
                        } else {
                            e.weight
                        },
                    })
                }),
        );

        // 3. Decide: emergencies first. An emergency needs a phrase or pattern of
        // its own: similarity to an example alone never interrupts.
        let t = pack.thresholds;
        let own_words = |c: &Candidate| {
            c.evidence
                .iter()
                .any(|e| matches!(e.kind, EvidenceKind::Phrase | EvidenceKind::Pattern))
        };
        let emergency = candidates.iter().find(|c| {
            pack.intents[c.intent].outcome == IntentOutcome::Emergency
                && c.score >= t.emergency
                && own_words(c)
        });
        if let Some(c) = emergency {
            let plan = Plan {
                outcome: Outcome::Emergency,
                route_override: None,
                contexts: Vec::new(),
                wrote_in_other_language: false,
            };
            session.pending.clear();
            let reply = self.answer_reply(c, &plan, &renderer, warnings, explain, session);
            return decided(reply, false);
        }

        // Context: the session's, plus what this message says ("I'm on Medicare").
        let mut contexts: Vec<String> = session.context.clone();
        for c in &candidates {
            if own_words(c) && c.score >= CONTEXT_MIN_SCORE {
                for ctx in &pack.intents[c.intent].sets_context {
                    if !contexts.contains(ctx) {
                        contexts.push(ctx.clone());
                    }
                }
            }
        }
        let wrote_in_other_language = detected != pack.default_language;
        let context_route = |intent: &crate::pack::Intent| -> Option<(String, Target)> {
            intent
                .when
                .iter()
                .find(|(ctx, _)| contexts.contains(ctx))
                .cloned()
        };
        // The route a candidate would lead with, after context and language.
        let effective = |c: &Candidate| -> Option<Target> {
            let intent = &pack.intents[c.intent];
            let own = context_route(intent).map(|(_, t)| t).or(intent.route);
            let route = match pack.languages[language].route {
                Some(r)
                    if wrote_in_other_language
                        && !intent.keep_route
                        && !intent.warnings.contains(&Warning::Scam) =>
                {
                    Some(r)
                }
                _ => own,
            };
            // A context that sends calls elsewhere (a deaf member: the TTY line)
            // sends this candidate's call there too, as the reply will: a topic
            // and the TTY line are then one route, not two to choose between.
            route.map(|r| {
                pack.call_route(r, |ctx| contexts.iter().any(|c| c == ctx))
                    .map_or(r, |(_, line)| line)
            })
        };

        // Follow-up intents only ever answer about a route already given (below),
        // never as a topic of their own.
        let ranked: Vec<&Candidate> = candidates
            .iter()
            .filter(|c| {
                let intent = &pack.intents[c.intent];
                intent.outcome != IntentOutcome::Emergency && intent.follow_up.is_none()
            })
            .collect();

        // A clarification answered: "2", "the second one", its payload, or words
        // that point at one of the choices. Anything else is a fresh message.
        let pending = std::mem::take(&mut session.pending);
        // Only a conversation with something open needs the words again.
        let folded_words: Vec<String> = if pending.is_empty() && session.last_intent.is_none() {
            Vec::new()
        } else {
            fold(&working)
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect()
        };
        if let Some((ii, how)) = self.chosen(&pending, working.trim(), &folded_words, &ranked) {
            let intent = &pack.intents[ii];
            explain.push(Explain {
                intent: Some(intent.id.clone()),
                kind: "choice".into(),
                detail: how,
                weight: 0.0,
            });
            let c = Candidate {
                intent: ii,
                score: ranked
                    .iter()
                    .find(|c| c.intent == ii)
                    .map_or(1.0, |c| c.score.max(t.answer)),
                evidence: Vec::new(),
            };
            let plan = Plan {
                outcome: Outcome::Answer,
                route_override: context_route(intent).map(|(_, t)| t),
                contexts: contexts.clone(),
                wrote_in_other_language: language != pack.default_language,
            };
            let reply = self.answer_reply(&c, &plan, &renderer, warnings, explain, session);
            return decided(reply, false);
        }
        let had_pending = !pending.is_empty();

        // Follow-ups about the last route ("what are their hours?"), and context
        // given after an answer ("and if I'm on Medicare?").
        let short = analyzed.tokens.len() <= FOLLOW_UP_MAX_TOKENS;
        let last_route = session
            .last_route
            .as_deref()
            .and_then(|l| pack.target_by_label(l));
        // A follow-up wins when it is at least as strong as any topic of its own.
        let follow_up = candidates.iter().find(|c| {
            pack.intents[c.intent].follow_up.is_some() && own_words(c) && c.score >= t.answer
        });
        if let (Some(last), Some(f), true) = (last_route, follow_up, short)
            && let Some(kind) = pack.intents[f.intent].follow_up
            && ranked.first().is_none_or(|top| f.score >= top.score)
        {
            let reply = self.follow_up_reply(f, kind, last, &renderer, warnings, explain, session);
            return decided(reply, false);
        }
        // Context after an answer counts as a continuation only when the message
        // opens with one of the language's cues ("and …", "what if …", "y si …");
        // "what are the hours for the tty line" asks something new.
        // A cue may be several words ("what if"): the message's first words.
        let continues = pack.languages.iter().any(|l| {
            l.follow_up_cues.iter().any(|c| {
                let cue: Vec<&str> = c.split_whitespace().collect();
                !cue.is_empty()
                    && cue.len() <= folded_words.len()
                    && cue.iter().zip(&folded_words).all(|(a, b)| a == b)
            })
        });
        if let (Some(last_id), Some(top), true) = (
            session.last_intent.clone(),
            ranked.first(),
            short && continues,
        ) && let Some(last_index) = pack.intents.iter().position(|i| i.id == last_id)
            && top.intent != last_index
            && own_words(top)
            && top.score >= t.answer
        {
            let last_intent = &pack.intents[last_index];
            let changes_route = pack.intents[top.intent].sets_context.iter().find(|ctx| {
                last_intent.when.iter().any(|(w, _)| w == *ctx)
                    || pack.dialogue.call_routes.iter().any(|(w, _)| w == *ctx)
            });
            if let Some(ctx) = changes_route {
                let mut contexts = contexts.clone();
                if !contexts.contains(ctx) {
                    contexts.push(ctx.clone());
                }
                let route_override = last_intent
                    .when
                    .iter()
                    .find(|(w, _)| contexts.contains(w))
                    .map(|(_, t)| *t);
                explain.push(Explain {
                    intent: Some(last_intent.id.clone()),
                    kind: "context".into(),
                    detail: format!("{ctx}: {} again, with this context", last_intent.id),
                    weight: 0.0,
                });
                let c = Candidate {
                    intent: last_index,
                    score: top.score,
                    evidence: Vec::new(),
                };
                let plan = Plan {
                    outcome: Outcome::Answer,
                    route_override,
                    contexts,
                    wrote_in_other_language,
                };
                let reply = self.answer_reply(&c, &plan, &renderer, warnings, explain, session);
                return decided(reply, false);
            }
        }
        // Members writing in another language have a line of their own: with some
        // evidence (even below the bar) that line is a better answer than none.
        let language_has_route =
            wrote_in_other_language && pack.languages[language].route.is_some();
        let bar = if language_has_route {
            t.answer / 2.0
        } else {
            t.answer
        };
        // Loop guard: after repeated misses, a person instead of another guess.
        let human = pack.languages[language]
            .route
            .filter(|_| language != pack.default_language)
            .or(pack.dialogue.human)
            .filter(|_| session.misses + 1 >= pack.dialogue.misses_before_human);
        let Some(top) = ranked.first().copied().filter(|c| c.score >= bar) else {
            let confidence = ranked.first().map_or(0.0, |c| c.score);
            let reply = match human {
                Some(h) => self.human_reply(h, confidence, &renderer, warnings, explain),
                None => self.fallback_reply(None, confidence, &renderer, warnings, explain),
            };
            return decided(reply, true);
        };
        // A scam told with its own words, as strong as the top intent (within the
        // clarify margin), is the answer: "a caller wanted his SSN for new Part D
        // cards" needs the scam warning, not a question about Medicare.
        let top = if pack.intents[top.intent].warnings.contains(&Warning::Scam) {
            top
        } else {
            ranked[1..]
                .iter()
                .copied()
                .find(|c| {
                    pack.intents[c.intent].warnings.contains(&Warning::Scam)
                        && own_words(c)
                        && c.score >= t.clarify_floor
                        && top.score - c.score < t.clarify_margin
                })
                .unwrap_or(top)
        };
        let top_intent = &pack.intents[top.intent];
        if top_intent.outcome == IntentOutcome::Decline {
            let reply = self.fallback_reply(Some(top), top.score, &renderer, warnings, explain);
            return decided(reply, false);
        }
        if top_intent.warnings.contains(&Warning::Scam) && !warnings.contains(&Warning::Scam) {
            warnings.push(Warning::Scam);
        }
        let top_target = effective(top);
        // Two routes are one choice when they name the same place, or the same
        // phone line with and without a menu option: "what number do I call, I
        // want to talk to somebody" is one call either way.
        let same_place = |other: Option<Target>| match (top_target, other) {
            (Some(a), Some(b)) => {
                pack.route_label(a) == pack.route_label(b)
                    || (a.contact == b.contact
                        && matches!(
                            (a.sub, b.sub),
                            (Sub::None, Sub::Option(_)) | (Sub::Option(_), Sub::None)
                        ))
            }
            (a, b) => a == b,
        };
        let rivals: Vec<&Candidate> = ranked[1..]
            .iter()
            .copied()
            .filter(|c| {
                // Only two intents that both have words of their own are worth a
                // question; similarity to an example alone is not.
                pack.intents[c.intent].outcome == IntentOutcome::Answer
                    && own_words(c)
                    && own_words(top)
                    && c.score >= t.clarify_floor
                    && top.score - c.score < t.clarify_margin
                    && !same_place(effective(c))
            })
            .take(MAX_CHOICES - 1)
            .collect();
        if !rivals.is_empty() && !warnings.contains(&Warning::Scam) {
            // A second clarification in a row is a miss.
            if had_pending && let Some(h) = human {
                let reply = self.human_reply(h, top.score, &renderer, warnings, explain);
                return decided(reply, true);
            }
            let reply = self.clarify_reply(top, &rivals, &renderer, warnings, explain);
            return decided(reply, had_pending);
        }
        let route_override = context_route(top_intent).map(|(ctx, target)| {
            explain.push(Explain {
                intent: Some(top_intent.id.clone()),
                kind: "context".into(),
                detail: format!("{ctx} -> {}", pack.route_label(target)),
                weight: 0.0,
            });
            target
        });
        let plan = Plan {
            outcome: Outcome::Answer,
            route_override,
            contexts,
            wrote_in_other_language,
        };
        let reply = self.answer_reply(top, &plan, &renderer, warnings, explain, session);
        decided(reply, false)
    }

    /// Which pending choice a message picks, if it picks one: (intent index, how).
    fn chosen(
        &self,
        pending: &[String],
        text: &str,
        words: &[String],
        ranked: &[&Candidate],
    ) -> Option<(usize, String)> {
        let pack = &self.pack;
        // A payload (`/intent_id`) selects its intent, offered or not: chat
        // buttons send it.
        if let Some(id) = text.strip_prefix('/')
            && let Some(i) = pack.intents.iter().position(|i| i.id == id.trim())
            && pack.intents[i].outcome == IntentOutcome::Answer
        {
            return Some((i, format!("payload /{}", id.trim())));
        }
        if pending.is_empty() {
            return None;
        }
        let index_of = |id: &str| pack.intents.iter().position(|i| i.id == id);
        // "2", "the second one", "option 2", "la segunda".
        const FILLER: &[&str] = &[
            "the", "one", "option", "number", "no", "choice", "i", "want", "pick", "choose",
            "take", "it", "is", "ok", "okay", "please", "pls", "el", "la", "lo", "opcion",
            "numero", "quiero", "la", "por", "favor",
        ];
        let rest: Vec<&str> = words
            .iter()
            .map(String::as_str)
            .filter(|w| !FILLER.contains(w))
            .collect();
        if let [word] = rest.as_slice() {
            let n = match *word {
                "1" | "1st" | "first" | "uno" | "primera" | "primero" => Some(1),
                "2" | "2nd" | "second" | "two" | "dos" | "segunda" | "segundo" => Some(2),
                "3" | "3rd" | "third" | "three" | "tres" | "tercera" | "tercero" => Some(3),
                "last" | "ultima" | "ultimo" => Some(pending.len()),
                _ => None,
            };
            if let Some(n) = n {
                return pending
                    .get(n - 1)
                    .and_then(|id| index_of(id))
                    .map(|i| (i, format!("choice {n} of {}", pending.len())));
            }
        }
        // Words: the best-ranked candidate among the choices, when it leads or
        // the message is only a few words ("billing", "the medicare one").
        let offered = |c: &&&Candidate| pending.contains(&pack.intents[c.intent].id);
        if let Some(c) = ranked.first().filter(|c| offered(c)) {
            return Some((c.intent, format!("named {}", pack.intents[c.intent].id)));
        }
        if words.len() <= 4
            && let Some(c) = ranked.iter().find(offered)
        {
            return Some((c.intent, format!("named {}", pack.intents[c.intent].id)));
        }
        // A choice's title named: every word of the message is in it.
        let matching: Vec<usize> = pending
            .iter()
            .filter_map(|id| index_of(id))
            .filter(|&i| {
                let titles: Vec<String> = pack.intents[i].titles.iter().map(|t| fold(t)).collect();
                !rest.is_empty()
                    && rest.len() <= 4
                    && rest
                        .iter()
                        .all(|w| w.len() >= 3 && titles.iter().any(|t| t.contains(w)))
            })
            .collect();
        match matching.as_slice() {
            [i] => Some((*i, format!("title of {}", pack.intents[*i].id))),
            _ => None,
        }
    }

    /// Variables that describe a target in templates.
    fn target_vars(&self, r: &Renderer<'_>, t: Target) -> Vec<(&'static str, String)> {
        let action = r.action(t);
        // A portal or app action (live chat) is named by its label: the portal
        // itself does not close when its chat does.
        let name = match (t.sub, &action.label) {
            (crate::pack::Sub::Action(_), Some(label)) => label.clone(),
            _ => action.name.clone(),
        };
        vec![
            ("name", name),
            ("contact", self.pack.contacts[t.contact].name.clone()),
            ("number", action.number.clone().unwrap_or_default()),
            ("option", action.option.clone().unwrap_or_default()),
            (
                "label",
                action.label.clone().unwrap_or_else(|| action.name.clone()),
            ),
            ("url", action.url.clone().unwrap_or_default()),
            ("hours", r.hours_text(t).unwrap_or_default()),
            ("opens", r.opens_text(t).unwrap_or_default()),
            ("reason", r.exception_today(t).unwrap_or_default()),
        ]
    }

    /// "… is closed right now …; it opens …", plus where to go meanwhile (added
    /// to `targets` after the closed one).
    fn closed_text(&self, r: &Renderer<'_>, closed: Target, targets: &mut Vec<Target>) -> String {
        let messages = &self.pack.languages[r.language].messages;
        let vars = self.target_vars(r, closed);
        let mut text = String::new();
        if let Some(h) = &messages.holiday
            && r.exception_today(closed).is_some()
        {
            text.push_str(&sentence(r.fill(h, &vars)));
            text.push(' ');
        }
        text.push_str(&sentence(r.fill(&messages.closed, &vars)));
        if let Some(w) = self.pack.contacts[closed.contact].when_closed {
            text.push(' ');
            if let Some(m) = &messages.meanwhile {
                text.push_str(&sentence(r.fill(m, &self.target_vars(r, w))));
            }
            if !targets.contains(&w) {
                let at = targets
                    .iter()
                    .position(|t| *t == closed)
                    .map_or(0, |i| i + 1);
                targets.insert(at.min(targets.len()), w);
            }
        }
        text
    }

    /// Offer a person: the pack's `[dialogue] human` route.
    fn human_reply(
        &self,
        human: Target,
        confidence: f64,
        r: &Renderer<'_>,
        mut warnings: Vec<Warning>,
        explain: Vec<Explain>,
    ) -> Reply {
        let messages = &self.pack.languages[r.language].messages;
        let mut text = match &messages.human {
            Some(m) => r.fill(m, &self.target_vars(r, human)),
            None => r.fill(&messages.fallback, &[]),
        };
        let mut targets = vec![human];
        if r.open_now(human) == Some(false) {
            warnings.push(Warning::ClosedNow);
            text.push(' ');
            text.push_str(&self.closed_text(r, human, &mut targets));
        }
        self.append_notes(&mut text, r, &warnings, false);
        warnings.sort();
        warnings.dedup();
        Reply {
            outcome: Outcome::Fallback,
            intent: None,
            confidence: round(confidence),
            language: self.pack.languages[r.language].code.clone(),
            reply: text.trim().to_string(),
            actions: targets.into_iter().map(|t| r.action(t)).collect(),
            choices: Vec::new(),
            warnings,
            explain: Some(explain),
        }
    }

    /// A question about the last route: its hours, number, whether it is open,
    /// or doing the same online.
    #[allow(clippy::too_many_arguments)]
    fn follow_up_reply(
        &self,
        c: &Candidate,
        kind: FollowUp,
        last: Target,
        r: &Renderer<'_>,
        mut warnings: Vec<Warning>,
        mut explain: Vec<Explain>,
        session: &mut Session,
    ) -> Reply {
        let pack = &self.pack;
        let messages = &pack.languages[r.language].messages;
        explain.push(Explain {
            intent: Some(pack.intents[c.intent].id.clone()),
            kind: "follow_up".into(),
            detail: format!("about {}", pack.route_label(last)),
            weight: 0.0,
        });
        let mut targets = vec![last];
        let vars = self.target_vars(r, last);
        let closed = r.open_now(last) == Some(false);
        // The first of `templates` the pack has and can fill completely; else the
        // follow-up intent's own answer.
        let say = |templates: &[(&Option<crate::pack::Template>, &Vars)]| {
            templates
                .iter()
                .find_map(|(t, vars)| t.as_ref().and_then(|t| r.fill_complete(t, vars)))
                .unwrap_or_else(|| r.fill(&pack.intents[c.intent].answers[r.language], &[]))
        };
        // The last intent's online way (portal or app), if it has one.
        let online = || {
            session
                .last_intent
                .as_deref()
                .and_then(|id| pack.intent(id))
                .into_iter()
                .flat_map(|i| i.route.into_iter().chain(i.also.iter().copied()))
                .chain(std::iter::once(last))
                .find(|t| {
                    matches!(
                        pack.contacts[t.contact].kind,
                        ContactKind::Portal | ContactKind::App
                    )
                })
        };
        let mut text = match kind {
            FollowUp::Hours => say(&[
                (&messages.follow_hours, &vars),
                (&messages.follow_no_hours, &vars),
            ]),
            FollowUp::Number => {
                let has_option = vars.iter().any(|(k, v)| *k == "option" && !v.is_empty());
                let has_number = vars.iter().any(|(k, v)| *k == "number" && !v.is_empty());
                if has_number {
                    let mut t = say(&[(&messages.follow_number, &vars)]);
                    if has_option && let Some(o) = &messages.follow_option {
                        t.push(' ');
                        t.push_str(&r.fill(o, &vars));
                    }
                    t
                } else {
                    say(&[
                        (&messages.follow_online, &vars),
                        (&messages.follow_app, &vars),
                    ])
                }
            }
            FollowUp::OpenNow if closed => String::new(),
            FollowUp::OpenNow => say(&[
                (&messages.follow_open, &vars),
                (&messages.follow_no_hours, &vars),
            ]),
            FollowUp::Online => match online() {
                Some(o) => {
                    targets = vec![o, last];
                    let o_vars = self.target_vars(r, o);
                    say(&[
                        (&messages.follow_online, &o_vars),
                        (&messages.follow_app, &o_vars),
                    ])
                }
                None => say(&[(&messages.follow_offline, &vars)]),
            },
        };
        if closed && !(kind == FollowUp::Online && targets[0] != last) {
            warnings.push(Warning::ClosedNow);
            text.push(' ');
            text.push_str(&self.closed_text(r, last, &mut targets));
        }
        self.append_notes(&mut text, r, &warnings, false);
        warnings.sort();
        warnings.dedup();
        session.language = Some(pack.languages[r.language].code.clone());
        Reply {
            outcome: Outcome::Answer,
            intent: Some(pack.intents[c.intent].id.clone()),
            confidence: round(c.score),
            language: pack.languages[r.language].code.clone(),
            reply: text.trim().to_string(),
            actions: targets.into_iter().map(|t| r.action(t)).collect(),
            choices: Vec::new(),
            warnings,
            explain: Some(explain),
        }
    }

    fn turn(&self, session: &mut Session, text: &str, now: &Zoned, with_evidence: bool) -> Reply {
        let Decided {
            mut reply,
            miss,
            redacted,
        } = self.decide(session, text, now, with_evidence);
        // What the conversation remembers of this turn.
        match reply.outcome {
            Outcome::Answer | Outcome::Emergency => session.misses = 0,
            Outcome::Fallback | Outcome::Clarify if miss => session.misses += 1,
            Outcome::Fallback | Outcome::Clarify => {}
        }
        session.pending = if reply.outcome == Outcome::Clarify {
            reply.choices.iter().map(|c| c.intent.clone()).collect()
        } else {
            Vec::new()
        };
        if reply.outcome == Outcome::Answer {
            session.last_route = reply.actions.first().map(|a| a.route.clone());
        }
        // The only place member text reaches a log: redacted, at TRACE.
        tracing::trace!(text = %redacted, "message");
        session.history.push(TurnRecord {
            text: remembered(redacted),
            outcome: reply.outcome,
            intent: reply.intent.clone(),
        });
        if session.history.len() > MAX_HISTORY {
            session.history.remove(0);
        }
        if session.context.len() > MAX_CONTEXTS {
            let extra = session.context.len() - MAX_CONTEXTS;
            session.context.drain(..extra);
        }
        if !with_evidence {
            reply.explain = None;
        }
        tracing::debug!(
            outcome = ?reply.outcome,
            intent = reply.intent.as_deref().unwrap_or("-"),
            confidence = reply.confidence,
            "turn"
        );
        reply
    }

    fn answer_reply(
        &self,
        c: &Candidate,
        plan: &Plan,
        r: &Renderer<'_>,
        mut warnings: Vec<Warning>,
        mut explain: Vec<Explain>,
        session: &mut Session,
    ) -> Reply {
        let outcome = plan.outcome;
        let pack = &self.pack;
        let intent = &pack.intents[c.intent];
        let language = &pack.languages[r.language];
        let messages = &language.messages;

        // Targets: the language's own line first where it applies: instead of a
        // call to the same line (its option in the member's language). A portal
        // page, an app or a store the member asked about stays first, the
        // language's line next.
        let mut targets: Vec<Target> = Vec::new();
        let mut language_routed = false;
        let own_first = plan.route_override.or(intent.route);
        if outcome == Outcome::Answer
            && plan.wrote_in_other_language
            && !intent.keep_route
            && !warnings.contains(&Warning::Scam)
            && let Some(route) = language.route
        {
            let same_line = own_first.is_none_or(|t| t.contact == route.contact);
            if same_line {
                targets.push(route);
                language_routed = intent.route != Some(route);
            } else {
                targets.extend(own_first);
                targets.push(route);
            }
        }
        targets.extend(plan.route_override);
        targets.extend(intent.route);
        targets.extend(intent.also.iter().copied());
        // A context that sends calls elsewhere first (a deaf member: the TTY line).
        let mut call_routed = None;
        if outcome == Outcome::Answer
            && let Some(&first) = targets.first()
            && let Some((ctx, line)) = pack.call_route(first, |ctx| {
                [&plan.contexts, &intent.sets_context, &session.context]
                    .iter()
                    .any(|list| list.iter().any(|c| c == ctx))
            })
        {
            targets.insert(0, line);
            call_routed = Some(line);
            explain.push(Explain {
                intent: Some(intent.id.clone()),
                kind: "context".into(),
                detail: format!("{ctx} -> {}", pack.route_label(line)),
                weight: 0.0,
            });
        }
        let mut seen = Vec::new();
        targets.retain(|t| {
            let keep = !seen.contains(t) && pack.contacts[t.contact].verified;
            seen.push(*t);
            keep
        });

        let mut text = String::new();
        if language_routed && let Some(m) = &messages.language_route {
            text.push_str(&r.fill(m, &[("language", language.name.clone())]));
            text.push(' ');
        }
        // A context route has its own answer (it names that route's option).
        let answer = plan
            .route_override
            .and_then(|t| intent.when.iter().position(|(_, w)| *w == t))
            .and_then(|k| intent.when_answers.get(k))
            .map_or(&intent.answers[r.language], |a| &a[r.language]);
        text.push_str(&r.fill(answer, &[]));
        if let Some(line) = call_routed
            && let Some(m) = &messages.follow_number
        {
            text.push(' ');
            text.push_str(&r.fill(m, &self.target_vars(r, line)));
        }
        if outcome == Outcome::Answer
            && let Some(&primary) = targets.first()
            && r.open_now(primary) == Some(false)
        {
            warnings.push(Warning::ClosedNow);
            text.push(' ');
            text.push_str(&self.closed_text(r, primary, &mut targets));
        }
        if outcome == Outcome::Answer {
            self.append_notes(
                &mut text,
                r,
                &warnings,
                intent.warnings.contains(&Warning::Scam),
            );
        }
        if outcome == Outcome::Answer {
            for ctx in intent.sets_context.iter().chain(&plan.contexts) {
                if !session.context.contains(ctx) {
                    session.context.push(ctx.clone());
                }
            }
            session.last_intent = Some(intent.id.clone());
        }
        session.language = Some(language.code.clone());
        warnings.sort();
        warnings.dedup();
        Reply {
            outcome,
            intent: Some(intent.id.clone()),
            confidence: round(c.score),
            language: language.code.clone(),
            reply: text.trim().to_string(),
            actions: targets.into_iter().map(|t| r.action(t)).collect(),
            choices: Vec::new(),
            warnings,
            explain: Some(explain),
        }
    }

    /// Privacy, scam, lookalike and truncation notes after the main text.
    fn append_notes(
        &self,
        text: &mut String,
        r: &Renderer<'_>,
        warnings: &[Warning],
        intent_is_scam: bool,
    ) {
        let messages = &self.pack.languages[r.language].messages;
        let mut add = |t: &crate::pack::Template| {
            text.push(' ');
            text.push_str(&r.fill(t, &[]));
        };
        if warnings.contains(&Warning::LookalikeDomain) {
            add(&messages.lookalike);
        }
        if warnings.contains(&Warning::Scam) && !intent_is_scam {
            add(&messages.scam);
        }
        if warnings.contains(&Warning::PiiRedacted) {
            add(&messages.pii);
        }
        if warnings.contains(&Warning::InputTruncated) {
            add(&messages.truncated);
        }
    }

    fn fallback_reply(
        &self,
        decline: Option<&Candidate>,
        confidence: f64,
        r: &Renderer<'_>,
        mut warnings: Vec<Warning>,
        explain: Vec<Explain>,
    ) -> Reply {
        let messages = &self.pack.languages[r.language].messages;
        let mut text = match decline {
            Some(c) => r.fill(&self.pack.intents[c.intent].answers[r.language], &[]),
            None => r.fill(&messages.fallback, &[]),
        };
        if warnings.contains(&Warning::LookalikeDomain) && !warnings.contains(&Warning::Scam) {
            warnings.push(Warning::Scam);
        }
        self.append_notes(&mut text, r, &warnings, false);
        warnings.sort();
        warnings.dedup();
        Reply {
            outcome: Outcome::Fallback,
            intent: None,
            confidence: round(confidence),
            language: self.pack.languages[r.language].code.clone(),
            reply: text.trim().to_string(),
            actions: Vec::new(),
            choices: Vec::new(),
            warnings,
            explain: Some(explain),
        }
    }

    fn clarify_reply(
        &self,
        top: &Candidate,
        rivals: &[&Candidate],
        r: &Renderer<'_>,
        mut warnings: Vec<Warning>,
        explain: Vec<Explain>,
    ) -> Reply {
        let pack = &self.pack;
        let messages = &pack.languages[r.language].messages;
        let choices: Vec<Choice> = std::iter::once(top)
            .chain(rivals.iter().copied())
            .map(|c| {
                let intent = &pack.intents[c.intent];
                Choice {
                    intent: intent.id.clone(),
                    title: intent.titles[r.language].clone(),
                    payload: format!("/{}", intent.id),
                }
            })
            .collect();
        let mut text = r.fill(&messages.clarify, &[]);
        for (i, c) in choices.iter().enumerate() {
            text.push_str(&format!(" {}. {}", i + 1, c.title));
        }
        self.append_notes(&mut text, r, &warnings, false);
        warnings.sort();
        warnings.dedup();
        Reply {
            outcome: Outcome::Clarify,
            intent: Some(pack.intents[top.intent].id.clone()),
            confidence: round(top.score),
            language: pack.languages[r.language].code.clone(),
            reply: text.trim().to_string(),
            actions: Vec::new(),
            choices,
            warnings: std::mem::take(&mut warnings),
            explain: Some(explain),
        }
    }
}

/// `text` ending in one full stop (a template may end in "a.m." already).
fn sentence(mut text: String) -> String {
    let trimmed = text.trim_end().len();
    text.truncate(trimmed);
    if !text.ends_with(['.', '!', '?']) {
        text.push('.');
    }
    text
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("intents/caremark");
        Engine::load_dir(&dir).expect("default pack").0
    }

    fn now() -> Zoned {
        "2026-11-24T10:00:00-06:00[America/Chicago]"
            .parse()
            .expect("instant")
    }

    #[test]
    fn sessions_are_bounded_and_serialize() {
        let engine = engine();
        let mut session = Session::new();
        for i in 0..(MAX_HISTORY + 4) {
            engine.respond(
                &mut session,
                &format!("where is my order number {i}"),
                &now(),
            );
        }
        assert_eq!(session.history.len(), MAX_HISTORY);
        engine.respond(&mut session, "coverage question, i'm abroad", &now());
        assert_eq!(session.pending.len(), 2, "{session:?}");
        let json = serde_json::to_string(&session).expect("serializes");
        let back: Session = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, session);
        // A restored session resolves the clarification like the original.
        let mut restored = back;
        let reply = engine.respond(&mut restored, "2", &now());
        assert_eq!(reply.intent.as_deref(), Some("insurance_coverage"));
    }

    #[test]
    fn history_is_redacted() {
        let engine = engine();
        let mut session = Session::new();
        engine.respond(
            &mut session,
            "my ssn is 123-45-6789, where is my order",
            &now(),
        );
        let remembered = &session.history[0].text;
        assert!(remembered.contains("[SSN]"), "{remembered}");
        assert!(!remembered.contains("123-45-6789"), "{remembered}");
    }

    #[test]
    fn sessions_stay_small_whatever_the_message() {
        let engine = engine();
        let mut session = Session::new();
        let long = "ñ where is my order ".repeat(2_000);
        for _ in 0..(MAX_HISTORY + 2) {
            engine.respond(&mut session, &long, &now());
        }
        let json = serde_json::to_string(&session).expect("serializes");
        assert!(json.len() < 2_000, "{} bytes", json.len());
        assert!(session.history[0].text.ends_with('…'));
        assert_eq!(remembered("short".into()), "short");
    }
}
