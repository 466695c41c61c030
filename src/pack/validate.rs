//! Lowering raw pack files to a [`Pack`], collecting every problem on the way.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use toml::Spanned;

use crate::Warning;
use crate::diag::{Diagnostic, Severity};
use crate::domain;
use crate::hours::Hours;
use crate::normalize::fold;
use crate::pack::schema::{
    RawContact, RawDialogue, RawEmbeddings, RawException, RawFile, RawHours, RawIntent,
    RawLanguage, RawMessages, RawModel, RawSource,
};
use crate::pack::{
    Contact, ContactAction, ContactKind, Dialogue, Field, FollowUp, HoursException, Intent,
    IntentOutcome, Language, Loc, Lookup, MenuOption, Messages, Pack, Source, Sub, Synonym, Target,
    Template, TemplatePart, Thresholds,
};

/// Most patterns a pack may declare.
pub const MAX_PATTERNS: usize = 20_000;
/// Most phrases (strong, weak and negative) a pack may declare.
pub const MAX_PHRASES: usize = 500_000;
/// Longest pattern source, in bytes: a pattern is a rule a person reads, and a
/// megabyte of alternation is a word list (use a lookup).
pub const MAX_PATTERN_LEN: usize = 10_000;
/// Compiled size limit of one pattern, in bytes.
pub const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// Loads a pack from its files (`*.toml`, plus documents in a `sources/` folder).
///
/// Returns the pack when no error was found, and every diagnostic (errors and
/// warnings) in file order.
pub fn load(files: Vec<(PathBuf, String)>) -> (Option<Pack>, Vec<Diagnostic>) {
    let mut ctx = Ctx {
        files,
        diags: Vec::new(),
        squashed: HashMap::new(),
    };
    let mut raws: Vec<(usize, RawFile)> = Vec::new();
    let mut docs: BTreeMap<String, usize> = BTreeMap::new();
    let mut word_lists: BTreeMap<String, usize> = BTreeMap::new();
    let mut tomls: Vec<usize> = Vec::new();
    for (i, (path, _)) in ctx.files.iter().enumerate() {
        let parent = path.parent().and_then(|p| p.file_name());
        if parent.is_some_and(|n| n == "dictionary") {
            if let Some(name) = path.file_name() {
                word_lists.insert(format!("dictionary/{}", name.to_string_lossy()), i);
            }
            continue;
        }
        let in_sources = parent.is_some_and(|n| n == "sources");
        if in_sources {
            if let Some(name) = path.file_name() {
                docs.insert(name.to_string_lossy().into_owned(), i);
            }
            continue;
        }
        if path.extension().is_some_and(|e| e == "toml") {
            tomls.push(i);
        }
    }
    // The files parse independently: on as many cores as they are worth.
    let bytes: usize = tomls.iter().map(|&i| ctx.files[i].1.len()).sum();
    let weight = bytes / tomls.len().max(1) / 256;
    let files = &ctx.files;
    let parsed = crate::par::map(&tomls, weight, |&i| {
        let (path, text) = &files[i];
        parse_file(path, text)
    });
    for (&i, result) in tomls.iter().zip(parsed) {
        match result {
            Ok(raw) => raws.push((i, raw)),
            Err(diags) => ctx.diags.extend(diags),
        }
    }
    if ctx.diags.iter().any(Diagnostic::is_error) {
        return (None, ctx.diags);
    }
    let pack = lower(&mut ctx, raws, &docs, &word_lists);
    let has_errors = ctx.diags.iter().any(Diagnostic::is_error);
    let Ctx { files, diags, .. } = ctx;
    match pack {
        Some(mut pack) if !has_errors => {
            pack.files = files;
            (Some(pack), diags)
        }
        _ => (None, diags),
    }
}

/// One TOML file of the pack, or every syntax error in it (or its first type
/// error) as diagnostics.
fn parse_file(path: &Path, text: &str) -> Result<RawFile, Vec<Diagnostic>> {
    let e = match toml::from_str::<RawFile>(text) {
        Ok(raw) => return Ok(raw),
        Err(e) => e,
    };
    // The typed parse stops at the first error; the recoverable one lists every
    // syntax error, so a file with several is fixed in one round.
    let (_, syntax) = toml::de::DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        return Err(syntax
            .into_iter()
            .map(|e| {
                let span = e.span().unwrap_or(0..0);
                Diagnostic::at(Severity::Error, path, text, span, e.message().trim())
                    .with_help("fix the TOML syntax")
            })
            .collect());
    }
    let span = e.span().unwrap_or(0..0);
    let message = e.message().trim().replace('\n', " ");
    let help = if message.contains("unknown field") {
        "check the spelling; the pack format is documented in intents/README.md"
    } else {
        "check the value's type against intents/README.md"
    };
    Err(vec![
        Diagnostic::at(Severity::Error, path, text, span, message).with_help(help),
    ])
}

struct Ctx {
    files: Vec<(PathBuf, String)>,
    diags: Vec<Diagnostic>,
    /// Source documents with whitespace collapsed, by file index.
    squashed: HashMap<usize, String>,
}

impl Ctx {
    fn error(&mut self, file: usize, span: Range<usize>, message: String, help: &str) {
        let (path, text) = &self.files[file];
        let d = Diagnostic::at(Severity::Error, path, text, span, message).with_help(help);
        self.diags.push(d);
    }

    fn file_error(&mut self, file: usize, message: String, help: &str) {
        let path = &self.files[file].0;
        self.diags
            .push(Diagnostic::file(Severity::Error, path, message).with_help(help));
    }
}

