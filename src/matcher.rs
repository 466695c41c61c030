//! The compiled index of a pack and the scoring of one analysed message.
//!
//! One aho-corasick automaton holds every phrase of every intent (as stem strings),
//! one `RegexSet` every pattern, and an inverted index every example's TF-IDF
//! features. Scoring a message is one scan of each plus a walk over the postings of
//! the message's own features, so its cost does not grow like a loop over rules.
//!
//! **Invariant:** the matcher never sees raw text: only [`Analyzed`] tokens.

use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashMap as HashMap, FxHasher};

use aho_corasick::{AhoCorasick, MatchKind};
use regex::bytes::{RegexSet, RegexSetBuilder};
use regex_automata::{Anchored, Input, meta};
use regex_syntax::hir::{Capture, Hir, HirKind, Repetition};
use serde::Serialize;

use crate::analyze::{Analyzed, Analyzer, Token};
use crate::pack::{IntentOutcome, Pack};

/// Kinds of evidence for (or against) an intent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// A strong phrase matched.
    Phrase,
    /// A weak phrase matched.
    Hint,
    /// A regex pattern matched.
    Pattern,
    /// The message is similar to an example.
    Example,
    /// A negative phrase matched.
    Negative,
    /// A phrase or pattern matched inside a negation ("not a billing question").
    Negated,
    /// The pack's linear model gives the intent this probability.
    Model,
}

/// One piece of evidence with its weight.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evidence<'p> {
    /// What fired.
    pub kind: EvidenceKind,
    /// The phrase, pattern or example text (borrowed from the pack).
    pub detail: &'p str,
    /// Its weight towards (or, for negative kinds, against) the intent.
    pub weight: f64,
}

/// An intent with its confidence and the evidence behind it.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate<'p> {
    /// Index into `Pack::intents`.
    pub intent: usize,
    /// Confidence in [0, 1].
    pub score: f64,
    /// What fired.
    pub evidence: Vec<Evidence<'p>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PhraseKind {
    Strong,
    Hint,
    Negative,
}

#[derive(Clone, Debug)]
struct PhraseRef {
    intent: u32,
    kind: PhraseKind,
    n_tokens: u16,
    /// Index of the phrase text in the intent's list.
    text_idx: u32,
}

/// The compiled matching index of a pack.
pub struct Index {
    phrases: PhraseMatcher,
    phrase_refs: Vec<Vec<PhraseRef>>,
    /// Every pattern alone (expanded), to confirm a candidate and locate its
    /// match; compiled on first use so that loading a pack stays fast.
    pattern_regexes: Vec<std::sync::OnceLock<Option<PatternRegex>>>,
    pattern_sources: Vec<String>,
    /// Every pattern literal, prefix or required, in one automaton: one scan
    /// finds both where candidates start and which required literals are
    /// where. `literal_roles[id]`: its prefix literal id and its required
    /// literal id ([`NO_LITERAL`] when it is not one).
    literals: AhoCorasick,
    literal_roles: Vec<(u32, u32)>,
    /// Per prefix literal, the patterns it starts (a pattern can only match
    /// where one of its prefix literals starts):
    /// `anchor_entries[anchor_start[literal]..anchor_start[literal + 1]]`.
    anchor_start: Vec<u32>,
    anchor_entries: Vec<AnchorEntry>,
    /// The patterns without usable prefix literals, scanned as one `RegexSet`.
    unanchored: RegexSet,
    unanchored_ids: Vec<u32>,
    /// Every pattern's required parts (literals some part of a match must
    /// hold): a candidate is run only if the message holds one literal of each
    /// part, where a match from the candidate's start could have it, so a
    /// common first word does not cost a regex run per pattern. One record each (see
    /// [`Index::satisfiable`]), so a candidate costs one read.
    need_records: Vec<u32>,
    /// Where each pattern's record starts in `need_records`.
    need_at: Vec<u32>,
    pattern_intents: Vec<(u32, u32)>,
    /// The example half: TF-IDF vectors, postings, level tables, forward lists.
    examples: Examples,
    model: Option<CompiledModel>,
    n_intents: usize,
}

/// Below this cosine similarity an example is no evidence
/// ([`similarity_weight`] is zero), which is what lets the scorer skip examples.
const SIMILARITY_FLOOR: f32 = 0.12;

/// Postings the example scorer walks per message before it starts cutting the
/// light tails of the walks (see [`Index::best_examples`]). The default pack needs
/// a few hundred; only packs of thousands of intents reach it.
const EXAMPLE_WORK_BUDGET: usize = 2_048;

/// At most this many examples (the best by their strong features) have their
/// weak features looked up and stay candidates; each lookup is a cache miss
/// into the example's feature list. On the default pack's labelled messages a
/// message reaches 20 examples at the median and 42 at the 90th percentile, and
/// routing is the same with 32 as with 128; on a 10,000-intent pack the best
/// intent by example is the same with 32 as with 128, and respond is 22 % faster.
const RESOLVED_MAX: usize = 32;

thread_local! {
    /// The similarity accumulator, one slot per example, kept between messages
    /// (all zero between uses) so a large pack costs no allocation per message.
    static DOTS: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("phrases", &self.phrase_refs.len())
            .field("patterns", &self.pattern_intents.len())
            .field("unanchored_patterns", &self.unanchored_ids.len())
            .field("examples", &self.n_examples())
            .field("features", &(self.examples.info.len() - 1))
            .finish_non_exhaustive()
    }
}

/// Weight of a strong phrase of `n` tokens.
fn phrase_weight(n: u16) -> f64 {
    match n {
        0 | 1 => 0.6,
        2 => 0.72,
        _ => 0.8,
    }
}
const HINT_WEIGHT: f64 = 0.25;
const HINTS_CAP: f64 = 0.4;
const PATTERN_WEIGHT: f64 = 0.8;
const NEGATIVE_FACTOR: f64 = 0.5;

/// Features of an analysed text for the similarity scorer, hashed: content stems
/// (negated ones marked) and adjacent stem pairs unless both are function words.
fn features(tokens: &[Token], out: &mut Vec<u64>) {
    out.clear();
    let mut prev: Option<(u64, bool)> = None;
    for t in tokens {
        let f = unigram_hash(t.negated, &t.stem);
        if let Some((p, p_stop)) = prev
            && !(p_stop && t.stop)
        {
            out.push(bigram_hash(p, f));
        }
        // Function words alone say nothing about the topic: "how do I apply for"
        // must not make two messages similar.
        if !t.stop {
            out.push(f);
        }
        prev = Some((f, t.stop));
    }
}

/// One half of the features while the ids are assigned: hash → id, document
/// frequencies, and the ids of the half's features in example order.
type FeatureHalf = (HashMap<u64, u32>, Vec<u32>, Vec<u32>);

/// Feature hash → id, in two halves by the hash's top bit (built in parallel):
/// the high half's ids follow the low half's.
#[derive(Default)]
struct FeatureIds {
    halves: [HashMap<u64, u32>; 2],
    offset: u32,
}

impl FeatureIds {
    fn get(&self, f: &u64) -> Option<u32> {
        if f >> 63 == 0 {
            self.halves[0].get(f).copied()
        } else {
            self.halves[1].get(f).map(|id| id + self.offset)
        }
    }
}

fn unigram_hash(negated: bool, stem: &crate::analyze::Word) -> u64 {
    let mut h = FxHasher::default();
    negated.hash(&mut h);
    stem.hash(&mut h);
    h.finish()
}

fn bigram_hash(first: u64, second: u64) -> u64 {
    let mut h = FxHasher::default();
    (first, second, 0xB16u16).hash(&mut h);
    h.finish()
}

/// A pack's linear model, ready to score: a dense row of class weights per feature.
struct CompiledModel {
    /// Feature name hash → row.
    rows: HashMap<u64, u32>,
    idf: Vec<f32>,
    /// Whether each row is a character piece.
    chars: Vec<bool>,
    /// Row-major: the weight of each class for each row.
    weights: Vec<f32>,
    /// Each row's feature, by position in the pack's model.
    feature_of_row: Vec<u32>,
    bias: Vec<f32>,
    /// The intent of each class.
    intents: Vec<u32>,
    /// The pair models: (first class, second class) → pair number; per pair its
    /// bias and its (row, weight), sorted by row.
    pairs: HashMap<(u32, u32), u32>,
    pair_bias: Vec<f32>,
    pair_weights: Vec<Vec<(u32, f32)>>,
    pair_margin: f32,
    /// The rows of the embedding features: (component, row), when the model
    /// reads the pack's embeddings.
    dense: Vec<(u32, u32)>,
}

/// How much a model probability counts, as evidence weight (chosen on Banking77's
/// held-out tenth of its training split, see BENCHMARKS.md).
const MODEL_WEIGHT: f64 = 0.95;

/// Classes below this probability give no evidence.
const MODEL_FLOOR: f32 = 0.02;

fn name_hash(name: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(name.as_bytes());
    h.finish()
}

