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
use crate::pack::{IntentOutcome, Target};
use crate::pii::redact;
use crate::render::{Choice, Explain, Outcome, Renderer, Reply, Warning, evidence_kind_name};

/// What the engine remembers of a conversation between turns.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Language of the last replies (`en`, `es`), once the member wrote in one.
    pub language: Option<String>,
    /// Context the member gave (`medicare`, …).
    pub context: Vec<String>,
    /// The intent of the last answer.
    pub last_intent: Option<String>,
    /// Turns so far.
    pub turns: u32,
}

impl Session {
    /// A new, empty conversation.
    pub fn new() -> Session {
        Session::default()
    }
}

/// How many choices a clarification offers at most.
const MAX_CHOICES: usize = 3;

/// Least score for an intent's `sets_context` to count from the message itself.
const CONTEXT_MIN_SCORE: f64 = 0.5;

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

    fn decide(&self, session: &mut Session, text: &str, now: &Zoned, with_evidence: bool) -> Reply {
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
            return self.answer_reply(c, &plan, &renderer, warnings, explain, session);
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
            match pack.languages[language].route {
                Some(r)
                    if wrote_in_other_language
                        && !intent.keep_route
                        && !intent.warnings.contains(&Warning::Scam) =>
                {
                    Some(r)
                }
                _ => own,
            }
        };

        let ranked: Vec<&Candidate> = candidates
            .iter()
            .filter(|c| pack.intents[c.intent].outcome != IntentOutcome::Emergency)
            .collect();
        // Members writing in another language have a line of their own: with some
        // evidence (even below the bar) that line is a better answer than none.
        let language_has_route =
            wrote_in_other_language && pack.languages[language].route.is_some();
        let bar = if language_has_route {
            t.answer / 2.0
        } else {
            t.answer
        };
        let Some(top) = ranked.first().copied().filter(|c| c.score >= bar) else {
            return self.fallback_reply(
                None,
                ranked.first().map_or(0.0, |c| c.score),
                &renderer,
                warnings,
                explain,
            );
        };
        let top_intent = &pack.intents[top.intent];
        if top_intent.outcome == IntentOutcome::Decline {
            return self.fallback_reply(Some(top), top.score, &renderer, warnings, explain);
        }
        if top_intent.warnings.contains(&Warning::Scam) && !warnings.contains(&Warning::Scam) {
            warnings.push(Warning::Scam);
        }
        let top_route = effective(top).map(|r| pack.route_label(r));
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
                    && effective(c).map(|r| pack.route_label(r)) != top_route
            })
            .take(MAX_CHOICES - 1)
            .collect();
        if !rivals.is_empty() && !warnings.contains(&Warning::Scam) {
            return self.clarify_reply(top, &rivals, &renderer, warnings, explain);
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
        self.answer_reply(top, &plan, &renderer, warnings, explain, session)
    }

    fn turn(&self, session: &mut Session, text: &str, now: &Zoned, with_evidence: bool) -> Reply {
        let mut reply = self.decide(session, text, now, with_evidence);
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
        explain: Vec<Explain>,
        session: &mut Session,
    ) -> Reply {
        let outcome = plan.outcome;
        let pack = &self.pack;
        let intent = &pack.intents[c.intent];
        let language = &pack.languages[r.language];
        let messages = &language.messages;

        // Targets: the language's own line first where it applies.
        let mut targets: Vec<Target> = Vec::new();
        let mut language_routed = false;
        if outcome == Outcome::Answer
            && plan.wrote_in_other_language
            && !intent.keep_route
            && !warnings.contains(&Warning::Scam)
            && let Some(route) = language.route
        {
            targets.push(route);
            language_routed = intent.route != Some(route);
        }
        targets.extend(plan.route_override);
        targets.extend(intent.route);
        targets.extend(intent.also.iter().copied());
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
        text.push_str(&r.fill(&intent.answers[r.language], &[]));
        if outcome == Outcome::Answer
            && let Some(&primary) = targets.first()
            && r.open_now(primary) == Some(false)
        {
            warnings.push(Warning::ClosedNow);
            let vars = [
                ("name", pack.contacts[primary.contact].name.clone()),
                ("hours", r.hours_text(primary).unwrap_or_default()),
                ("opens", r.opens_text(primary).unwrap_or_default()),
            ];
            text.push(' ');
            text.push_str(&r.fill(&messages.closed, &vars));
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

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