fn lower(
    ctx: &mut Ctx,
    raws: Vec<(usize, RawFile)>,
    docs: &BTreeMap<String, usize>,
    word_lists: &BTreeMap<String, usize>,
) -> Option<Pack> {
    let first_file = raws.first().map_or(0, |r| r.0);
    let mut settings = None;
    let mut thresholds_raw = None;
    let mut languages_raw = Vec::new();
    let mut contacts_raw = Vec::new();
    let mut synonyms_raw = Vec::new();
    let mut lookups_raw = Vec::new();
    let mut intents_raw = Vec::new();
    let mut dialogue_raw = None;
    let mut exceptions_raw = Vec::new();
    let mut model_raw: Option<(usize, Spanned<RawModel>)> = None;
    let mut embeddings_raw: Option<(usize, Spanned<RawEmbeddings>)> = None;
    for (file, raw) in raws {
        if let Some(e) = raw.embeddings {
            if embeddings_raw.is_some() {
                ctx.error(
                    file,
                    e.span(),
                    "a second [embeddings] table".into(),
                    "keep one [embeddings] table in the pack",
                );
            } else {
                embeddings_raw = Some((file, e));
            }
        }
        if let Some(m) = raw.model {
            if model_raw.is_some() {
                ctx.error(
                    file,
                    m.span(),
                    "a second [model] table".into(),
                    "keep one [model] table in the pack",
                );
            } else {
                model_raw = Some((file, m));
            }
        }
        if let Some(d) = raw.dialogue {
            if dialogue_raw.is_some() {
                ctx.error(
                    file,
                    d.span(),
                    "a second [dialogue] table".into(),
                    "keep one [dialogue] table in the pack",
                );
            } else {
                dialogue_raw = Some((file, d.into_inner()));
            }
        }
        exceptions_raw.extend(raw.exception.into_iter().map(|e| (file, e)));
        if let Some(s) = raw.pack {
            if settings.is_some() {
                ctx.error(
                    file,
                    s.span(),
                    "a second [pack] table".into(),
                    "keep exactly one [pack] table in the pack",
                );
            } else {
                settings = Some((file, s));
            }
        }
        if let Some(t) = raw.thresholds {
            thresholds_raw = Some(t);
        }
        languages_raw.extend(raw.languages.into_iter().map(|(k, v)| (file, k, v)));
        contacts_raw.extend(raw.contact.into_iter().map(|c| (file, c)));
        synonyms_raw.extend(raw.synonym.into_iter().map(|s| (file, s)));
        lookups_raw.extend(raw.lookup.into_iter().map(|(k, v)| (file, k, v)));
        intents_raw.extend(raw.intent.into_iter().map(|i| (file, i)));
    }
    let Some((settings_file, settings)) = settings else {
        ctx.file_error(
            first_file,
            "the pack has no [pack] table".into(),
            "add pack.toml with [pack] name, time_zone and default_language",
        );
        return None;
    };
    let settings_span = settings.span();
    let settings = settings.into_inner();

    let time_zone = match TimeZone::get(settings.time_zone.get_ref()) {
        Ok(tz) => tz,
        Err(_) => {
            ctx.error(
                settings_file,
                settings.time_zone.span(),
                format!("unknown time zone {:?}", settings.time_zone.get_ref()),
                "use an IANA name such as America/Chicago",
            );
            TimeZone::UTC
        }
    };
    let t = thresholds_raw;
    let thresholds = Thresholds {
        answer: t
            .as_ref()
            .and_then(|t| t.answer)
            .unwrap_or(super::DEFAULT_ANSWER),
        clarify_margin: t.as_ref().and_then(|t| t.clarify_margin).unwrap_or(0.05),
        clarify_floor: t.as_ref().and_then(|t| t.clarify_floor).unwrap_or(0.5),
        emergency: t.as_ref().and_then(|t| t.emergency).unwrap_or(0.6),
    };
    let official_domains: Vec<String> = settings
        .official_domains
        .iter()
        .map(|d| d.get_ref().to_ascii_lowercase())
        .collect();
    let member_id_pattern = settings.member_id_pattern.as_ref().and_then(|p| {
        match regex::RegexBuilder::new(p.get_ref())
            .size_limit(PATTERN_SIZE_LIMIT)
            .build()
        {
            Ok(re) => Some(re),
            Err(e) => {
                ctx.error(
                    settings_file,
                    p.span(),
                    format!("invalid member_id_pattern: {e}"),
                    "fix the regex",
                );
                None
            }
        }
    });

    // Language codes, default first: labels and answers are stored in this order.
    let default_code = settings.default_language.get_ref().clone();
    let mut language_raws: Vec<(usize, Spanned<String>, RawLanguage)> = languages_raw;
    language_raws.sort_by_key(|(_, code, _)| code.get_ref() != &default_code);
    let mut codes: Vec<String> = Vec::new();
    for (_, code, _) in &language_raws {
        if !codes.contains(code.get_ref()) {
            codes.push(code.get_ref().clone());
        }
    }

    // Contacts first: languages and intents refer to them.
    let mut contacts = Vec::new();
    let mut contact_ids: HashMap<String, usize> = HashMap::new();
    let mut when_closed_raw = Vec::new();
    for (file, raw) in contacts_raw {
        let span = raw.span();
        let raw = raw.into_inner();
        let id = raw.id.get_ref().clone();
        let when_closed = raw.when_closed.clone();
        if contact_ids.contains_key(&id) {
            ctx.error(
                file,
                raw.id.span(),
                format!("duplicate contact id {id:?}"),
                "give every contact a unique id",
            );
            continue;
        }
        if let Some(c) = lower_contact(ctx, file, span, raw, docs, &official_domains, &codes) {
            if let Some(w) = when_closed {
                when_closed_raw.push((contacts.len(), file, w));
            }
            contact_ids.insert(id, contacts.len());
            contacts.push(c);
        }
    }
    for (ci, file, w) in when_closed_raw {
        if contacts[ci].hours.is_none() {
            ctx.error(
                file,
                w.span(),
                format!("contact {:?} has when_closed but no hours", contacts[ci].id),
                "give the contact hours, or remove when_closed",
            );
        }
        contacts[ci].when_closed = resolve_target(ctx, file, &w, &contacts, &contact_ids);
    }
    let dialogue = lower_dialogue(ctx, dialogue_raw, &contacts, &contact_ids);
    let exceptions = lower_exceptions(ctx, exceptions_raw, &contacts, &contact_ids, docs);

    // Languages, default first.
    let mut languages: Vec<Language> = Vec::new();
    for (file, code, raw) in language_raws {
        if languages.iter().any(|l| &l.code == code.get_ref()) {
            ctx.error(
                file,
                code.span(),
                format!("language {:?} is declared twice", code.get_ref()),
                "declare each language once",
            );
            continue;
        }
        if let Some(l) = lower_language(ctx, file, code, raw, &contacts, &contact_ids, word_lists) {
            languages.push(l);
        }
    }
    if !languages.iter().any(|l| l.code == default_code) {
        ctx.error(
            settings_file,
            settings.default_language.span(),
            format!("default language {default_code:?} has no [languages.{default_code}] table"),
            "declare the language with its stemmer and messages",
        );
        return None;
    }

    // Synonyms and lookups.
    let mut synonyms = Vec::new();
    for (_, raw) in synonyms_raw {
        synonyms.push(Synonym {
            canonical: fold(raw.canonical.get_ref()).trim().to_string(),
            terms: raw
                .terms
                .iter()
                .map(|t| fold(t.get_ref()).trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
        });
    }
    let mut lookups: Vec<Lookup> = Vec::new();
    for (file, name, raw) in lookups_raw {
        if lookups.iter().any(|l| &l.name == name.get_ref()) {
            ctx.error(
                file,
                name.span(),
                format!("lookup {:?} is declared twice", name.get_ref()),
                "merge the two lists",
            );
            continue;
        }
        let valid_name = name
            .get_ref()
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_name || name.get_ref().is_empty() {
            ctx.error(
                file,
                name.span(),
                format!(
                    "lookup name {:?} must be lowercase ASCII letters, digits or _",
                    name.get_ref()
                ),
                "rename the lookup",
            );
            continue;
        }
        lookups.push(Lookup {
            name: name.get_ref().clone(),
            terms: raw
                .terms
                .iter()
                .map(|t| fold(t.get_ref()).trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
        });
    }

    // Intents.
    let mut intents: Vec<Intent> = Vec::new();
    let mut intent_ids: HashSet<String> = HashSet::new();
    let mut n_patterns = 0;
    let mut n_phrases = 0;
    // Patterns parse independently of the rest: on every core, before the
    // intents are lowered in order.
    let pattern_checks = crate::par::map(&intents_raw, 16, |(_, raw)| {
        raw.get_ref()
            .patterns
            .iter()
            .map(|p| check_pattern(p.get_ref(), &lookups))
            .collect::<Vec<_>>()
    });
    for ((file, raw), pattern_checks) in intents_raw.into_iter().zip(pattern_checks) {
        let span = raw.span();
        let raw = raw.into_inner();
        if !intent_ids.insert(raw.id.get_ref().clone()) {
            ctx.error(
                file,
                raw.id.span(),
                format!("duplicate intent id {:?}", raw.id.get_ref()),
                "give every intent a unique id",
            );
            continue;
        }
        n_patterns += raw.patterns.len();
        n_phrases += raw.phrases.len() + raw.hints.len() + raw.negative.len();
        let env = IntentEnv {
            contacts: &contacts,
            contact_ids: &contact_ids,
            languages: &codes,
            lookups: &lookups,
            docs,
        };
        if let Some(intent) = lower_intent(ctx, file, span, raw, &env, pattern_checks) {
            intents.push(intent);
        }
    }
    if n_patterns > MAX_PATTERNS {
        ctx.error(
            settings_file,
            settings_span.clone(),
            format!("the pack has {n_patterns} patterns, more than the limit of {MAX_PATTERNS}"),
            "split the pack or turn patterns into phrases",
        );
    }
    if n_phrases > MAX_PHRASES {
        ctx.error(
            settings_file,
            settings_span,
            format!("the pack has {n_phrases} phrases, more than the limit of {MAX_PHRASES}"),
            "split the pack",
        );
    }

    let embeddings = embeddings_raw.and_then(|(file, e)| lower_embeddings(ctx, file, e));
    let model = model_raw.and_then(|(file, m)| {
        lower_model(
            ctx,
            file,
            m,
            &intents,
            embeddings.as_ref().map(|e| e.dims()),
        )
    });
    let language_of_default = languages
        .iter()
        .position(|l| l.code == default_code)
        .unwrap_or(0);
    Some(Pack {
        name: settings.name.get_ref().clone(),
        title: settings
            .title
            .clone()
            .unwrap_or_else(|| settings.name.get_ref().clone()),
        time_zone_name: settings.time_zone.get_ref().clone(),
        time_zone,
        time_zone_label: settings.time_zone_label.clone().unwrap_or_default(),
        default_language: language_of_default,
        official_domains,
        thresholds,
        languages,
        contacts,
        synonyms,
        lookups,
        intents,
        member_id_pattern,
        max_message_chars: settings.max_message_chars.unwrap_or(2000),
        dialogue,
        exceptions,
        model,
        embeddings,
        files: Vec::new(),
    })
}

/// Parses an `[embeddings]` table: every vector must decode to `dims` bytes.
fn lower_embeddings(
    ctx: &mut Ctx,
    file: usize,
    raw: Spanned<RawEmbeddings>,
) -> Option<crate::embed::Embeddings> {
    let raw = raw.into_inner();
    let dims = *raw.dims.get_ref() as usize;
    if !(1..=crate::embed::MAX_DIMS).contains(&dims) {
        ctx.error(
            file,
            raw.dims.span(),
            format!("dims is {dims}"),
            &format!("give between 1 and {} components", crate::embed::MAX_DIMS),
        );
        return None;
    }
    let mut rows = Vec::with_capacity(raw.vectors.len());
    let mut ok = true;
    for (piece, text) in raw.vectors {
        if piece.is_empty() {
            ctx.error(
                file,
                text.span(),
                "an empty piece".into(),
                "give each vector the word piece it stands for",
            );
            ok = false;
            continue;
        }
        match crate::embed::Embeddings::parse_vector(text.get_ref(), dims) {
            Ok((scale, bytes)) => rows.push((piece, scale, bytes)),
            Err(e) => {
                ctx.error(
                    file,
                    text.span(),
                    format!("vector of {piece:?}: {e}"),
                    "write a positive scale, a space, then the components as signed bytes in base64 (tools/distill_embeddings.py writes such tables)",
                );
                ok = false;
            }
        }
    }
    ok.then(|| crate::embed::Embeddings::new(dims, rows))
}

/// Checks a `[model]` table against the pack's intents and parses its weights.
fn lower_model(
    ctx: &mut Ctx,
    file: usize,
    raw: Spanned<RawModel>,
    intents: &[Intent],
    embedding_dims: Option<usize>,
) -> Option<crate::model::LinearModel> {
    let span = raw.span();
    let raw = raw.into_inner();
    let mut ok = true;
    for id in &raw.intents {
        if !intents.iter().any(|i| &i.id == id.get_ref()) {
            ctx.error(
                file,
                id.span(),
                format!(
                    "the model names intent {:?}, which the pack does not have",
                    id.get_ref()
                ),
                "retrain the model (triage import) or remove the [model] table",
            );
            ok = false;
        }
    }
    if raw.bias.len() != raw.intents.len() {
        ctx.error(
            file,
            span.clone(),
            format!(
                "the model has {} intents but {} biases",
                raw.intents.len(),
                raw.bias.len()
            ),
            "give one bias per intent, in the order of `intents`",
        );
        ok = false;
    }
    let classes = raw.intents.len() as u32;
    let mut pairs = Vec::with_capacity(raw.pairs.len());
    for p in &raw.pairs {
        match p.get_ref()[..] {
            [a, b] if a < classes && b < classes && a != b => {
                pairs.push(crate::model::Pair {
                    classes: (a, b),
                    bias: 0.0,
                });
            }
            _ => {
                ctx.error(
                    file,
                    p.span(),
                    format!(
                        "pair {:?} is not two different classes under {classes}",
                        p.get_ref()
                    ),
                    "write each pair as [first, second], classes numbered from 0 in `intents`, or retrain with `triage import`",
                );
                ok = false;
            }
        }
    }
    if raw.pair_bias.len() != raw.pairs.len() {
        ctx.error(
            file,
            span.clone(),
            format!(
                "the model has {} pairs but {} pair biases",
                raw.pairs.len(),
                raw.pair_bias.len()
            ),
            "give one pair_bias per pair, in the order of `pairs`",
        );
        ok = false;
    }
    for (p, &b) in pairs.iter_mut().zip(&raw.pair_bias) {
        p.bias = b as f32;
    }
    let pair_margin = raw.pair_margin.unwrap_or(0.0);
    if !pair_margin.is_finite() || pair_margin < 0.0 {
        ctx.error(
            file,
            span.clone(),
            format!("pair_margin is {pair_margin}"),
            "give a number of 0 or more (0: pair models never decide)",
        );
        ok = false;
    }
    let mut features = Vec::with_capacity(raw.features.len());
    for (name, row) in raw.features {
        if let Err(e) = crate::model::check_name(&name, embedding_dims) {
            ctx.error(
                file,
                row.span(),
                e,
                "retrain the model with `triage import`: feature names start with w: or c:, or are e:N for a component of the pack's [embeddings]",
            );
            ok = false;
            continue;
        }
        match crate::model::parse_row(row.get_ref(), raw.intents.len(), raw.pairs.len()) {
            Ok((idf, weights, pair_weights)) => features.push(crate::model::Feature {
                name,
                idf,
                weights,
                pair_weights,
            }),
            Err(e) => {
                ctx.error(
                    file,
                    row.span(),
                    format!("model feature {name:?}: {e}"),
                    "write the idf, then each weight as class:weight (classes numbered from 0 in `intents`), then pN:weight for pair model N",
                );
                ok = false;
            }
        }
    }
    ok.then(|| crate::model::LinearModel {
        intents: raw.intents.into_iter().map(Spanned::into_inner).collect(),
        bias: raw.bias.iter().map(|&b| b as f32).collect(),
        features,
        pairs,
        pair_margin: pair_margin as f32,
    })
}

fn lower_contact(
    ctx: &mut Ctx,
    file: usize,
    span: Range<usize>,
    raw: RawContact,
    docs: &BTreeMap<String, usize>,
    official: &[String],
    codes: &[String],
) -> Option<Contact> {
    let id = raw.id.get_ref().clone();
    if id.is_empty() || id.contains([':', '.', ' ', '{', '}']) {
        ctx.error(
            file,
            raw.id.span(),
            format!("contact id {id:?} must be non-empty without ':', '.', '{{', '}}' or spaces"),
            "rename the contact",
        );
        return None;
    }
    let kind = match raw.kind.get_ref().as_str() {
        "phone" => ContactKind::Phone,
        "fax" => ContactKind::Fax,
        "mail" => ContactKind::Mail,
        "portal" => ContactKind::Portal,
        "app" => ContactKind::App,
        "store" => ContactKind::Store,
        "email" => ContactKind::Email,
        other => {
            ctx.error(
                file,
                raw.kind.span(),
                format!("unknown contact kind {other:?}"),
                "use phone, fax, mail, portal, app, store or email",
            );
            return None;
        }
    };
    let needs = |field: &str, present: bool, ctx: &mut Ctx| {
        if !present {
            ctx.error(
                file,
                span.clone(),
                format!(
                    "contact {id:?} of kind {:?} has no {field}",
                    raw.kind.get_ref()
                ),
                &format!("add {field} = \"...\""),
            );
        }
    };
    match kind {
        ContactKind::Phone | ContactKind::Fax => needs("number", raw.number.is_some(), ctx),
        ContactKind::Mail | ContactKind::Email => needs("address", raw.address.is_some(), ctx),
        ContactKind::Portal => needs("url", raw.url.is_some(), ctx),
        ContactKind::App | ContactKind::Store => {}
    }
    if raw.source.is_none() && !raw.emergency {
        ctx.error(
            file,
            raw.id.span(),
            format!("contact {id:?} has no source"),
            "add source = { doc = \"...\", quote = \"...\" }: no fact without a citation",
        );
    }
    let source = raw
        .source
        .as_ref()
        .and_then(|s| check_source(ctx, file, s, docs));
    let verified = raw.verified.unwrap_or(true);

    // Lookalike domains: an error unless the pack marks the contact unverified.
    let mut addresses: Vec<&Spanned<String>> = Vec::new();
    addresses.extend(raw.address.iter());
    addresses.extend(raw.url.iter());
    for a in addresses {
        for d in domain::find_domains(a.get_ref()) {
            if let Some(o) = domain::lookalike_of(&d, official)
                && verified
            {
                ctx.error(
                    file,
                    a.span(),
                    format!("{d} looks like the official domain {o} but is not one"),
                    "never offer it to members: mark the contact verified = false, or fix the address",
                );
            }
        }
    }

    let hours = raw.hours.as_ref().and_then(|h| lower_hours(ctx, file, h));
    let contact_route = raw.route.clone().unwrap_or_else(|| id.clone());
    let mut options: Vec<MenuOption> = Vec::new();
    for o in raw.option {
        let o_span = o.span();
        let o = o.into_inner();
        let key = o.key.get_ref().clone();
        if options.iter().any(|x| x.key == key) {
            ctx.error(
                file,
                o.key.span(),
                format!("menu option {key:?} of {id:?} is declared twice"),
                "keep one entry per key",
            );
            continue;
        }
        let what = format!("menu option {key:?} of {id:?}");
        let source = cited(ctx, file, o_span, &what, o.source.as_ref(), docs);
        let labels = localized(&o.label, &o.labels, codes);
        options.push(MenuOption {
            route: o
                .route
                .clone()
                .unwrap_or_else(|| format!("{contact_route}:{key}")),
            key,
            labels,
            source,
        });
    }
    let mut actions: Vec<ContactAction> = Vec::new();
    for a in raw.action {
        let a_span = a.span();
        let a = a.into_inner();
        let action_id = a.id.get_ref().clone();
        if actions.iter().any(|x| x.id == action_id) || options.iter().any(|o| o.key == action_id) {
            ctx.error(
                file,
                a.id.span(),
                format!("action {action_id:?} of {id:?} is declared twice"),
                "keep one entry per action id",
            );
            continue;
        }
        let what = format!("action {action_id:?} of {id:?}");
        let source = cited(ctx, file, a_span, &what, a.source.as_ref(), docs);
        let hours = a.hours.as_ref().and_then(|h| lower_hours(ctx, file, h));
        let labels = localized(&a.label, &a.labels, codes);
        actions.push(ContactAction {
            route: a.route.clone().unwrap_or_else(|| contact_route.clone()),
            id: action_id,
            labels,
            steps: a.steps.clone(),
            hours,
            source,
        });
    }
    Some(Contact {
        id,
        kind,
        name: raw.name,
        route: contact_route,
        number: raw.number.map(Spanned::into_inner),
        tty: raw.tty,
        emergency: raw.emergency,
        address: raw.address.map(Spanned::into_inner),
        url: raw.url.map(Spanned::into_inner),
        verified,
        hours,
        when_closed: None,
        options,
        actions,
        source,
        loc: Loc { file, span },
    })
}

fn lower_dialogue(
    ctx: &mut Ctx,
    raw: Option<(usize, RawDialogue)>,
    contacts: &[Contact],
    contact_ids: &HashMap<String, usize>,
) -> Dialogue {
    let Some((file, raw)) = raw else {
        return Dialogue {
            misses_before_human: 2,
            ..Dialogue::default()
        };
    };
    let human = raw
        .human
        .as_ref()
        .and_then(|h| resolve_target(ctx, file, h, contacts, contact_ids));
    let call_routes = raw
        .call_routes
        .iter()
        .filter_map(|(context, route)| {
            let t = resolve_target(ctx, file, route, contacts, contact_ids)?;
            if contacts[t.contact].kind != ContactKind::Phone {
                ctx.error(
                    file,
                    route.span(),
                    format!("call_routes.{context} must lead to a phone line"),
                    "name a phone contact, e.g. \"tty\"",
                );
                return None;
            }
            Some((context.clone(), t))
        })
        .collect();
    Dialogue {
        human,
        misses_before_human: raw.misses_before_human.unwrap_or(2).max(1),
        call_routes,
    }
}

fn lower_exceptions(
    ctx: &mut Ctx,
    raws: Vec<(usize, Spanned<RawException>)>,
    contacts: &[Contact],
    contact_ids: &HashMap<String, usize>,
    docs: &BTreeMap<String, usize>,
) -> Vec<HoursException> {
    let mut out = Vec::new();
    for (file, raw) in raws {
        let span = raw.span();
        let raw = raw.into_inner();
        let Ok(date) = raw.date.get_ref().parse::<jiff::civil::Date>() else {
            ctx.error(
                file,
                raw.date.span(),
                format!("cannot read the date {:?}", raw.date.get_ref()),
                "write the date as YYYY-MM-DD",
            );
            continue;
        };
        let mut ids = Vec::new();
        for c in &raw.contacts {
            match contact_ids.get(c.get_ref()) {
                Some(&i) if contacts[i].hours.is_some() => ids.push(i),
                Some(_) => ctx.error(
                    file,
                    c.span(),
                    format!(
                        "contact {:?} has no hours to make an exception to",
                        c.get_ref()
                    ),
                    "list contacts that have hours",
                ),
                None => ctx.error(
                    file,
                    c.span(),
                    format!("unknown contact {:?}", c.get_ref()),
                    "use a contact id of the pack",
                ),
            }
        }
        let hours = match (&raw.open, &raw.close) {
            (None, None) => None,
            (Some(open), Some(close)) => match Hours::weekly("daily", open, close) {
                Ok(Hours::Weekly { open, close, .. }) => Some((open, close)),
                Ok(Hours::Always) => None,
                Err(e) => {
                    ctx.error(
                        file,
                        span.clone(),
                        format!("invalid hours: {e}"),
                        "fix open and close",
                    );
                    continue;
                }
            },
            _ => {
                ctx.error(
                    file,
                    span.clone(),
                    "an exception needs both open and close, or neither (closed all day)".into(),
                    "add the missing time",
                );
                continue;
            }
        };
        let what = format!("exception {:?}", raw.name);
        cited(ctx, file, span, &what, raw.source.as_ref(), docs);
        out.push(HoursException {
            date,
            name: raw.name,
            contacts: ids,
            hours,
        });
    }
    out
}

/// Answer templates in every declared language (missing ones are errors, left
/// empty).
fn lower_answers(
    ctx: &mut Ctx,
    file: usize,
    raw: &BTreeMap<Spanned<String>, Spanned<String>>,
    tenv: &TemplateEnv<'_>,
    languages: &[String],
    at: Range<usize>,
    what: &str,
) -> Vec<Template> {
    let mut answers: Vec<Option<Template>> = vec![None; languages.len()];
    for (code, text) in raw {
        let Some(i) = languages.iter().position(|l| l == code.get_ref()) else {
            ctx.error(
                file,
                code.span(),
                format!("answer in undeclared language {:?}", code.get_ref()),
                &format!("declared languages: {}", languages.join(", ")),
            );
            continue;
        };
        answers[i] = parse_template(ctx, file, text, Some(tenv), &[]);
    }
    for (i, code) in languages.iter().enumerate() {
        if answers[i].is_none() && !raw.keys().any(|k| k.get_ref() == code) {
            ctx.error(
                file,
                at.clone(),
                format!("{what} has no answer in {code:?}"),
                &format!("add answer.{code} = \"...\""),
            );
        }
    }
    answers.into_iter().map(Option::unwrap_or_default).collect()
}

/// A text in every language, default first, falling back to the default text.
fn localized(default: &str, others: &BTreeMap<String, String>, codes: &[String]) -> Vec<String> {
    codes
        .iter()
        .enumerate()
        .map(|(i, code)| {
            if i == 0 {
                default.to_string()
            } else {
                others
                    .get(code)
                    .cloned()
                    .unwrap_or_else(|| default.to_string())
            }
        })
        .collect()
}

fn lower_hours(ctx: &mut Ctx, file: usize, h: &Spanned<RawHours>) -> Option<Hours> {
    let raw = h.get_ref();
    if raw.always {
        return Some(Hours::Always);
    }
    let (Some(days), Some(open), Some(close)) = (&raw.days, &raw.open, &raw.close) else {
        ctx.error(
            file,
            h.span(),
            "hours need either always = true or days, open and close".into(),
            "write hours = { days = \"mon-sat\", open = \"08:00\", close = \"20:00\" }",
        );
        return None;
    };
    match Hours::weekly(days, open, close) {
        Ok(h) => Some(h),
        Err(e) => {
            ctx.error(
                file,
                h.span(),
                format!("invalid hours: {e}"),
                "fix the hours",
            );
            None
        }
    }
}

/// Collapses whitespace so a quote may wrap differently from its document.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A source that must be there: an error when it is missing, else [`check_source`].
fn cited(
    ctx: &mut Ctx,
    file: usize,
    span: Range<usize>,
    what: &str,
    source: Option<&RawSource>,
    docs: &BTreeMap<String, usize>,
) -> Option<Source> {
    let Some(s) = source else {
        ctx.error(
            file,
            span,
            format!("{what} has no source"),
            "add source = { doc = \"...\", quote = \"...\" }: no fact without a citation",
        );
        return None;
    };
    check_source(ctx, file, s, docs)
}

fn check_source(
    ctx: &mut Ctx,
    file: usize,
    s: &RawSource,
    docs: &BTreeMap<String, usize>,
) -> Option<Source> {
    let Some(&doc_file) = docs.get(s.doc.get_ref()) else {
        let known: Vec<&str> = docs.keys().map(String::as_str).collect();
        ctx.error(
            file,
            s.doc.span(),
            format!(
                "source document {:?} is not in the pack's sources/ folder",
                s.doc.get_ref()
            ),
            &format!("known documents: {}", known.join(", ")),
        );
        return None;
    };
    let doc_text = ctx
        .squashed
        .entry(doc_file)
        .or_insert_with(|| squash(&ctx.files[doc_file].1));
    if s.quote.get_ref().trim().is_empty() || !doc_text.contains(&squash(s.quote.get_ref())) {
        ctx.error(
            file,
            s.quote.span(),
            format!("quote not found verbatim in {}", s.doc.get_ref()),
            "copy the quote exactly from the source document",
        );
        return None;
    }
    Some(Source {
        doc: s.doc.get_ref().clone(),
        quote: s.quote.get_ref().clone(),
    })
}

fn lower_language(
    ctx: &mut Ctx,
    file: usize,
    code: Spanned<String>,
    raw: RawLanguage,
    contacts: &[Contact],
    contact_ids: &HashMap<String, usize>,
    word_lists: &BTreeMap<String, usize>,
) -> Option<Language> {
    let stemmer = match raw.stemmer.get_ref().as_str() {
        "english" => rust_stemmers::Algorithm::English,
        "spanish" => rust_stemmers::Algorithm::Spanish,
        "french" => rust_stemmers::Algorithm::French,
        "german" => rust_stemmers::Algorithm::German,
        "portuguese" => rust_stemmers::Algorithm::Portuguese,
        "italian" => rust_stemmers::Algorithm::Italian,
        "dutch" => rust_stemmers::Algorithm::Dutch,
        other => {
            ctx.error(
                file,
                raw.stemmer.span(),
                format!("unknown stemmer {other:?}"),
                "use english, spanish, french, german, portuguese, italian or dutch",
            );
            return None;
        }
    };
    let route = raw
        .route
        .as_ref()
        .and_then(|r| resolve_target(ctx, file, r, contacts, contact_ids));
    let env = TemplateEnv {
        contacts,
        contact_ids,
    };
    let messages = lower_messages(ctx, file, &raw.messages, &env)?;
    let folded = |v: &[String]| v.iter().map(|w| fold(w).trim().to_string()).collect();
    let mut dictionary = None;
    if let Some(d) = &raw.dictionary {
        match word_lists.get(d.get_ref().trim_start_matches("./")) {
            // Sorting is checked by `triage check`: loading stays cheap.
            Some(&i) => dictionary = Some(i),
            None => ctx.error(
                file,
                d.span(),
                format!("dictionary {:?} is not in the pack folder", d.get_ref()),
                "give a path relative to the pack folder, e.g. dictionary/en.txt",
            ),
        }
    }
    Some(Language {
        code: code.into_inner(),
        name: raw.name,
        stemmer,
        markers: folded(&raw.markers),
        negators: folded(&raw.negators),
        clause_breaks: folded(&raw.clause_breaks),
        check_words: folded(&raw.check_words),
        retract_before: folded(&raw.retract_before),
        retract_clause: folded(&raw.retract_clause),
        follow_up_cues: folded(&raw.follow_up_cues),
        past_markers: folded(&raw.past_markers),
        present_markers: folded(&raw.present_markers),
        route,
        dictionary,
        messages,
    })
}

fn lower_messages(
    ctx: &mut Ctx,
    file: usize,
    m: &RawMessages,
    env: &TemplateEnv<'_>,
) -> Option<Messages> {
    let vars = [
        "name", "contact", "hours", "opens", "language", "number", "option", "label", "url",
        "reason",
    ];
    let mut t = |s: &Spanned<String>| parse_template(ctx, file, s, Some(env), &vars);
    let fallback = t(&m.fallback);
    let clarify = t(&m.clarify);
    let pii = t(&m.pii);
    let scam = t(&m.scam);
    let lookalike = t(&m.lookalike);
    let closed = t(&m.closed);
    let truncated = t(&m.truncated);
    let language_route = m.language_route.as_ref().map(&mut t);
    let human = m.human.as_ref().map(&mut t);
    let follow_hours = m.follow_hours.as_ref().map(&mut t);
    let follow_number = m.follow_number.as_ref().map(&mut t);
    let follow_option = m.follow_option.as_ref().map(&mut t);
    let follow_open = m.follow_open.as_ref().map(&mut t);
    let follow_online = m.follow_online.as_ref().map(&mut t);
    let follow_offline = m.follow_offline.as_ref().map(&mut t);
    let follow_app = m.follow_app.as_ref().map(&mut t);
    let follow_no_hours = m.follow_no_hours.as_ref().map(&mut t);
    let meanwhile = m.meanwhile.as_ref().map(&mut t);
    let holiday = m.holiday.as_ref().map(&mut t);
    if m.days.len() != 7 {
        ctx.error(
            file,
            m.fallback.span(),
            format!("messages.days has {} names, not 7", m.days.len()),
            "list the weekday names Monday first",
        );
    }
    Some(Messages {
        fallback: fallback?,
        clarify: clarify?,
        pii: pii?,
        scam: scam?,
        lookalike: lookalike?,
        closed: closed?,
        truncated: truncated?,
        language_route: present(language_route)?,
        human: present(human)?,
        follow_hours: present(follow_hours)?,
        follow_number: present(follow_number)?,
        follow_option: present(follow_option)?,
        follow_open: present(follow_open)?,
        follow_online: present(follow_online)?,
        follow_offline: present(follow_offline)?,
        follow_app: present(follow_app)?,
        follow_no_hours: present(follow_no_hours)?,
        meanwhile: present(meanwhile)?,
        holiday: present(holiday)?,
        days: m.days.clone(),
        always_open: m.always_open.clone(),
    })
}

fn resolve_target(
    ctx: &mut Ctx,
    file: usize,
    s: &Spanned<String>,
    contacts: &[Contact],
    contact_ids: &HashMap<String, usize>,
) -> Option<Target> {
    match target_of(s.get_ref(), contacts, contact_ids) {
        Ok(t) => Some(t),
        Err(e) => {
            ctx.error(file, s.span(), e.0, &e.1);
            None
        }
    }
}

/// Resolves `contact` or `contact:key` to a target, or (message, help).
fn target_of(
    text: &str,
    contacts: &[Contact],
    contact_ids: &HashMap<String, usize>,
) -> Result<Target, (String, String)> {
    let (contact_id, key) = match text.split_once(':') {
        Some((c, k)) => (c, Some(k)),
        None => (text, None),
    };
    let Some(&ci) = contact_ids.get(contact_id) else {
        let mut known: Vec<&str> = contact_ids.keys().map(String::as_str).collect();
        known.sort_unstable();
        return Err((
            format!("unknown contact {contact_id:?}"),
            format!("use one of: {}", known.join(", ")),
        ));
    };
    let contact = &contacts[ci];
    let sub = match key {
        None => Sub::None,
        Some(k) => {
            if let Some(i) = contact.options.iter().position(|o| o.key == k) {
                Sub::Option(i)
            } else if let Some(i) = contact.actions.iter().position(|a| a.id == k) {
                Sub::Action(i)
            } else {
                let mut known: Vec<&str> = contact.options.iter().map(|o| o.key.as_str()).collect();
                known.extend(contact.actions.iter().map(|a| a.id.as_str()));
                return Err((
                    format!("contact {contact_id:?} has no menu option or action {k:?}"),
                    format!("use one of: {}", known.join(", ")),
                ));
            }
        }
    };
    Ok(Target { contact: ci, sub })
}

/// What templates of an intent may refer to.
struct TemplateEnv<'a> {
    contacts: &'a [Contact],
    contact_ids: &'a HashMap<String, usize>,
}

fn parse_template(
    ctx: &mut Ctx,
    file: usize,
    s: &Spanned<String>,
    env: Option<&TemplateEnv<'_>>,
    vars: &[&str],
) -> Option<Template> {
    let text = s.get_ref();
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = text.as_str();
    let mut ok = true;
    while let Some(open) = rest.find('{') {
        literal.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        if let Some(stripped) = after.strip_prefix('{') {
            literal.push('{');
            rest = stripped;
            continue;
        }
        let Some(close) = after.find('}') else {
            ctx.error(
                file,
                s.span(),
                "unclosed '{' in text".into(),
                "write {{ for a literal brace",
            );
            return None;
        };
        let name = &after[..close];
        rest = &after[close + 1..];
        if !literal.is_empty() {
            parts.push(TemplatePart::Text(std::mem::take(&mut literal)));
        }
        if vars.contains(&name) {
            parts.push(TemplatePart::Var(name.to_string()));
            continue;
        }
        let resolved = env.ok_or_else(|| {
            (
                format!("unknown placeholder {{{name}}}"),
                format!(
                    "use one of: {}",
                    vars.iter()
                        .map(|v| format!("{{{v}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        });
        let part = resolved.and_then(|env| {
            let (target_text, field) = name.rsplit_once('.').ok_or_else(|| {
                (
                    format!("placeholder {{{name}}} is not contact.field"),
                    "write {contact.number} or {contact:option.label}".to_string(),
                )
            })?;
            let target = target_of(target_text, env.contacts, env.contact_ids)?;
            let field = match field {
                "number" => Field::Number,
                "hours" => Field::Hours,
                "address" => Field::Address,
                "url" => Field::Url,
                "name" => Field::Name,
                "label" => Field::Label,
                "key" => Field::Key,
                other => {
                    return Err((
                        format!("unknown field {other:?} in {{{name}}}"),
                        "use number, hours, address, url, name, label or key".to_string(),
                    ));
                }
            };
            let contact = &env.contacts[target.contact];
            let has = match field {
                Field::Number => contact.number.is_some(),
                Field::Address => contact.address.is_some(),
                Field::Url => contact.url.is_some(),
                Field::Hours => contact.hours.is_some() || matches!(target.sub, Sub::Action(i) if contact.actions[i].hours.is_some()),
                Field::Label | Field::Key => target.sub != Sub::None,
                Field::Name => true,
            };
            if !has {
                return Err((
                    format!("{{{name}}}: contact {:?} has no such value", contact.id),
                    "add the value to the contact or change the placeholder".to_string(),
                ));
            }
            if !contact.verified {
                return Err((
                    format!("{{{name}}} states an unverified contact"),
                    "unverified contacts are never offered to members".to_string(),
                ));
            }
            Ok(TemplatePart::Field(target, field))
        });
        match part {
            Ok(p) => parts.push(p),
            Err((message, help)) => {
                let span = narrow(&ctx.files[file].1, s.span(), &format!("{{{name}}}"));
                ctx.error(file, span, message, &help);
                ok = false;
            }
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(TemplatePart::Text(literal));
    }
    ok.then_some(Template { parts })
}

/// The span of `needle` inside `span` of `source`, or `span` itself.
fn narrow(source: &str, span: Range<usize>, needle: &str) -> Range<usize> {
    source
        .get(span.clone())
        .and_then(|text| text.find(needle))
        .map_or(span.clone(), |i| {
            span.start + i..span.start + i + needle.len()
        })
}

struct IntentEnv<'a> {
    contacts: &'a [Contact],
    contact_ids: &'a HashMap<String, usize>,
    languages: &'a [String],
    lookups: &'a [Lookup],
    docs: &'a BTreeMap<String, usize>,
}

fn lower_intent(
    ctx: &mut Ctx,
    file: usize,
    span: Range<usize>,
    raw: RawIntent,
    env: &IntentEnv<'_>,
    pattern_checks: Vec<Result<(), PatternProblem>>,
) -> Option<Intent> {
    let id = raw.id.get_ref().clone();
    let valid_id = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid_id {
        ctx.error(
            file,
            raw.id.span(),
            format!("intent id {id:?} must be lowercase ASCII letters, digits or _"),
            "rename the intent",
        );
    }
    let outcome = match raw.outcome.as_ref().map(|o| o.get_ref().as_str()) {
        None | Some("answer") => IntentOutcome::Answer,
        Some("emergency") => IntentOutcome::Emergency,
        Some("decline") => IntentOutcome::Decline,
        Some(other) => {
            ctx.error(
                file,
                raw.outcome.as_ref().map_or(span.clone(), Spanned::span),
                format!("unknown outcome {other:?}"),
                "use answer, emergency or decline",
            );
            return None;
        }
    };
    let follow_up = match raw.follow_up.as_ref().map(|f| f.get_ref().as_str()) {
        None => None,
        Some("hours") => Some(FollowUp::Hours),
        Some("number") => Some(FollowUp::Number),
        Some("open_now") => Some(FollowUp::OpenNow),
        Some("online") => Some(FollowUp::Online),
        Some(other) => {
            ctx.error(
                file,
                raw.follow_up.as_ref().map_or(span.clone(), Spanned::span),
                format!("unknown follow_up {other:?}"),
                "use hours, number, open_now or online",
            );
            None
        }
    };
    let resolve = |s: &Spanned<String>, ctx: &mut Ctx| -> Option<Target> {
        let t = resolve_target(ctx, file, s, env.contacts, env.contact_ids)?;
        let contact = &env.contacts[t.contact];
        if !contact.verified {
            ctx.error(
                file,
                s.span(),
                format!(
                    "route {:?} leads to the unverified contact {:?}",
                    s.get_ref(),
                    contact.id
                ),
                "unverified contacts are never offered: route to a verified contact",
            );
            return None;
        }
        if contact.emergency != (outcome == IntentOutcome::Emergency) {
            let message = if contact.emergency {
                format!(
                    "intent {id:?} routes to the emergency contact {:?} but is not outcome = \"emergency\"",
                    contact.id
                )
            } else {
                format!(
                    "emergency intent {id:?} routes to {:?}, which is not an emergency contact",
                    contact.id
                )
            };
            ctx.error(
                file,
                s.span(),
                message,
                "emergencies go to emergency numbers and nothing else",
            );
            return None;
        }
        Some(t)
    };
    let route = match &raw.route {
        Some(r) => resolve(r, ctx),
        None => {
            if outcome != IntentOutcome::Decline {
                ctx.error(
                    file,
                    raw.id.span(),
                    format!("intent {id:?} has no route"),
                    "add route = \"contact\" or \"contact:option\"",
                );
            }
            None
        }
    };
    let also: Vec<Target> = raw.also.iter().filter_map(|a| resolve(a, ctx)).collect();
    let tenv = TemplateEnv {
        contacts: env.contacts,
        contact_ids: env.contact_ids,
    };
    let mut when: Vec<(String, Target)> = Vec::new();
    let mut when_answers: Vec<Vec<Template>> = Vec::new();
    for w in &raw.when {
        let Some(target) = resolve(&w.route, ctx) else {
            continue;
        };
        // A context route is said in its own words: the intent's answer names
        // the intent's own route ("press 2"), which would misdirect here.
        let what = format!("the {:?} route of intent {id:?}", w.context.get_ref());
        let answers = lower_answers(
            ctx,
            file,
            &w.answer,
            &tenv,
            env.languages,
            w.route.span(),
            &what,
        );
        when.push((w.context.get_ref().clone(), target));
        when_answers.push(answers);
    }

    // Patterns: each checked alone (see `check_pattern`) for a precise message.
    let mut patterns = Vec::new();
    for (p, check) in raw.patterns.iter().zip(pattern_checks) {
        match check {
            Ok(()) => patterns.push(p.get_ref().clone()),
            Err(PatternProblem::TooLong(len)) => ctx.error(
                file,
                p.span().start..p.span().start + 1,
                format!("pattern is {len} bytes long, more than the limit of {MAX_PATTERN_LEN}"),
                "put long lists of terms in a [lookup.NAME] and write {@NAME} in the pattern",
            ),
            Err(PatternProblem::UnknownLookup(name)) => ctx.error(
                file,
                p.span(),
                format!("pattern uses unknown lookup @{name}"),
                "declare [lookup.NAME] or fix the name",
            ),
            Err(PatternProblem::Invalid(message)) => ctx.error(
                file,
                p.span(),
                format!("invalid regex: {message}"),
                "patterns run over lowercase ASCII text; fix the regex",
            ),
        }
    }
    for list in [&raw.phrases, &raw.hints, &raw.negative, &raw.examples] {
        for item in list {
            for name in lookup_refs(item.get_ref()) {
                if !env.lookups.iter().any(|l| l.name == name) {
                    ctx.error(
                        file,
                        item.span(),
                        format!("unknown lookup @{name}"),
                        "declare [lookup.NAME] or fix the name",
                    );
                }
            }
            // An ASCII letter or digit survives folding: only other texts are folded.
            let text = item.get_ref();
            if !text.bytes().any(|b| b.is_ascii_alphanumeric()) && fold(text).trim().is_empty() {
                ctx.error(
                    file,
                    item.span(),
                    "empty phrase or example".into(),
                    "remove it",
                );
            }
        }
    }
    if raw.phrases.is_empty()
        && raw.hints.is_empty()
        && raw.patterns.is_empty()
        && raw.examples.is_empty()
    {
        ctx.error(
            file,
            raw.id.span(),
            format!("intent {id:?} has no way to match"),
            "add phrases, patterns or examples",
        );
    }

    let warnings: Vec<Warning> = raw
        .warnings
        .iter()
        .filter_map(|w| match Warning::parse(w.get_ref()) {
            Some(x) => Some(x),
            None => {
                ctx.error(
                    file,
                    w.span(),
                    format!("unknown warning {:?}", w.get_ref()),
                    "use scam, lookalike_domain or unverified_contact",
                );
                None
            }
        })
        .collect();

    // Answers in every language the pack declares.
    let what = format!("intent {id:?}");
    let answers = lower_answers(
        ctx,
        file,
        &raw.answer,
        &tenv,
        env.languages,
        raw.id.span(),
        &what,
    );
    let source = raw
        .source
        .as_ref()
        .and_then(|s| check_source(ctx, file, s, env.docs));
    let titles = localized(&raw.title, &raw.titles, env.languages);
    let strings = |v: &[Spanned<String>]| v.iter().map(|s| s.get_ref().clone()).collect::<Vec<_>>();
    Some(Intent {
        id,
        titles,
        outcome,
        route,
        also,
        priority: raw.priority,
        phrases: strings(&raw.phrases),
        hints: strings(&raw.hints),
        patterns,
        examples: strings(&raw.examples),
        negative: strings(&raw.negative),
        warnings,
        sets_context: raw.sets_context.clone(),
        keep_route: raw.keep_route,
        follow_up,
        when,
        answers,
        when_answers,
        source,
        loc: Loc { file, span },
        phrase_locs: raw
            .phrases
            .iter()
            .map(|p| Loc {
                file,
                span: p.span(),
            })
            .collect(),
        example_locs: raw
            .examples
            .iter()
            .map(|p| Loc {
                file,
                span: p.span(),
            })
            .collect(),
    })
}

/// Why a pattern is rejected.
enum PatternProblem {
    /// Longer than [`MAX_PATTERN_LEN`] bytes.
    TooLong(usize),
    /// `{@name}` names no lookup.
    UnknownLookup(String),
    /// Not a regex: the parser's message.
    Invalid(String),
}

/// Checks one pattern on its own: its length, its lookups, and its syntax.
/// Parsing is enough to report syntax errors at the pattern; the matcher
/// compiles the patterns later (and reports size limits).
fn check_pattern(pattern: &str, lookups: &[Lookup]) -> Result<(), PatternProblem> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(PatternProblem::TooLong(pattern.len()));
    }
    let expanded = expand_lookups(pattern, lookups).map_err(PatternProblem::UnknownLookup)?;
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(&expanded)
        .map(drop)
        .map_err(|e| PatternProblem::Invalid(e.to_string().replace('\n', " ")))
}

/// Names of `@lookup` references in a phrase.
fn lookup_refs(text: &str) -> Vec<&str> {
    if !text.contains('@') {
        return Vec::new();
    }
    text.split_whitespace()
        .filter_map(|w| w.strip_prefix('@'))
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_'))
        .collect()
}

/// Checks that every `{@name}` of a pattern names a lookup, and returns the
/// pattern as the matcher compiles it (`{@name}` becomes the class word `c_name`).
fn expand_lookups(pattern: &str, lookups: &[Lookup]) -> Result<String, String> {
    let mut rest = pattern;
    while let Some(start) = rest.find("{@") {
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| after.to_string())?;
        let name = &after[..end];
        if !lookups.iter().any(|l| l.name == name) {
            return Err(name.to_string());
        }
        rest = &after[end + 1..];
    }
    Ok(crate::matcher::expand_lookups(pattern))
}

/// An optional template: `Some(None)` when absent, `None` when it failed to parse.
fn present<T>(parsed: Option<Option<T>>) -> Option<Option<T>> {
    match parsed {
        None => Some(None),
        Some(None) => None,
        Some(Some(t)) => Some(Some(t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_lookups_in_patterns() {
        let lookups = vec![Lookup {
            name: "pills".into(),
            terms: vec!["pill".into(), "sleeping pills".into()],
        }];
        assert_eq!(
            expand_lookups(r"\btook {@pills}\b", &lookups).expect("known"),
            r"\btook c_pills\b"
        );
        assert_eq!(expand_lookups("{@nope}", &lookups), Err("nope".to_string()));
    }

    #[test]
    fn finds_lookup_references() {
        assert_eq!(
            lookup_refs("my @specialty_drug, shipped"),
            vec!["specialty_drug"]
        );
    }
}