impl CompiledModel {
    fn new(pack: &Pack) -> Option<CompiledModel> {
        let m = pack.model.as_ref()?;
        let classes = m.intents.len();
        let intents: Vec<u32> = m
            .intents
            .iter()
            .map(|id| {
                pack.intents
                    .iter()
                    .position(|i| &i.id == id)
                    .map(|i| i as u32)
            })
            .collect::<Option<_>>()?;
        let n = m.features.len();
        let mut rows = HashMap::with_capacity_and_hasher(n, Default::default());
        let mut idf = Vec::with_capacity(n);
        let mut chars = Vec::with_capacity(n);
        let mut weights = Vec::with_capacity(n * classes);
        let mut feature_of_row = Vec::with_capacity(n);
        let mut pair_weights: Vec<Vec<(u32, f32)>> = vec![Vec::new(); m.pairs.len()];
        let mut dense = Vec::new();
        for (position, f) in m.features.iter().enumerate() {
            // Two names with one hash (never seen): the first keeps the row.
            let at = rows.len() as u32;
            match rows.entry(name_hash(&f.name)) {
                std::collections::hash_map::Entry::Occupied(_) => continue,
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(at);
                }
            }
            for &(p, w) in &f.pair_weights {
                pair_weights[p as usize].push((at, w));
            }
            if let Some(k) = crate::model::embedding_component(&f.name) {
                dense.push((k as u32, at));
            }
            feature_of_row.push(position as u32);
            idf.push(f.idf);
            chars.push(crate::model::is_chars(&f.name));
            let start = weights.len();
            weights.resize(start + classes, 0.0);
            for &(c, w) in &f.weights {
                weights[start + c as usize] = w;
            }
        }
        Some(CompiledModel {
            rows,
            idf,
            chars,
            weights,
            feature_of_row,
            bias: m.bias.clone(),
            intents,
            pairs: m
                .pairs
                .iter()
                .enumerate()
                .map(|(i, p)| (p.classes, i as u32))
                .collect(),
            pair_bias: m.pairs.iter().map(|p| p.bias).collect(),
            pair_weights,
            pair_margin: m.pair_margin,
            dense,
        })
    }

    /// Lets a pair model order the two best classes when they are close and the
    /// model has one for them: scores before the softmax, changed in place.
    fn decide_pair(&self, p: &mut [f32], x: &[(u32, f32)]) {
        if self.pairs.is_empty() || p.len() < 2 {
            return;
        }
        let (mut a, mut b) = (0usize, 1usize);
        if p[b] > p[a] {
            (a, b) = (b, a);
        }
        for c in 2..p.len() {
            if p[c] > p[a] {
                (a, b) = (c, a);
            } else if p[c] > p[b] {
                b = c;
            }
        }
        if p[a] - p[b] >= self.pair_margin {
            return;
        }
        let key = (a.min(b) as u32, a.max(b) as u32);
        let Some(&pair) = self.pairs.get(&key) else {
            return;
        };
        let score =
            self.pair_bias[pair as usize] + sparse_dot(x, &self.pair_weights[pair as usize]);
        let winner = if score > 0.0 { key.0 } else { key.1 } as usize;
        if winner == b {
            p.swap(a, b);
        }
    }

    /// Class probabilities for a message, and the message's model input.
    fn probabilities(
        &self,
        a: &Analyzed,
        table: Option<&crate::embed::Embeddings>,
    ) -> (Vec<f32>, Vec<(u32, f32)>) {
        let classes = self.bias.len();
        let mut found: Vec<u32> = Vec::with_capacity(a.tokens.len() * 24);
        let mut buf = String::with_capacity(32);
        crate::model::for_each_feature(a, &mut buf, |name| {
            if let Some(&row) = self.rows.get(&name_hash(name)) {
                found.push(row);
            }
        });
        let mut x = Vec::with_capacity(found.len());
        crate::model::vectorize(&mut found, &self.idf, &self.chars, &mut x);
        if let Some(table) = table
            && !self.dense.is_empty()
        {
            let mut v = Vec::with_capacity(table.dims());
            crate::model::embedding_of(a, table, &mut v);
            // The embedding rows are contiguous (their names sort together) and
            // `dense` is in row order: spliced in, `x` stays sorted by row.
            let at = x.partition_point(|e| e.0 < self.dense[0].1);
            let block = self.dense.iter().filter_map(|&(k, row)| {
                let c = v.get(k as usize).copied().unwrap_or(0.0);
                (c != 0.0).then(|| (row, c * self.idf[row as usize]))
            });
            x.splice(at..at, block);
            if !x.is_sorted_by_key(|e| e.0) {
                // A model whose embedding rows are not together (not one
                // `triage import` writes): sorted the slow way.
                x.sort_unstable_by_key(|e| e.0);
            }
        }
        let mut p = self.bias.clone();
        for &(row, v) in &x {
            let row = row as usize * classes;
            for (pc, w) in p.iter_mut().zip(&self.weights[row..row + classes]) {
                *pc += w * v;
            }
        }
        self.decide_pair(&mut p, &x);
        crate::model::softmax(&mut p);
        (p, x)
    }

    /// The feature (by position in the pack's model) that adds most to `class`'s
    /// score for input `x`, if any adds anything: what `--explain` shows.
    fn strongest(&self, x: &[(u32, f32)], class: usize) -> Option<usize> {
        let classes = self.bias.len();
        x.iter()
            .map(|&(row, v)| (row, self.weights[row as usize * classes + class] * v))
            .filter(|(_, c)| *c > 0.0)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(row, _)| self.feature_of_row[row as usize] as usize)
    }
}

/// The dot product of two sparse vectors, each sorted by index: one merge.
fn sparse_dot(a: &[(u32, f32)], b: &[(u32, f32)]) -> f32 {
    let (mut i, mut j) = (0, 0);
    let mut sum = 0.0;
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

/// TF-IDF vector of features (sublinear tf, L2-normalised), sorted by feature id.
fn tfidf(feats: &[u64], features: &FeatureIds, info: &[FeatureInfo]) -> Vec<(u32, f32)> {
    let mut ids: Vec<u32> = Vec::with_capacity(feats.len());
    ids.extend(feats.iter().filter_map(|f| features.get(f)));
    ids.sort_unstable();
    let counted: Vec<(u32, u32)> = ids
        .chunk_by(|a, b| a == b)
        .map(|run| (run[0], run.len() as u32))
        .collect();
    weigh(&counted, |id| info[id as usize].idf)
}

/// TF-IDF weights of (feature id, count) pairs sorted by id, L2-normalised.
fn weigh(counted: &[(u32, u32)], idf: impl Fn(u32) -> f32) -> Vec<(u32, f32)> {
    let mut v: Vec<(u32, f32)> = counted
        .iter()
        .map(|&(id, n)| (id, (1.0 + (n as f32).ln()) * idf(id)))
        .collect();
    let norm = v.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
    if norm > 0.0 {
        for (_, w) in &mut v {
            *w /= norm;
        }
    }
    v
}

impl Index {
    /// Compiles the pack's phrases, patterns and examples.
    ///
    /// # Errors
    /// The automaton or the regex set could not be built (e.g. over the size limit).
    pub fn build(pack: &Pack, analyzer: &Analyzer) -> Result<Index, String> {
        // The example index is built on a second thread while this one builds
        // the automata: on a large pack they take about as long as each other.
        std::thread::scope(|scope| {
            let examples = scope.spawn(|| Examples::build(pack, analyzer));
            let mut keys: Vec<String> = Vec::new();
            let mut key_ids: HashMap<String, usize> = HashMap::default();
            let mut phrase_refs: Vec<Vec<PhraseRef>> = Vec::new();
            let mut pattern_sources = Vec::new();
            let mut pattern_intents = Vec::new();
            // Every phrase's keys (one analysis per language), in parallel.
            let phrase_keys = crate::par::map(&pack.intents, 16, |intent| {
                [&intent.phrases, &intent.hints, &intent.negative].map(|list| {
                    list.iter()
                        .map(|phrase| analyzer.phrase_keys(phrase))
                        .collect::<Vec<_>>()
                })
            });
            for (ii, (intent, lists_keys)) in pack.intents.iter().zip(phrase_keys).enumerate() {
                let kinds = [PhraseKind::Strong, PhraseKind::Hint, PhraseKind::Negative];
                for (kind, list_keys) in kinds.into_iter().zip(lists_keys) {
                    for (pi, phrase_keys) in list_keys.into_iter().enumerate() {
                        for key in phrase_keys {
                            let n_tokens = key.split_whitespace().count() as u16;
                            let id = *key_ids.entry(key.clone()).or_insert_with(|| {
                                keys.push(key);
                                phrase_refs.push(Vec::new());
                                keys.len() - 1
                            });
                            let r = PhraseRef {
                                intent: ii as u32,
                                kind,
                                n_tokens,
                                text_idx: pi as u32,
                            };
                            let refs = &mut phrase_refs[id];
                            if !refs.iter().any(|x| {
                                x.intent == r.intent && x.kind == r.kind && x.text_idx == r.text_idx
                            }) {
                                refs.push(r);
                            }
                        }
                    }
                }
                for (pi, p) in intent.patterns.iter().enumerate() {
                    pattern_sources.push(expand_lookups(p));
                    pattern_intents.push((ii as u32, pi as u32));
                }
            }
            let phrases = PhraseMatcher::new(keys)?;
            let pattern_regexes = pattern_sources
                .iter()
                .map(|_| std::sync::OnceLock::new())
                .collect();
            let mut anchor_literals: Vec<Vec<u8>> = Vec::new();
            let mut anchor_ids: HashMap<Vec<u8>, usize> = HashMap::default();
            let mut anchor_patterns: Vec<Vec<u32>> = Vec::new();
            let mut unanchored_sources = Vec::new();
            let mut unanchored_ids = Vec::new();
            let mut word_start = vec![false; pattern_sources.len()];
            // Each pattern's literals, from one parse, in parallel.
            let literals = crate::par::map(&pattern_sources, 16, |source| {
                parse_pattern(source)
                    .map(|hir| (prefix_literals(&hir), required_literals(&hir)))
                    .unwrap_or_default()
            });
            let (prefixes, required): (Vec<_>, Vec<_>) = literals.into_iter().unzip();
            for (pi, (source, prefix)) in pattern_sources.iter().zip(prefixes).enumerate() {
                match prefix {
                    Some(literals) => {
                        word_start[pi] = source.starts_with(r"\b")
                            && literals
                                .iter()
                                .all(|l| l.first().is_some_and(|b| is_word_byte(*b)));
                        for lit in literals {
                            let id = *anchor_ids.entry(lit.clone()).or_insert_with(|| {
                                anchor_literals.push(lit);
                                anchor_patterns.push(Vec::new());
                                anchor_literals.len() - 1
                            });
                            if !anchor_patterns[id].contains(&(pi as u32)) {
                                anchor_patterns[id].push(pi as u32);
                            }
                        }
                    }
                    None => {
                        unanchored_sources.push(source.clone());
                        unanchored_ids.push(pi as u32);
                    }
                }
            }
            let mut need_literals: Vec<Vec<u8>> = Vec::new();
            let mut need_ids: HashMap<Vec<u8>, u32> = HashMap::default();
            // Record: the number of parts, then per part its least and most
            // offset, its number of literals and their ids (sorted).
            let mut need_records: Vec<u32> = Vec::new();
            let mut need_at: Vec<u32> = Vec::with_capacity(required.len());
            // Per pattern, the literals that are a required part on their own.
            let mut singles: Vec<Vec<u32>> = Vec::with_capacity(required.len());
            for parts in required {
                need_at.push(need_records.len() as u32);
                singles.push(Vec::new());
                need_records.push(parts.len() as u32);
                for part in parts {
                    let mut ids: Vec<u32> = part
                        .literals
                        .into_iter()
                        .map(|lit| {
                            *need_ids.entry(lit.clone()).or_insert_with(|| {
                                need_literals.push(lit);
                                need_literals.len() as u32 - 1
                            })
                        })
                        .collect();
                    ids.sort_unstable();
                    ids.dedup();
                    if let [only] = ids[..] {
                        singles.last_mut().expect("pushed above").push(only);
                    }
                    need_records.extend([part.offsets.0, part.offsets.1, ids.len() as u32]);
                    need_records.extend(ids);
                }
            }
            // A pattern's key: of its single-literal parts, the literal the
            // fewest patterns require, so it rules out the most candidates.
            let mut requiring = vec![0u32; need_literals.len()];
            for &id in singles.iter().flatten() {
                requiring[id as usize] += 1;
            }
            let keys: Vec<u32> = singles
                .iter()
                .map(|ids| {
                    ids.iter()
                        .copied()
                        .min_by_key(|&id| (requiring[id as usize], id))
                        .unwrap_or(NO_LITERAL)
                })
                .collect();
            let mut anchor_start = Vec::with_capacity(anchor_patterns.len() + 1);
            let mut anchor_entries = Vec::new();
            for patterns in &anchor_patterns {
                anchor_start.push(anchor_entries.len() as u32);
                anchor_entries.extend(patterns.iter().map(|&pi| AnchorEntry {
                    pattern: pi,
                    need_at: need_at[pi as usize],
                    key: keys[pi as usize],
                    word_start: word_start[pi as usize],
                }));
            }
            anchor_start.push(anchor_entries.len() as u32);
            // Prefix and required literals in one automaton: the prefix
            // literals, then the required ones that are not also a prefix.
            let mut literal_roles: Vec<(u32, u32)> = (0..anchor_literals.len())
                .map(|id| (id as u32, NO_LITERAL))
                .collect();
            let mut literal_list: Vec<&[u8]> = anchor_literals.iter().map(Vec::as_slice).collect();
            for (id, lit) in need_literals.iter().enumerate() {
                match anchor_ids.get(lit) {
                    Some(&prefix) => literal_roles[prefix].1 = id as u32,
                    None => {
                        literal_list.push(lit);
                        literal_roles.push((NO_LITERAL, id as u32));
                    }
                }
            }
            let literals = AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
                .build(&literal_list)
                .map_err(|e| format!("cannot build the pattern prefilter: {e}"))?;
            let unanchored = RegexSetBuilder::new(&unanchored_sources)
                .unicode(false)
                .size_limit(crate::pack::PATTERN_SET_SIZE_LIMIT)
                .dfa_size_limit(crate::pack::PATTERN_SET_SIZE_LIMIT)
                .build()
                .map_err(|e| format!("cannot build the pattern set: {e}"))?;

            let ex = examples
                .join()
                .map_err(|_| "the example index could not be built".to_string())?;
            Ok(Index {
                phrases,
                phrase_refs,
                pattern_regexes,
                pattern_sources,
                literals,
                literal_roles,
                anchor_start,
                anchor_entries,
                unanchored,
                unanchored_ids,
                need_records,
                need_at,
                pattern_intents,
                examples: ex,
                model: CompiledModel::new(pack),
                n_intents: pack.intents.len(),
            })
        })
    }

    /// Scores every intent with any evidence, best first.
    pub fn score<'p>(&self, pack: &'p Pack, a: &Analyzed) -> Vec<Candidate<'p>> {
        let mut acc: HashMap<usize, Acc<'p>> =
            HashMap::with_capacity_and_hasher(32, Default::default());

        // Phrases, over the stem text (keys carry their own boundary spaces).
        let mut hits: Vec<Hit> = Vec::with_capacity(64);
        for m in self.phrases.find(a) {
            let negated = a.tokens.get(m.token).is_some_and(|t| t.negated);
            let past = a.tokens.get(m.token).is_some_and(|t| t.past);
            let retracted = a.tokens.get(m.token).is_some_and(|t| t.retracted);
            for r in &self.phrase_refs[m.key as usize] {
                // An emergency told as history ("had a stroke in 2021") is no
                // emergency now: it counts like a negated mention.
                let emergency = pack.intents[r.intent as usize].outcome == IntentOutcome::Emergency;
                // What the member took back ("I was going to ask about my bill,
                // but") counts like a negated mention; an emergency never does.
                hits.push(Hit {
                    start: m.start,
                    end: m.end,
                    negated: negated || (past && emergency) || (retracted && !emergency),
                    phrase: r,
                });
            }
        }
        for (i, hit) in hits.iter().enumerate() {
            // Longest match wins: "refill online" (refill_online) silences "refill"
            // (refill_by_phone) inside it, and within one intent the same words
            // count once, at the weight of the strongest phrase covering them.
            let len = hit.end - hit.start;
            let covered = hit.phrase.kind != PhraseKind::Negative
                && hits.iter().enumerate().any(|(j, other)| {
                    let other_len = other.end - other.start;
                    j != i
                        && other.phrase.kind == PhraseKind::Strong
                        && !other.negated
                        && other.start <= hit.start
                        && other.end >= hit.end
                        && if other.phrase.intent == hit.phrase.intent {
                            other_len > len
                                || (other_len == len && hit.phrase.kind == PhraseKind::Hint)
                        } else {
                            other_len > len
                        }
                });
            if covered {
                continue;
            }
            let r = hit.phrase;
            let intent = &pack.intents[r.intent as usize];
            let (text, weight) = match r.kind {
                PhraseKind::Strong => (
                    &intent.phrases[r.text_idx as usize],
                    phrase_weight(r.n_tokens),
                ),
                PhraseKind::Hint => (&intent.hints[r.text_idx as usize], HINT_WEIGHT),
                PhraseKind::Negative => (&intent.negative[r.text_idx as usize], NEGATIVE_FACTOR),
            };
            let kind = match (r.kind, hit.negated) {
                // "not a scam question" is no evidence against anything.
                (PhraseKind::Negative, true) => continue,
                (PhraseKind::Negative, false) => EvidenceKind::Negative,
                (_, true) => EvidenceKind::Negated,
                (PhraseKind::Strong, false) => EvidenceKind::Phrase,
                (PhraseKind::Hint, false) => EvidenceKind::Hint,
            };
            acc.entry(r.intent as usize)
                .or_default()
                .add(kind, text, weight);
        }

        // Patterns, over the surface text.
        let bytes = a.pattern_text.as_bytes();
        for (pi, found) in self.pattern_matches(bytes) {
            // Where it matched decides whether it is negated.
            let (ii, idx) = self.pattern_intents[pi as usize];
            let intent = &pack.intents[ii as usize];
            let start = found + usize::from(bytes.get(found) == Some(&b' '));
            let emergency = intent.outcome == IntentOutcome::Emergency;
            let past = emergency && a.pattern_past_at(start);
            let retracted = !emergency && a.pattern_retracted_at(start);
            let negated = a.pattern_negated_at(start) || past || retracted;
            let kind = if negated {
                EvidenceKind::Negated
            } else {
                EvidenceKind::Pattern
            };
            acc.entry(ii as usize).or_default().add(
                kind,
                &intent.patterns[idx as usize],
                PATTERN_WEIGHT,
            );
        }

        // Examples: cosine similarity through the postings; best example per intent.
        let mut feats = Vec::with_capacity(a.tokens.len() * 2);
        features(&a.tokens, &mut feats);
        let mut query = tfidf(&feats, &self.examples.features, &self.examples.info);
        if !query.is_empty() {
            let best = DOTS.with(|dots| {
                let mut dots = dots.borrow_mut();
                self.best_examples(&mut query, &mut dots, EXAMPLE_WORK_BUDGET, RESOLVED_MAX)
            });
            for (ii, sim, ei) in best {
                let weight = similarity_weight(f64::from(sim));
                if weight > 0.0 {
                    let intent = &pack.intents[ii as usize];
                    acc.entry(ii as usize).or_default().add(
                        EvidenceKind::Example,
                        &intent.examples[ei as usize],
                        weight,
                    );
                }
            }
        }

        if let (Some(model), Some(stored)) = (&self.model, &pack.model) {
            let (p, x) = model.probabilities(a, pack.embeddings.as_ref());
            for (class, &p) in p.iter().enumerate() {
                if p >= MODEL_FLOOR {
                    let ii = model.intents[class] as usize;
                    // The evidence names the feature that counted most for it.
                    let detail = model
                        .strongest(&x, class)
                        .map_or("linear model", |f| stored.features[f].name.as_str());
                    acc.entry(ii).or_default().add(
                        EvidenceKind::Model,
                        detail,
                        f64::from(p) * MODEL_WEIGHT,
                    );
                }
            }
        }

        let mut out: Vec<Candidate> = acc
            .into_iter()
            .map(|(intent, acc)| acc.finish(intent))
            .filter(|c| c.score > 0.0)
            .collect();
        out.sort_by(|x, y| {
            y.score
                .total_cmp(&x.score)
                .then_with(|| {
                    pack.intents[y.intent]
                        .priority
                        .cmp(&pack.intents[x.intent].priority)
                })
                .then_with(|| x.intent.cmp(&y.intent))
        });
        debug_assert!(out.iter().all(|c| c.intent < self.n_intents));
        out
    }
}

impl Index {
    /// Cosine similarity of the message to the examples, through the postings,
    /// pruned MaxScore-style: the query's features are ordered by the most they
    /// can add to any example; the weakest ones, whose bounds sum below
    /// [`SIMILARITY_FLOOR`], cannot lift an example to evidence on their own, so
    /// their (long, common-word) postings are never walked — they are added only
    /// to the examples the other features reached, from each example's sorted
    /// feature list. The result equals the unpruned one for every example at or
    /// above the floor. Returns the best example of each intent: (intent,
    /// similarity, example).
    fn best_examples(
        &self,
        query: &mut [(u32, f32)],
        dots: &mut Vec<f32>,
        budget: usize,
        resolved_max: usize,
    ) -> Vec<(u32, f32, u32)> {
        if dots.len() < self.n_examples() {
            dots.resize(self.n_examples(), 0.0);
        }
        let bound = |(id, qw): &(u32, f32)| qw * self.examples.info[*id as usize].max_weight;
        query.sort_unstable_by(|x, y| bound(x).total_cmp(&bound(y)).then(x.0.cmp(&y.0)));
        let mut weak = 0;
        let mut sum = 0.0f32;
        for q in query.iter() {
            // A margin for rounding: an example exactly at the floor is still found.
            if sum + bound(q) < SIMILARITY_FLOOR * 0.999 {
                sum += bound(q);
                weak += 1;
            } else {
                break;
            }
        }
        let (weak, strong) = query.split_at(weak);
        let weak_total = sum;
        // Within the work budget every posting of the strong features is walked
        // (exact). Past it, each walk stops below a contribution `cut`, the
        // smallest that keeps the walk within budget: an example then loses less
        // than `cut` per shared feature.
        // At most how many postings a walk down to `cut` reads (from the level
        // tables: the first level below the cut bounds the walk).
        let walk_len = |cut: f32| -> usize {
            strong
                .iter()
                .map(|(id, qw)| {
                    let len = self.posting_list(*id).len();
                    if cut <= 0.0 {
                        return len;
                    }
                    let levels = self.levels_of(*id);
                    let below = levels.iter().position(|w| qw * w < cut);
                    below.map_or(len, |j| (LEVEL_FIRST << j).min(len))
                })
                .sum()
        };
        let mut cut = 0.0f32;
        if walk_len(0.0) > budget {
            let (mut lo, mut hi) = (0.0f32, 1.0f32);
            for _ in 0..16 {
                let mid = (lo + hi) / 2.0;
                if walk_len(mid) > budget {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            cut = hi;
        }
        let mut touched: Vec<u32> = Vec::with_capacity(256);
        for (id, qw) in strong {
            for (doc, dw) in self.posting_list(*id) {
                let c = qw * dw;
                if c < cut {
                    break;
                }
                let d = &mut dots[*doc as usize];
                if *d == 0.0 {
                    touched.push(*doc);
                }
                *d += c;
            }
        }
        // An example the weak features cannot lift to the floor is no evidence:
        // dropped before looking up its weak features.
        touched.retain(|&doc| {
            let keep = dots[doc as usize] + weak_total >= SIMILARITY_FLOOR * 0.999;
            if !keep {
                dots[doc as usize] = 0.0;
            }
            keep
        });
        // Only the examples the strong features rank highest go on: their weak
        // features are looked up (each lookup is a cache miss), and the others,
        // too far behind to be an intent's best evidence, are dropped.
        if touched.len() > resolved_max {
            touched.select_nth_unstable_by(resolved_max, |x, y| {
                dots[*y as usize].total_cmp(&dots[*x as usize])
            });
            for &doc in &touched[resolved_max..] {
                dots[doc as usize] = 0.0;
            }
            touched.truncate(resolved_max);
        }
        let resolve: &[u32] = &touched;
        if !weak.is_empty() {
            let mut weak_sorted: Vec<(u32, f32)> = weak.to_vec();
            weak_sorted.sort_unstable_by_key(|q| q.0);
            for &doc in resolve {
                let range = self.examples.forward_start[doc as usize] as usize
                    ..self.examples.forward_start[doc as usize + 1] as usize;
                dots[doc as usize] += sparse_dot(&self.examples.forward[range], &weak_sorted);
            }
        }
        // Examples are numbered intent by intent: sorted, each intent's examples
        // are contiguous, and the best of each run is that intent's evidence.
        touched.sort_unstable();
        let mut best: Vec<(u32, f32, u32)> = Vec::with_capacity(64);
        for &doc in &touched {
            let (ii, ei) = self.example_of(doc);
            let sim = std::mem::take(&mut dots[doc as usize]);
            match best.last_mut() {
                Some(b) if b.0 == ii => {
                    if sim > b.1 {
                        *b = (ii, sim, ei);
                    }
                }
                _ => best.push((ii, sim, ei)),
            }
        }
        best
    }

    fn n_examples(&self) -> usize {
        self.examples.intent_docs.last().map_or(0, |&n| n as usize)
    }

    /// Feature `id`'s postings, heaviest first.
    fn posting_list(&self, id: u32) -> &[(u32, f32)] {
        let id = id as usize;
        let info = &self.examples.info;
        &self.examples.postings[info[id].postings as usize..info[id + 1].postings as usize]
    }

    fn levels_of(&self, id: u32) -> &[f32] {
        let id = id as usize;
        &self.examples.levels
            [self.examples.info[id].levels as usize..self.examples.info[id + 1].levels as usize]
    }

    /// Example `doc`'s intent and its index among the intent's examples.
    fn example_of(&self, doc: u32) -> (u32, u32) {
        let ii = self
            .examples
            .intent_docs
            .partition_point(|&first| first <= doc)
            - 1;
        (ii as u32, doc - self.examples.intent_docs[ii])
    }
}

/// The first position recorded in a feature's level table; the next ones double.
const LEVEL_FIRST: usize = 16;

/// One feature of the example index.
#[derive(Clone, Copy)]
struct FeatureInfo {
    idf: f32,
    /// Its largest weight in any example (MaxScore's upper bound).
    max_weight: f32,
    /// Where its postings and its level table start.
    postings: u32,
    levels: u32,
}

/// The example half of the index, built apart from the automata.
struct Examples {
    features: FeatureIds,
    /// Per feature, what a message's walk reads first, in one record (one
    /// cache line on a large pack), then one more record where the last
    /// feature's postings and levels end.
    info: Vec<FeatureInfo>,
    /// Every feature's postings in one array: feature `id`'s are
    /// `postings[info[id].postings..info[id + 1].postings]`.
    postings: Vec<(u32, f32)>,
    /// Per feature, the weight at positions 16, 32, 64… of its postings
    /// (`levels[info[id].levels..info[id + 1].levels]`): how long a walk down
    /// to a given contribution is, known without reading the postings.
    levels: Vec<f32>,
    /// Per example, its features and weights sorted by feature
    /// (`forward[forward_start[doc]..forward_start[doc + 1]]`).
    forward_start: Vec<u32>,
    forward: Vec<(u32, f32)>,
    /// The first example of each intent (examples are numbered intent by
    /// intent), then the number of examples.
    intent_docs: Vec<u32>,
}

impl Examples {
    fn build(pack: &Pack, analyzer: &Analyzer) -> Examples {
        let mut intent_docs = Vec::with_capacity(pack.intents.len() + 1);
        let mut texts: Vec<&str> = Vec::new();
        for intent in &pack.intents {
            intent_docs.push(texts.len() as u32);
            texts.extend(intent.examples.iter().map(String::as_str));
        }
        intent_docs.push(texts.len() as u32);
        // Each example's features with their counts, sorted (in parallel).
        let example_feats: Vec<Vec<(u64, u32)>> = crate::par::map(&texts, 8, |ex| {
            let tokens = analyzer.pack_text_tokens(ex);
            let mut f = Vec::new();
            features(&tokens, &mut f);
            f.sort_unstable();
            f.chunk_by(|a, b| a == b)
                .map(|run| (run[0], run.len() as u32))
                .collect()
        });
        let total: usize = example_feats.iter().map(Vec::len).sum();
        // Feature ids and document frequencies. The features are split by hash
        // into two halves numbered apart (the first half's ids, then the
        // second's), each in order of first appearance: the same ids on any
        // machine, in half the time on two cores.
        let parts: Vec<FeatureHalf> = std::thread::scope(|scope| {
            let feats = &example_feats;
            let handles: Vec<_> = (0..2u64)
                .map(|part| {
                    scope.spawn(move || {
                        let mut map: HashMap<u64, u32> = HashMap::default();
                        let mut df: Vec<u32> = Vec::new();
                        let mut ids: Vec<u32> = Vec::new();
                        for &(f, _) in feats.iter().flatten() {
                            if f >> 63 != part {
                                continue;
                            }
                            let next = df.len() as u32;
                            let id = *map.entry(f).or_insert(next);
                            if id == next {
                                df.push(0);
                            }
                            df[id as usize] += 1;
                            ids.push(id);
                        }
                        (map, df, ids)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        let mut parts = parts.into_iter();
        let (low_map, mut df, low_ids) = parts.next().unwrap_or_default();
        let (high_map, high_df, high_ids) = parts.next().unwrap_or_default();
        let offset = df.len() as u32;
        df.extend(high_df);
        let features_map = FeatureIds {
            halves: [low_map, high_map],
            offset,
        };
        let n_docs = example_feats.len().max(1) as f32;
        let idf: Vec<f32> = df
            .iter()
            .map(|&d| ((1.0 + n_docs) / (1.0 + d as f32)).ln() + 1.0)
            .collect();
        // Where each example's features start in either half's id list, so
        // that the examples are weighed independently (in parallel).
        let mut starts: Vec<(usize, usize, usize)> = Vec::with_capacity(example_feats.len());
        let (mut lo, mut hi) = (0, 0);
        for (doc, feats) in example_feats.iter().enumerate() {
            starts.push((doc, lo, hi));
            let n_high = feats.iter().filter(|(f, _)| f >> 63 == 1).count();
            lo += feats.len() - n_high;
            hi += n_high;
        }
        let vectors = crate::par::map(&starts, 2, |&(doc, mut lo, mut hi)| {
            let mut ids: Vec<(u32, u32)> = example_feats[doc]
                .iter()
                .map(|&(f, n)| {
                    let id = if f >> 63 == 0 {
                        lo += 1;
                        low_ids[lo - 1]
                    } else {
                        hi += 1;
                        high_ids[hi - 1] + offset
                    };
                    (id, n)
                })
                .collect();
            ids.sort_unstable();
            weigh(&ids, |id| idf[id as usize])
        });
        drop(example_feats);
        let mut forward_start = Vec::with_capacity(vectors.len() + 1);
        let mut forward = Vec::with_capacity(total);
        for v in vectors {
            forward_start.push(forward.len() as u32);
            forward.extend(v);
        }
        forward_start.push(forward.len() as u32);
        // The postings are the forward lists inverted. A feature has one posting
        // per example that has it, so its document frequency says where its
        // postings start; place, then sort.
        let mut postings_start = Vec::with_capacity(df.len() + 1);
        postings_start.push(0u32);
        let mut sum = 0;
        for &d in &df {
            sum += d;
            postings_start.push(sum);
        }
        let mut postings = vec![(0u32, 0f32); forward.len()];
        // Two halves of the features, each filled (from a scan of every
        // example), sorted and measured on its own thread. Impact order: each
        // feature's examples by weight, heaviest first, so a walk can stop where
        // the rest could add little.
        let mid = idf.len() / 2;
        let (low_postings, high_postings) = postings.split_at_mut(postings_start[mid] as usize);
        let invert = |ids: std::ops::Range<usize>,
                      out: &mut [(u32, f32)]|
         -> (Vec<u32>, Vec<f32>, Vec<f32>) {
            let base = postings_start[ids.start] as usize;
            let mut fill: Vec<u32> = postings_start[ids.clone()].to_vec();
            for doc in 0..forward_start.len() - 1 {
                let range = forward_start[doc] as usize..forward_start[doc + 1] as usize;
                for &(id, w) in &forward[range] {
                    if ids.contains(&(id as usize)) {
                        let slot = &mut fill[id as usize - ids.start];
                        out[*slot as usize - base] = (doc as u32, w);
                        *slot += 1;
                    }
                }
            }
            debug_assert!(
                fill.iter()
                    .zip(&postings_start[ids.start + 1..=ids.end])
                    .all(|(filled, end)| filled == end),
                "a feature's postings are its document frequency"
            );
            let mut levels_start = Vec::with_capacity(ids.len());
            let mut levels = Vec::new();
            let mut max_weight = Vec::with_capacity(ids.len());
            for id in ids {
                let list = &mut out
                    [postings_start[id] as usize - base..postings_start[id + 1] as usize - base];
                list.sort_unstable_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
                // Heaviest first: the first is the feature's largest weight.
                max_weight.push(list.first().map_or(0.0, |p| p.1));
                levels_start.push(levels.len() as u32);
                let mut at = LEVEL_FIRST;
                while at < list.len() {
                    levels.push(list[at].1);
                    at *= 2;
                }
            }
            (levels_start, levels, max_weight)
        };
        let ((mut levels_start, mut levels, mut max_weight), (high_starts, high_levels, high_max)) =
            std::thread::scope(|scope| {
                let high = scope.spawn(|| invert(mid..idf.len(), high_postings));
                let low = invert(0..mid, low_postings);
                let high = high.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
                (low, high)
            });
        let shift = levels.len() as u32;
        levels_start.extend(high_starts.into_iter().map(|s| s + shift));
        levels.extend(high_levels);
        levels_start.push(levels.len() as u32);
        max_weight.extend(high_max);
        let mut info: Vec<FeatureInfo> = idf
            .iter()
            .zip(&max_weight)
            .zip(postings_start.iter().zip(&levels_start))
            .map(|((&idf, &max_weight), (&postings, &levels))| FeatureInfo {
                idf,
                max_weight,
                postings,
                levels,
            })
            .collect();
        info.push(FeatureInfo {
            idf: 0.0,
            max_weight: 0.0,
            postings: postings.len() as u32,
            levels: levels.len() as u32,
        });
        Examples {
            features: features_map,
            info,
            postings,
            levels,
            forward_start,
            forward,
            intent_docs,
        }
    }
}

/// Up to this many keys the phrase automaton is built as a DFA: one table lookup
/// per byte instead of following failure links (a third off respond time on the
/// default pack), for a few MB. Above it, a DFA's memory and build time grow too
/// much. (The pattern literals' automaton is always a contiguous NFA: as a DFA it
/// cost a third of the default pack's load and nothing measurable per message.)
const DFA_MAX_KEYS: usize = 10_000;

/// A byte of `\w` in an ASCII-only regex.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Marks a pattern candidate from the shared `RegexSet`: no known start.
const UNANCHORED: u32 = u32::MAX;

/// No literal of this kind (see `Index::literal_roles`, `AnchorEntry::key`).
const NO_LITERAL: u32 = u32::MAX;

/// One pattern compiled alone.
struct PatternRegex {
    exact: meta::Regex,
    /// The pattern with long counted repetitions unbounded (`.{0,80}` as `.*`),
    /// when it has any. It accepts everything the exact one does, and a lazy DFA
    /// runs it without a state per counted position, so it rules out most
    /// candidates cheaply; only what it accepts is checked exactly.
    relaxed: Option<meta::Regex>,
}

impl PatternRegex {
    fn compile(source: &str) -> Option<PatternRegex> {
        let hir = parse_pattern(source)?;
        let build = |hir: &Hir| {
            meta::Regex::builder()
                .syntax(
                    regex_automata::util::syntax::Config::new()
                        .unicode(false)
                        .utf8(false),
                )
                .configure(
                    meta::Regex::config()
                        .utf8_empty(false)
                        // No ahead-of-time DFA: building one costs more than the
                        // few anchored checks a pattern ever gets, and a pack of
                        // 10,000 intents has 15,000 patterns to compile on first use.
                        .dfa(false)
                        .nfa_size_limit(Some(crate::pack::PATTERN_SIZE_LIMIT)),
                )
                .build_from_hir(hir)
                .ok()
        };
        let relaxed = relax(&hir);
        Some(PatternRegex {
            exact: build(&hir)?,
            relaxed: if relaxed == hir {
                None
            } else {
                build(&relaxed)
            },
        })
    }

    /// Whether the pattern matches starting exactly at `start`.
    fn matches_at(&self, bytes: &[u8], start: usize) -> bool {
        let input = Input::new(bytes)
            .span(start..bytes.len())
            .anchored(Anchored::Yes);
        self.relaxed
            .as_ref()
            .is_none_or(|r| r.is_match(input.clone()))
            && self.exact.is_match(input)
    }

    /// Where the leftmost match starts.
    fn find_start(&self, bytes: &[u8]) -> Option<usize> {
        if self.relaxed.as_ref().is_some_and(|r| !r.is_match(bytes)) {
            return None;
        }
        self.exact.find(bytes).map(|m| m.start())
    }
}

/// Repetitions with a bound above this are unbounded in a relaxed pattern.
const RELAX_ABOVE: u32 = 4;

/// `hir` with every counted repetition of more than [`RELAX_ABOVE`] unbounded.
fn relax(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Repetition(r) => {
            let max = match r.max {
                Some(m) if m > RELAX_ABOVE => None,
                m => m,
            };
            Hir::repetition(Repetition {
                min: r.min,
                max,
                greedy: r.greedy,
                sub: Box::new(relax(&r.sub)),
            })
        }
        HirKind::Capture(c) => Hir::capture(Capture {
            index: c.index,
            name: c.name.clone(),
            sub: Box::new(relax(&c.sub)),
        }),
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(relax).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.iter().map(relax).collect()),
        _ => hir.clone(),
    }
}

/// Parses a pattern (lookups expanded) the way the matcher compiles it: ASCII
/// classes, over bytes.
fn parse_pattern(source: &str) -> Option<Hir> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(source)
        .ok()
}

impl Index {
    /// Every pattern that matches `bytes`, with where its leftmost match starts.
    ///
    /// A pattern with prefix literals can only match where one of them starts,
    /// and only if its required literals are where the match could hold them:
    /// one scan finds both, and each place left is tried with an anchored
    /// search, so a candidate costs its match, not a scan of the message.
    fn pattern_matches(&self, bytes: &[u8]) -> Vec<(u32, usize)> {
        // (required literal id, where it starts), sorted, and the prefix
        // literals found, from one scan.
        let mut present: Vec<(u32, u32)> = Vec::with_capacity(32);
        let mut prefixes: Vec<(u32, u32)> = Vec::with_capacity(32);
        for m in self.literals.find_overlapping_iter(bytes) {
            let (prefix, required) = self.literal_roles[m.pattern().as_usize()];
            let start = m.start() as u32;
            if required != NO_LITERAL {
                present.push((required, start));
            }
            if prefix != NO_LITERAL {
                prefixes.push((prefix, start));
            }
        }
        present.sort_unstable();
        let has = |id: u32| {
            let k = present.partition_point(|&(p, _)| p < id);
            present.get(k).is_some_and(|&(p, _)| p == id)
        };
        // (pattern, start, where its required parts are recorded)
        let mut candidates: Vec<(u32, u32, u32)> = Vec::with_capacity(32);
        for (prefix, start) in prefixes {
            let mid_word = start > 0 && is_word_byte(bytes[start as usize - 1]);
            candidates.extend(
                self.anchored(prefix as usize)
                    .iter()
                    .filter(|e| !(mid_word && e.word_start))
                    .filter(|e| e.key == NO_LITERAL || has(e.key))
                    .map(|e| (e.pattern, start, e.need_at)),
            );
        }
        if !self.unanchored_ids.is_empty() {
            candidates.extend(self.unanchored.matches(bytes).iter().map(|i| {
                let pi = self.unanchored_ids[i];
                (pi, UNANCHORED, self.need_at[pi as usize])
            }));
        }
        candidates.sort_unstable();
        candidates.dedup();
        // No regex runs for a candidate without its required literals in place.
        candidates.retain(|&(_, start, at)| self.satisfiable(at, start, &present));
        let mut out = Vec::new();
        for tries in candidates.chunk_by(|x, y| x.0 == y.0) {
            let pi = tries[0].0;
            let Some(regex) = self.pattern_regex(pi as usize) else {
                continue;
            };
            // The leftmost place that matches. At a known start, whether it
            // matches is enough (the search stops at the first match state).
            let found = tries.iter().find_map(|&(_, start, _)| {
                if start == UNANCHORED {
                    regex.find_start(bytes)
                } else {
                    let start = start as usize;
                    regex.matches_at(bytes, start).then_some(start)
                }
            });
            if let Some(found) = found {
                out.push((pi, found));
            }
        }
        out
    }

    /// The patterns prefix literal `literal` starts.
    fn anchored(&self, literal: usize) -> &[AnchorEntry] {
        &self.anchor_entries
            [self.anchor_start[literal] as usize..self.anchor_start[literal + 1] as usize]
    }

    /// Whether a match of the pattern whose required parts (see
    /// [`required_literals`]) are recorded at `at` could start at `start`
    /// ([`UNANCHORED`]: anywhere): each part has one of its literals in
    /// `present` (sorted (literal id, position) pairs) where the part could be.
    fn satisfiable(&self, at: u32, start: u32, present: &[(u32, u32)]) -> bool {
        let record = &self.need_records[at as usize..];
        let mut i = 1;
        for _ in 0..record[0] {
            let (min, max, n) = (record[i], record[i + 1], record[i + 2] as usize);
            let ids = &record[i + 3..i + 3 + n];
            i += 3 + n;
            let (lo, hi) = if start == UNANCHORED {
                (0, u32::MAX)
            } else {
                (start.saturating_add(min), start.saturating_add(max))
            };
            let found = ids.iter().any(|&id| {
                let k = present.partition_point(|&p| p < (id, lo));
                present
                    .get(k)
                    .is_some_and(|&(found, pos)| found == id && pos <= hi)
            });
            if !found {
                return false;
            }
        }
        true
    }

    /// Pattern `pi` alone, compiled on first use. `None` only if it cannot be
    /// compiled, which validation rules out.
    fn pattern_regex(&self, pi: usize) -> Option<&PatternRegex> {
        self.pattern_regexes[pi]
            .get_or_init(|| PatternRegex::compile(&self.pattern_sources[pi]))
            .as_ref()
    }
}

/// Replaces `{@name}` in a pattern with the class word `c_name` that the analyzer
/// writes in the pattern text in place of any term of the lookup.
pub(crate) fn expand_lookups(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(start) = rest.find("{@") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            break;
        };
        out.push_str("c_");
        out.push_str(&after[..end]);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Groups of literals a match of `pattern` must contain: one literal of each
/// group (a literal or alternation of literals the pattern cannot skip), with
/// how far after the match's start the group can begin. Parts whose literals
/// are single bytes or too many are left out: they filter little.
fn required_literals(hir: &Hir) -> Vec<Required> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    /// `at`: the least and the most bytes from the match's start to where
    /// `hir`'s match starts (`u32::MAX`: no most).
    fn collect(hir: &Hir, at: (u32, u32), out: &mut Vec<Required>) {
        match hir.kind() {
            HirKind::Capture(c) => collect(&c.sub, at, out),
            HirKind::Concat(subs) => {
                let mut at = at;
                for sub in subs {
                    collect(sub, at, out);
                    let props = sub.properties();
                    let min = props.minimum_len().unwrap_or(0);
                    let max = props.maximum_len();
                    at = (
                        at.0.saturating_add(u32::try_from(min).unwrap_or(u32::MAX)),
                        match max.and_then(|m| u32::try_from(m).ok()) {
                            Some(m) => at.1.saturating_add(m),
                            None => u32::MAX,
                        },
                    );
                }
            }
            // Its first repetition starts where the repetition does.
            HirKind::Repetition(r) if r.min >= 1 => collect(&r.sub, at, out),
            _ => {
                if hir.properties().minimum_len().unwrap_or(0) == 0 {
                    return;
                }
                // Every match of this part starts with one of its prefix literals.
                let seq = Extractor::new().kind(ExtractKind::Prefix).extract(hir);
                let Some(literals) = seq.literals() else {
                    return;
                };
                if literals.is_empty()
                    || literals.len() > 16
                    || literals.iter().any(|l| l.as_bytes().len() < 2)
                {
                    return;
                }
                out.push(Required {
                    literals: literals.iter().map(|l| l.as_bytes().to_vec()).collect(),
                    offsets: at,
                });
            }
        }
    }
    let mut out = Vec::new();
    collect(hir, (0, 0), &mut out);
    out
}

/// A part of a pattern that every match contains: it starts with one of
/// `literals`, between `offsets.0` and `offsets.1` bytes after the match's
/// start (`u32::MAX`: anywhere after).
#[derive(Debug, PartialEq)]
struct Required {
    literals: Vec<Vec<u8>>,
    offsets: (u32, u32),
}

/// A pattern its prefix literal starts.
struct AnchorEntry {
    pattern: u32,
    /// Where its required parts are recorded (`Index::need_records`).
    need_at: u32,
    /// A required literal that is a part on its own (the one fewest patterns
    /// require), or [`NO_LITERAL`]: a message without it rules the pattern out
    /// before its record is read.
    key: u32,
    /// It starts with `\b` and every prefix literal with a word byte, so a
    /// literal found right after a word byte (mid-word) cannot start a match.
    word_start: bool,
}

/// The literals every match of `pattern` starts with, or `None` when they cannot
/// be bounded (then the pattern runs in the shared `RegexSet`).
fn prefix_literals(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    // Not `optimize_for_prefix_by_preference`: it trims literals to a few bytes
    // ("w" for "will not be|wont be"), which suits a prefilter that must stay small
    // but here would make every "w" a candidate.
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(hir);
    let literals = seq.literals()?;
    if literals.is_empty() || literals.iter().any(|l| l.as_bytes().is_empty()) {
        return None;
    }
    // A literal that starts with another one adds no start the shorter one misses.
    let mut literals: Vec<Vec<u8>> = literals.iter().map(|l| l.as_bytes().to_vec()).collect();
    literals.sort_unstable();
    literals.dedup();
    let mut kept: Vec<Vec<u8>> = Vec::with_capacity(literals.len());
    for lit in literals {
        // Sorted: a prefix of `lit` in the set sorts right before it, or before a
        // run of its other extensions, which were dropped in its favour.
        if kept.last().is_none_or(|k| !lit.starts_with(k)) {
            kept.push(lit);
        }
    }
    Some(kept)
}

/// Maps a cosine similarity to evidence weight.
fn similarity_weight(sim: f64) -> f64 {
    ((sim - 0.12) / 0.55).clamp(0.0, 1.0) * 0.85
}

/// Finds the phrase keys (`" stem stem "`) in a message's stem text: one
/// aho-corasick DFA while the pack has at most [`DFA_MAX_KEYS`] keys; above
/// that, a table walked token by token. An automaton over 100,000 keys is an
/// NFA that takes 0.45 s to build and a cache miss per byte to run; the table
/// builds in 0.05 s and costs a few lookups per token. Both find the same keys.
enum PhraseMatcher {
    Automaton(AhoCorasick),
    Table(PhraseTable),
}

impl PhraseMatcher {
    fn new(keys: Vec<String>) -> Result<PhraseMatcher, String> {
        if keys.len() > DFA_MAX_KEYS {
            return Ok(PhraseMatcher::Table(PhraseTable::new(keys)));
        }
        AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(&keys)
            .map(PhraseMatcher::Automaton)
            .map_err(|e| format!("cannot build the phrase automaton: {e}"))
    }

    /// Every key found, each with its byte span and first token.
    fn find(&self, a: &Analyzed) -> Vec<PhraseMatch> {
        match self {
            PhraseMatcher::Automaton(ac) => ac
                .find_overlapping_iter(&a.stem_text)
                .map(|m| PhraseMatch {
                    key: m.pattern().as_u32(),
                    start: m.start(),
                    end: m.end(),
                    token: a.token_at_stem(m.start() + 1),
                })
                .collect(),
            PhraseMatcher::Table(table) => table.find(a),
        }
    }
}

/// The phrase keys (`" stem stem "`), matched token by token: a hash of each
/// run of stems that begins a key leads to the next token, so a message costs a
/// few lookups per token whatever the number of phrases.
struct PhraseTable {
    /// Hash of a stem sequence → the key it completes (if any) and whether a
    /// longer key continues it.
    runs: HashMap<u64, Run>,
    /// Keys whose hash another key already took (a collision; never seen in
    /// practice, kept exact anyway).
    more: HashMap<u64, Vec<u32>>,
    keys: Vec<String>,
    /// Tokens in the longest key.
    max_tokens: usize,
}

#[derive(Clone, Copy, Default)]
struct Run {
    key: Option<u32>,
    continues: bool,
}

/// One phrase key found: its byte span in the stem text and first token.
struct PhraseMatch {
    key: u32,
    start: usize,
    end: usize,
    token: usize,
}

/// The hash of a stem sequence, one stem at a time.
fn run_hash(h: u64, stem: &str) -> u64 {
    let mut x = FxHasher::default();
    h.hash(&mut x);
    stem.hash(&mut x);
    x.finish()
}

impl PhraseTable {
    fn new(keys: Vec<String>) -> PhraseTable {
        let mut table = PhraseTable {
            runs: HashMap::with_capacity_and_hasher(keys.len() * 2, Default::default()),
            more: HashMap::default(),
            keys: Vec::new(),
            max_tokens: 0,
        };
        for (id, key) in keys.iter().enumerate() {
            let stems: Vec<&str> = key.split(' ').filter(|s| !s.is_empty()).collect();
            table.max_tokens = table.max_tokens.max(stems.len());
            let mut h = 0;
            for (i, stem) in stems.iter().enumerate() {
                h = run_hash(h, stem);
                let run = table.runs.entry(h).or_default();
                if i + 1 < stems.len() {
                    run.continues = true;
                } else if run.key.is_none() {
                    run.key = Some(id as u32);
                } else {
                    table.more.entry(h).or_default().push(id as u32);
                }
            }
        }
        table.keys = keys;
        table
    }

    /// Every key in `a`'s stem text, by first token then length.
    fn find(&self, a: &Analyzed) -> Vec<PhraseMatch> {
        let mut out = Vec::new();
        let n = a.tokens.len();
        for i in 0..n {
            let mut h = 0;
            for j in i..n.min(i + self.max_tokens) {
                h = run_hash(h, &a.tokens[j].stem);
                let Some(run) = self.runs.get(&h) else {
                    break;
                };
                if run.key.is_some() {
                    // The key is checked against the text: a hash is no proof.
                    let start = a.stem_starts[i] - 1;
                    let end = a.stem_starts[j] + a.tokens[j].stem.len() + 1;
                    let text = &a.stem_text[start..end];
                    let more = self.more.get(&h).map_or(&[][..], Vec::as_slice);
                    for &key in run.key.iter().chain(more) {
                        if self.keys[key as usize] == text {
                            out.push(PhraseMatch {
                                key,
                                start,
                                end,
                                token: i,
                            });
                        }
                    }
                }
                if !run.continues {
                    break;
                }
            }
        }
        out
    }
}

/// One phrase occurrence in the stem text.
struct Hit<'a> {
    start: usize,
    end: usize,
    negated: bool,
    phrase: &'a PhraseRef,
}

#[derive(Default)]
struct Acc<'p> {
    evidence: Vec<Evidence<'p>>,
}

impl<'p> Acc<'p> {
    fn add(&mut self, kind: EvidenceKind, detail: &'p str, weight: f64) {
        // The same phrase found twice (two stemmer keys, two places) counts once.
        if self
            .evidence
            .iter()
            .any(|e| e.kind == kind && e.detail == detail)
        {
            return;
        }
        if self.evidence.is_empty() {
            self.evidence.reserve(4);
        }
        self.evidence.push(Evidence {
            kind,
            detail,
            weight,
        });
    }

    fn finish(mut self, intent: usize) -> Candidate<'p> {
        let mut miss = 1.0;
        let mut hint_miss = 1.0;
        let mut penalty = 1.0;
        for e in &self.evidence {
            match e.kind {
                EvidenceKind::Negative => penalty *= NEGATIVE_FACTOR,
                // A negated mention removes support but does not count against.
                EvidenceKind::Negated => {}
                EvidenceKind::Hint => hint_miss *= 1.0 - e.weight,
                _ => miss *= 1.0 - e.weight,
            }
        }
        // Weak words add up, but never to more than one good phrase's worth.
        let hints = (1.0 - hint_miss).min(HINTS_CAP);
        miss *= 1.0 - hints;
        let score = ((1.0 - miss) * penalty).clamp(0.0, 1.0);
        self.evidence.sort_by(|a, b| {
            b.weight
                .total_cmp(&a.weight)
                .then_with(|| a.detail.cmp(b.detail))
        });
        Candidate {
            intent,
            score,
            evidence: self.evidence,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literals(pattern: &str) -> Vec<String> {
        prefix_literals(&parse_pattern(pattern).expect("parses"))
            .expect("bounded prefixes")
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    }

    #[test]
    fn the_phrase_table_finds_what_the_automaton_finds() {
        let dir = tempfile::tempdir().expect("temp dir");
        let synth = crate::synth::Synth::new(300, 3);
        synth.write(dir.path()).expect("write");
        let (engine, _) = crate::Engine::load_dir(dir.path()).expect("loads");
        let (keys, _) = crate::stages::floor_parts(&engine);
        let automaton = PhraseMatcher::new(keys.clone()).expect("builds");
        assert!(matches!(automaton, PhraseMatcher::Automaton(_)));
        let table = PhraseMatcher::Table(PhraseTable::new(keys));
        let key = |m: &PhraseMatch| (m.start, m.end, m.key, m.token);
        let mut found = 0;
        let mut texts = synth.messages(300, 15, 8);
        // Repeated and overlapping words, and the pack's own phrases.
        texts.extend(engine.pack.intents.iter().flat_map(|i| i.phrases.clone()));
        texts.push(texts[..3].join(" "));
        for text in &texts {
            let a = engine.analyzer.analyze(&crate::normalize::fold(text));
            let mut want: Vec<_> = automaton.find(&a).iter().map(key).collect();
            let mut got: Vec<_> = table.find(&a).iter().map(key).collect();
            want.sort_unstable();
            got.sort_unstable();
            assert_eq!(got, want, "{text:?}");
            found += want.len();
        }
        assert!(found > 1_000, "only {found} keys found");
    }

    #[test]
    fn filtered_pattern_matches_equal_running_each_pattern_alone_on_a_large_pack() {
        let dir = tempfile::tempdir().expect("temp dir");
        let synth = crate::synth::Synth::new(1_000, 5);
        synth.write(dir.path()).expect("write");
        let (engine, _) = crate::Engine::load_dir(dir.path()).expect("loads");
        let plain: Vec<regex::bytes::Regex> = engine
            .index
            .pattern_sources
            .iter()
            .map(|s| {
                regex::bytes::RegexBuilder::new(s)
                    .unicode(false)
                    .build()
                    .expect("pattern compiles")
            })
            .collect();
        let (mut matched, mut filtered) = (0, 0);
        for text in synth.messages(300, 15, 9) {
            let a = engine.analyzer.analyze(&crate::normalize::fold(&text));
            let bytes = a.pattern_text.as_bytes();
            let expected: Vec<(u32, usize)> = plain
                .iter()
                .enumerate()
                .filter_map(|(pi, r)| r.find(bytes).map(|m| (pi as u32, m.start())))
                .collect();
            assert_eq!(engine.index.pattern_matches(bytes), expected, "{text:?}");
            matched += expected.len();
            // Messages where the filters had candidates to rule out.
            filtered += usize::from(
                engine
                    .index
                    .literals
                    .find_overlapping_iter(bytes)
                    .map(|m| engine.index.literal_roles[m.pattern().as_usize()].0)
                    .filter(|&prefix| prefix != NO_LITERAL)
                    .map(|prefix| engine.index.anchored(prefix as usize).len())
                    .sum::<usize>()
                    > expected.len(),
            );
        }
        assert!(matched > 50, "only {matched} pattern matches");
        assert!(
            filtered > 100,
            "the literal filter ran on {filtered} messages"
        );
    }

    #[test]
    fn required_literals_are_the_parts_a_match_cannot_skip() {
        let groups = |p: &str| -> Vec<(Vec<String>, (u32, u32))> {
            required_literals(&parse_pattern(p).expect("parses"))
                .into_iter()
                .map(|g| {
                    let literals = g
                        .literals
                        .into_iter()
                        .map(|l| String::from_utf8(l).expect("utf-8"))
                        .collect();
                    (literals, g.offsets)
                })
                .collect()
        };
        const ANY: u32 = u32::MAX;
        assert_eq!(
            groups(r"\btukux\b.{0,30}\blenox\b"),
            [
                (vec!["tukux".to_string()], (0, 0)),
                (vec!["lenox".to_string()], (5, 35))
            ]
        );
        assert_eq!(
            groups(r"\b(?:nifax|legibex)\s+\w+\s+tamix\b"),
            [
                (vec!["nifax".to_string(), "legibex".to_string()], (0, 0)),
                (vec!["tamix".to_string()], (8, ANY))
            ]
        );
        // Optional parts and single bytes require nothing (but move what follows).
        assert_eq!(
            groups(r"(?:lost )?card"),
            [(vec!["card".to_string()], (0, 5))]
        );
        assert!(groups(r"a\d+").is_empty());
        assert!(groups(r"(?:x|yz)*").is_empty());
        // A repeated part is still required once, where it starts.
        assert_eq!(groups(r"(?:ab)+c"), [(vec!["ab".to_string()], (0, 0))]);
        assert_eq!(
            groups(r"(?:ab){2}cd"),
            [
                (vec!["ab".to_string()], (0, 0)),
                (vec!["cd".to_string()], (4, 4))
            ]
        );
    }

    #[test]
    fn prefix_literals_keep_whole_words() {
        let lits = literals(r"\b(?:will not|wont) be (?:here|gone)\b");
        assert!(lits.iter().all(|l| l.len() > 4), "{lits:?}");
        assert!(
            lits.iter().any(|l| l.starts_with("will not be")),
            "{lits:?}"
        );
    }

    #[test]
    fn prefix_literals_drop_extensions_of_shorter_ones() {
        assert_eq!(literals(r"(?:he|hello|help)\w+"), ["he"]);
        assert_eq!(
            prefix_literals(&parse_pattern(r"\w+ refill").expect("parses")),
            None
        );
    }

    #[test]
    fn relaxed_patterns_accept_at_least_what_exact_ones_do() {
        let source = r"\bcall\b.{0,10}\bssn\b";
        let exact = parse_pattern(source).expect("parses");
        let relaxed = relax(&exact);
        assert_ne!(relaxed, exact);
        let compiled = PatternRegex::compile(source).expect("compiles");
        assert!(compiled.relaxed.is_some());
        // Near: both match. Far: only the relaxed one, and the answer is exact.
        assert!(compiled.matches_at(b" call me ssn ", 1));
        let far = b" call me about it later and about my ssn ";
        assert!(
            compiled
                .relaxed
                .as_ref()
                .is_some_and(|r| r.is_match(&far[..]))
        );
        assert!(!compiled.matches_at(far, 1));
        assert_eq!(compiled.find_start(far), None);
        // Short counts stay as they are.
        let small = parse_pattern(r"a{1,3}").expect("parses");
        assert_eq!(relax(&small), small);
    }

    /// The prefilter, the word-start rule and the relaxed regexes must find
    /// exactly what running every pattern alone over the text finds.
    #[test]
    fn pattern_matches_equal_running_each_pattern_alone() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let (engine, _) =
            crate::Engine::load_dir(&root.join("intents/caremark")).expect("default pack");
        let plain: Vec<regex::bytes::Regex> = engine
            .index
            .pattern_sources
            .iter()
            .map(|s| {
                regex::bytes::RegexBuilder::new(s)
                    .unicode(false)
                    .build()
                    .expect("pattern compiles")
            })
            .collect();
        let mut texts: Vec<String> = Vec::new();
        for file in ["tests/data/dev.jsonl", "tests/data/heldout.jsonl"] {
            let data = std::fs::read_to_string(root.join(file)).expect("corpus");
            for line in data.lines().filter(|l| !l.trim().is_empty()) {
                let v: serde_json::Value = serde_json::from_str(line).expect("json");
                texts.push(v["text"].as_str().expect("text").to_string());
            }
        }
        for intent in &engine.pack.intents {
            texts.extend(intent.examples.iter().cloned());
        }
        let mut matched = 0;
        for text in &texts {
            let folded = crate::stages::normalize(&engine, text);
            let a = engine.analyzer.analyze(&folded);
            let bytes = a.pattern_text.as_bytes();
            let expected: Vec<(u32, usize)> = plain
                .iter()
                .enumerate()
                .filter_map(|(pi, r)| r.find(bytes).map(|m| (pi as u32, m.start())))
                .collect();
            let actual = engine.index.pattern_matches(bytes);
            assert_eq!(actual, expected, "{:?}", a.pattern_text);
            matched += actual.len();
        }
        // The comparison means something only if patterns do match.
        assert!(matched > 100, "only {matched} pattern matches");
    }

    #[test]
    fn a_pair_model_orders_the_two_best_classes_only_when_they_are_close() {
        let model = CompiledModel {
            rows: HashMap::default(),
            idf: vec![1.0],
            chars: vec![false],
            weights: vec![0.0; 3],
            feature_of_row: vec![0],
            bias: vec![0.0; 3],
            intents: vec![0, 1, 2],
            pairs: [((0, 1), 0)].into_iter().collect(),
            pair_bias: vec![-1.0],
            // Row 0 pushes the pair towards its first class.
            pair_weights: vec![vec![(0, 3.0)]],
            pair_margin: 5.0,
            dense: Vec::new(),
        };
        // Close, and the pair model (bias -1, no input) picks class 1.
        let mut p = [3.0, 2.5, 0.0];
        model.decide_pair(&mut p, &[]);
        assert_eq!(p, [2.5, 3.0, 0.0]);
        // With row 0 in the message it picks class 0: unchanged.
        let mut p = [3.0, 2.5, 0.0];
        model.decide_pair(&mut p, &[(0, 1.0)]);
        assert_eq!(p, [3.0, 2.5, 0.0]);
        // Whichever order the two best come in.
        let mut p = [2.5, 3.0, 0.0];
        model.decide_pair(&mut p, &[(0, 1.0)]);
        assert_eq!(p, [3.0, 2.5, 0.0]);
        // Not close: the pair model is not asked.
        let mut p = [9.0, 2.5, 0.0];
        model.decide_pair(&mut p, &[]);
        assert_eq!(p, [9.0, 2.5, 0.0]);
        // No pair model for the two best.
        let mut p = [3.0, 0.0, 2.5];
        model.decide_pair(&mut p, &[]);
        assert_eq!(p, [3.0, 0.0, 2.5]);
    }

    /// Every example's cosine similarity, the slow way.
    fn all_similarities(index: &Index, query: &[(u32, f32)]) -> Vec<f32> {
        let mut dots = vec![0f32; index.n_examples()];
        for (id, qw) in query {
            for (doc, dw) in index.posting_list(*id) {
                dots[*doc as usize] += qw * dw;
            }
        }
        dots
    }

    #[test]
    fn pruned_example_scores_equal_full_ones_above_the_floor() {
        let dir = tempfile::tempdir().expect("temp dir");
        let synth = crate::synth::Synth::new(400, 5);
        synth.write(dir.path()).expect("write");
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut checked = 0;
        for (pack_dir, messages) in [
            (dir.path().to_path_buf(), synth.messages(200, 15, 9)),
            (
                root.join("intents/caremark"),
                std::fs::read_to_string(root.join("tests/data/heldout.jsonl"))
                    .expect("corpus")
                    .lines()
                    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                    .filter_map(|v| v["text"].as_str().map(str::to_string))
                    .collect(),
            ),
        ] {
            let (engine, _) = crate::Engine::load_dir(&pack_dir).expect("loads");
            let index = &engine.index;
            let mut dots = Vec::new();
            for m in &messages {
                let a = engine.analyzer.analyze(&crate::normalize::fold(m));
                let mut feats = Vec::new();
                features(&a.tokens, &mut feats);
                let mut query = tfidf(&feats, &index.examples.features, &index.examples.info);
                let full = all_similarities(index, &query);
                let pruned = index.best_examples(&mut query, &mut dots, usize::MAX, usize::MAX);
                assert!(
                    dots.iter().all(|d| *d == 0.0),
                    "the accumulator is left clean"
                );
                // The best similarity of each intent at or above the floor, both
                // ways (ties may pick a different example of the same score).
                let mut expected: Vec<(u32, f32)> = Vec::new();
                for (doc, sim) in full.iter().enumerate() {
                    let (ii, _) = index.example_of(doc as u32);
                    if *sim >= SIMILARITY_FLOOR {
                        match expected.iter_mut().find(|e| e.0 == ii) {
                            Some(e) => e.1 = e.1.max(*sim),
                            None => expected.push((ii, *sim)),
                        }
                    }
                }
                let mut got: Vec<(u32, f32)> = pruned
                    .iter()
                    .filter(|(_, sim, _)| *sim >= SIMILARITY_FLOOR)
                    .map(|(ii, sim, _)| (*ii, *sim))
                    .collect();
                expected.sort_unstable_by_key(|e| e.0);
                got.sort_unstable_by_key(|e| e.0);
                assert_eq!(got.len(), expected.len(), "{m:?}: {got:?} {expected:?}");
                for (g, e) in got.iter().zip(&expected) {
                    assert!(g.0 == e.0 && (g.1 - e.1).abs() < 1e-5, "{m:?}: {g:?} {e:?}");
                }
                for (ii, sim, ei) in &pruned {
                    let doc = (index.examples.intent_docs[*ii as usize] + ei) as usize;
                    if *sim >= SIMILARITY_FLOOR {
                        assert!((sim - full[doc]).abs() < 1e-5, "{m:?}");
                    }
                }
                checked += 1;
            }
        }
        assert!(checked > 300);
    }

    #[test]
    fn the_work_budget_keeps_the_best_example_on_large_packs() {
        let dir = tempfile::tempdir().expect("temp dir");
        let synth = crate::synth::Synth::new(3_000, 11);
        synth.write(dir.path()).expect("write");
        let (engine, _) = crate::Engine::load_dir(dir.path()).expect("loads");
        let index = &engine.index;
        let mut dots = Vec::new();
        let (mut same, mut over_budget) = (0, 0);
        let (mut right_exact, mut right_budgeted) = (0, 0);
        let messages = synth.labelled_messages(200, 15, 4);
        for (truth, m) in &messages {
            let a = engine.analyzer.analyze(&crate::normalize::fold(m));
            let mut feats = Vec::new();
            features(&a.tokens, &mut feats);
            let query = tfidf(&feats, &index.examples.features, &index.examples.info);
            let top = |budget: usize, dots: &mut Vec<f32>| {
                let mut q = query.clone();
                index
                    .best_examples(&mut q, dots, budget, budget)
                    .into_iter()
                    .max_by(|x, y| x.1.total_cmp(&y.1))
                    .map(|b| b.0)
            };
            let exact = top(usize::MAX, &mut dots);
            let budgeted = {
                let mut q = query.clone();
                index
                    .best_examples(&mut q, &mut dots, EXAMPLE_WORK_BUDGET, RESOLVED_MAX)
                    .into_iter()
                    .max_by(|x, y| x.1.total_cmp(&y.1))
                    .map(|b| b.0)
            };
            same += usize::from(exact == budgeted);
            right_exact += usize::from(exact == Some(*truth as u32));
            right_budgeted += usize::from(budgeted == Some(*truth as u32));
            let walked: usize = query
                .iter()
                .map(|(id, _)| index.posting_list(*id).len())
                .sum();
            over_budget += usize::from(walked > EXAMPLE_WORK_BUDGET);
        }
        assert!(
            over_budget > 100,
            "the budget was reached {over_budget} times"
        );
        assert!(
            same * 100 >= messages.len() * 97,
            "the best intent by example changed in {} of {}",
            messages.len() - same,
            messages.len()
        );
        // Measured against what each message is about, the budget costs at most
        // one point.
        assert!(
            right_budgeted + 2 >= right_exact,
            "{right_budgeted} right with the budget, {right_exact} without"
        );
    }
}
