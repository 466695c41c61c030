//! Pack-aware analysis: folded text -> tokens with stems, synonyms, lookups, typo
//! corrections, negation scope and the message's language.
//!
//! The same pipeline runs over the pack's own phrases and examples (without typo
//! correction) and over members' messages, so both sides meet in one vocabulary.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use rust_stemmers::Stemmer;

/// A word: short words (nearly all) live inline, without a heap allocation.
pub type Word = compact_str::CompactString;

use crate::normalize::fold;
use crate::pack::Pack;

/// One analysed word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The word after typo correction and synonyms (or `@lookup`, `pii_ssn`).
    pub surface: Word,
    /// The stem used for matching.
    pub stem: Word,
    /// Inside the scope of a negation ("not a *billing question*").
    pub negated: bool,
    /// A common function word of one of the pack's languages (a marker word).
    pub stop: bool,
    /// In a clause about the past ("had a stroke in 2021"): emergency evidence
    /// here is history.
    pub past: bool,
    /// Taken back by the member ("I was going to ask about my *bill*, but"):
    /// counts like a negated mention, except for emergencies.
    pub retracted: bool,
}

/// A message (or pack phrase) after analysis.
#[derive(Clone, Debug, Default)]
pub struct Analyzed {
    /// The tokens in order.
    pub tokens: Vec<Token>,
    /// Index into `Pack::languages`.
    pub language: usize,
    /// `" stem stem … "`: what phrases are matched against.
    pub stem_text: String,
    /// Byte offset in `stem_text` where each token starts.
    pub stem_starts: Vec<usize>,
    /// `" word word c_class … "`: the tokens' surface words (corrected, synonyms
    /// applied, lookup terms as `c_name`): what patterns are matched against.
    pub pattern_text: String,
    /// Byte offset in `pattern_text` where each token starts.
    pub pattern_starts: Vec<usize>,
    /// Typo corrections made: (typed, corrected).
    pub corrections: Vec<(String, String)>,
}

impl Analyzed {
    /// The token that starts at or covers byte `offset` of `stem_text`.
    pub fn token_at_stem(&self, offset: usize) -> usize {
        token_at(&self.stem_starts, offset)
    }

    /// Whether the token at byte `offset` of `pattern_text` is negated.
    pub fn pattern_negated_at(&self, offset: usize) -> bool {
        let i = token_at(&self.pattern_starts, offset);
        self.tokens.get(i).is_some_and(|t| t.negated)
    }

    /// Whether the token at byte `offset` of `pattern_text` was taken back.
    pub fn pattern_retracted_at(&self, offset: usize) -> bool {
        let i = token_at(&self.pattern_starts, offset);
        self.tokens.get(i).is_some_and(|t| t.retracted)
    }

    /// Whether the token at byte `offset` of `pattern_text` is in a past clause.
    pub fn pattern_past_at(&self, offset: usize) -> bool {
        let i = token_at(&self.pattern_starts, offset);
        self.tokens.get(i).is_some_and(|t| t.past)
    }
}

fn token_at(starts: &[usize], offset: usize) -> usize {
    match starts.binary_search(&offset) {
        Ok(i) => i,
        Err(0) => 0,
        Err(i) => i - 1,
    }
}

/// The pack's vocabulary and word rules, built once per pack.
pub struct Analyzer {
    stemmers: Vec<Stemmer>,
    /// What each function word is: marker of which languages, negator, clause break.
    roles: HashMap<String, WordRole>,
    n_languages: usize,
    default_language: usize,
    /// Stems of the pack's own words, per language, so messages rarely run a stemmer.
    stem_cache: Vec<HashMap<String, Word>>,
    /// First words of multi-word synonym and lookup terms.
    synonym_first: HashSet<Word>,
    lookup_first: HashSet<Word>,
    /// Multi-word and single-word synonym terms -> canonical words.
    synonyms: HashMap<Vec<Word>, Vec<Word>>,
    synonym_max_len: usize,
    /// Lookup terms (after synonyms) -> `@name`.
    lookups: HashMap<Vec<Word>, Word>,
    lookup_max_len: usize,
    /// Past and present marker phrases of every language.
    past_markers: Markers,
    present_markers: Markers,
    /// Second thoughts: phrases that take back what came before them, and
    /// phrases that take back the rest of their clause.
    retract_before: Markers,
    retract_clause: Markers,
    /// Known surface words with their frequency in the pack.
    vocab: HashMap<String, u32>,
    /// Sorted word lists of the pack's languages (one word per line): real words
    /// are never corrected. Searched in place, so loading them costs nothing.
    dictionaries: Vec<std::sync::Arc<str>>,
    /// Per language: whether typo correction runs (it has a dictionary).
    corrects: Vec<bool>,
    /// Stems of known words, per language: an inflected known word is not a typo.
    known_stems: HashSet<String>,
    words: Vec<String>,
    /// Hash of every word with up to one or two letters deleted -> word ids: the
    /// SymSpell index (a collision only costs one edit-distance check).
    deletes: HashMap<u64, Vec<u32>>,
}

/// Marker phrases (word sequences, none empty), found through their first word.
#[derive(Default)]
struct Markers {
    seqs: Vec<Vec<Word>>,
    by_first: HashMap<Word, Vec<u32>>,
}

impl Markers {
    fn extend(&mut self, seqs: Vec<Vec<Word>>) {
        for seq in seqs {
            let Some(first) = seq.first() else { continue };
            let id = self.seqs.len() as u32;
            self.by_first.entry(first.clone()).or_default().push(id);
            self.seqs.push(seq);
        }
    }

    fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }

    /// Where the markers occur in `clause`, as word ranges: one hash lookup per
    /// word instead of comparing every marker at every place.
    fn spans(&self, clause: &[(Word, bool)]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (i, (w, _)) in clause.iter().enumerate() {
            let Some(ids) = self.by_first.get(w) else {
                continue;
            };
            for &id in ids {
                let m = &self.seqs[id as usize];
                let end = i + m.len();
                if end <= clause.len() && clause[i..end].iter().zip(m).all(|((a, _), b)| a == b) {
                    out.push((i, end));
                }
            }
        }
        out
    }
}

/// The roles a function word plays.
#[derive(Clone, Copy, Debug, Default)]
struct WordRole {
    /// Bit `i`: a marker of language `i`.
    markers: u64,
    negator: bool,
    clause_break: bool,
    /// "make sure", "check": a negator right after it is what to check.
    check: bool,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("vocab", &self.vocab.len())
            .field("synonyms", &self.synonyms.len())
            .field("lookups", &self.lookups.len())
            .finish_non_exhaustive()
    }
}

/// Words of a folded text, before any pack rules: (word, clause break before it).
fn split_words(folded: &str, allow_class_refs: bool) -> Vec<(Word, bool)> {
    let mut out = Vec::with_capacity(folded.len() / 4 + 1);
    let mut pending_break = false;
    let bytes = folded.as_bytes();
    // Start of the word being read; words are ASCII, so byte slices are `str`s.
    let mut start: Option<usize> = None;
    let flush =
        |end: usize, start: &mut Option<usize>, out: &mut Vec<(Word, bool)>, pending: &mut bool| {
            if let Some(s) = start.take() {
                let w = folded[s..end].trim_matches('\'');
                if !w.is_empty() {
                    out.push((Word::from(w), *pending));
                    *pending = false;
                }
            }
        };
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'[' {
            // PII placeholders: [SSN] -> pii_ssn
            if let Some(end) = folded[i + 1..].find(']') {
                let inner = &folded[i + 1..i + 1 + end];
                if !inner.is_empty() && inner.bytes().all(|c| c.is_ascii_lowercase() || c == b'_') {
                    flush(i, &mut start, &mut out, &mut pending_break);
                    out.push((compact_str::format_compact!("pii_{inner}"), pending_break));
                    pending_break = false;
                    i += end + 2;
                    continue;
                }
            }
        }
        let class_ref_char = allow_class_refs && (c == b'_' || (c == b'@' && start.is_none()));
        if c.is_ascii_alphanumeric() || c == b'\'' || class_ref_char {
            start.get_or_insert(i);
        } else {
            flush(i, &mut start, &mut out, &mut pending_break);
            let spaced_dash = c == b'-' && i > 0 && bytes[i - 1] == b' ';
            // An opening parenthesis continues its clause ("last year I had a
            // reaction (hives and swelling)" tells history all through); the
            // closing one ends it ("(it was reflux) and now I got billed").
            if spaced_dash || matches!(c, b'.' | b',' | b';' | b':' | b'!' | b'?' | b'"' | b')') {
                pending_break = true;
            }
        }
        i += 1;
    }
    flush(bytes.len(), &mut start, &mut out, &mut pending_break);
    out
}

/// Expands English contractions, with or without the apostrophe.
fn expand_contraction(word: &str) -> Option<&'static [&'static str]> {
    Some(match word {
        "can't" | "cant" | "cannot" => &["can", "not"],
        "won't" | "wont" => &["will", "not"],
        "ain't" => &["is", "not"],
        "don't" | "dont" => &["do", "not"],
        "doesn't" | "doesnt" => &["does", "not"],
        "didn't" | "didnt" => &["did", "not"],
        "isn't" | "isnt" => &["is", "not"],
        "aren't" | "arent" => &["are", "not"],
        "wasn't" | "wasnt" => &["was", "not"],
        "weren't" | "werent" => &["were", "not"],
        "haven't" | "havent" => &["have", "not"],
        "hasn't" | "hasnt" => &["has", "not"],
        "hadn't" | "hadnt" => &["had", "not"],
        "wouldn't" | "wouldnt" => &["would", "not"],
        "couldn't" | "couldnt" => &["could", "not"],
        "shouldn't" | "shouldnt" => &["should", "not"],
        "i'm" | "im" => &["i", "am"],
        "i've" | "ive" => &["i", "have"],
        "i'll" => &["i", "will"],
        "i'd" => &["i", "would"],
        "it's" => &["it", "is"],
        "that's" | "thats" => &["that", "is"],
        "what's" | "whats" => &["what", "is"],
        "where's" | "wheres" => &["where", "is"],
        "who's" => &["who", "is"],
        "there's" | "theres" => &["there", "is"],
        "you're" | "youre" => &["you", "are"],
        "they're" => &["they", "are"],
        "we're" => &["we", "are"],
        "let's" => &["let", "us"],
        "u" => &["you"],
        "ur" => &["your"],
        "pls" | "plz" | "pleas" => &["please"],
        "w/" => &["with"],
        "thru" => &["through"],
        "wanna" => &["want", "to"],
        "gonna" => &["going", "to"],
        "gotta" => &["have", "to"],
        _ => return None,
    })
}

/// Splits a folded text into words with contractions expanded.
fn words_of(folded: &str, allow_class_refs: bool) -> Vec<(Word, bool)> {
    let mut out = Vec::with_capacity(folded.len() / 4 + 4);
    for (w, brk) in split_words(folded, allow_class_refs) {
        if let Some(parts) = expand_contraction(&w) {
            for (i, p) in parts.iter().enumerate() {
                out.push((Word::const_new(p), brk && i == 0));
            }
            continue;
        }
        // Generic suffixes: "mom's" -> "mom", "they'll" -> "they will".
        if let Some((head, tail)) = w.split_once('\'') {
            match tail {
                "s" | "" => out.push((Word::from(head), brk)),
                "ll" => {
                    out.push((Word::from(head), brk));
                    out.push(("will".into(), false));
                }
                "re" => {
                    out.push((Word::from(head), brk));
                    out.push(("are".into(), false));
                }
                "ve" => {
                    out.push((Word::from(head), brk));
                    out.push(("have".into(), false));
                }
                "d" => {
                    out.push((Word::from(head), brk));
                    out.push(("would".into(), false));
                }
                "t" if head.ends_with('n') => {
                    out.push((Word::from(&head[..head.len() - 1]), brk));
                    out.push(("not".into(), false));
                }
                _ => out.push((w.replace('\'', "").into(), brk)),
            }
            continue;
        }
        out.push((w, brk));
    }
    out
}

/// Words a negator covers.
const NEGATION_SCOPE: usize = 4;

/// How many words after a check word ("make sure it does not") a negator is
/// still what to check rather than a denial.
const CHECK_REACH: usize = 4;

/// Greedy longest-match replacement of word sequences.
fn replace_sequences<T: Clone>(
    mut words: Vec<(Word, bool)>,
    table: &HashMap<Vec<Word>, T>,
    first_words: &HashSet<Word>,
    max_len: usize,
    mut emit: impl FnMut(&mut Vec<(Word, bool)>, &T, bool),
) -> Vec<(Word, bool)> {
    // Most messages contain no term at all: hand the words back untouched.
    let Some(first) = words.iter().position(|(w, _)| first_words.contains(w)) else {
        return words;
    };
    let mut out = Vec::with_capacity(words.len());
    out.extend(words.drain(..first));
    let words = words;
    let mut i = 0;
    let mut key: Vec<Word> = Vec::with_capacity(max_len);
    'outer: while i < words.len() {
        if !first_words.contains(&words[i].0) {
            out.push(words[i].clone());
            i += 1;
            continue;
        }
        let longest = max_len.min(words.len() - i);
        for n in (1..=longest).rev() {
            // A multi-word term never spans a clause break.
            if words[i + 1..i + n].iter().any(|(_, brk)| *brk) {
                continue;
            }
            key.clear();
            key.extend(words[i..i + n].iter().map(|(w, _)| w.clone()));
            if let Some(value) = table.get(&key) {
                emit(&mut out, value, words[i].1);
                i += n;
                continue 'outer;
            }
        }
        out.push(words[i].clone());
        i += 1;
    }
    out
}

/// Binary search for `word` among the lines of `text`, which are sorted bytewise.
pub(crate) fn sorted_lines_contain(text: &str, word: &str) -> bool {
    let bytes = text.as_bytes();
    let (mut lo, mut hi) = (0usize, bytes.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        // The line that contains `mid`.
        let start = bytes[..mid]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let end = bytes[mid..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(bytes.len(), |i| mid + i);
        let line = text[start..end].trim_end_matches('\r');
        match line.cmp(word) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => lo = end + 1,
            std::cmp::Ordering::Greater => hi = start,
        }
    }
    false
}

fn is_plain_word(w: &str) -> bool {
    w.bytes().all(|b| b.is_ascii_lowercase())
}

/// Most edits allowed when correcting a word of this length.
fn max_edits(len: usize) -> usize {
    match len {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// Hashes of `word` and of every variant with one (and, at depth 2, two) letters
/// deleted, sorted and without repeats. No strings are built.
fn delete_hashes(word: &[u8], depth: usize, out: &mut Vec<u64>) {
    use std::hash::Hasher;
    let hash = |skip_a: usize, skip_b: usize| {
        let mut h = rustc_hash::FxHasher::default();
        for (k, b) in word.iter().enumerate() {
            if k != skip_a && k != skip_b {
                h.write_u8(*b);
            }
        }
        h.finish()
    };
    let none = usize::MAX;
    out.push(hash(none, none));
    if depth >= 1 && word.len() > 2 {
        for i in 0..word.len() {
            out.push(hash(i, none));
            if depth >= 2 && word.len() > 3 {
                for j in i + 1..word.len() {
                    out.push(hash(i, j));
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
}

impl Analyzer {
    /// Builds the analyzer for `pack`: stemmers, synonym and lookup tables, and the
    /// vocabulary for typo correction (every word the pack itself uses).
    pub fn new(pack: &Pack) -> Analyzer {
        let stemmers = pack
            .languages
            .iter()
            .map(|l| Stemmer::create(l.stemmer))
            .collect();
        let mut roles: HashMap<String, WordRole> = HashMap::default();
        for (i, l) in pack.languages.iter().enumerate().take(64) {
            for w in &l.markers {
                roles.entry(w.clone()).or_default().markers |= 1 << i;
            }
            for w in &l.negators {
                roles.entry(w.clone()).or_default().negator = true;
            }
            for w in &l.clause_breaks {
                roles.entry(w.clone()).or_default().clause_break = true;
            }
            for w in &l.check_words {
                roles.entry(w.clone()).or_default().check = true;
            }
        }
        let mut analyzer = Analyzer {
            stemmers,
            roles,
            n_languages: pack.languages.len().min(64),
            default_language: pack.default_language,
            stem_cache: vec![HashMap::default(); pack.languages.len()],
            synonym_first: HashSet::default(),
            lookup_first: HashSet::default(),
            synonyms: HashMap::default(),
            synonym_max_len: 1,
            lookups: HashMap::default(),
            lookup_max_len: 1,
            vocab: HashMap::default(),
            known_stems: HashSet::default(),
            corrects: pack
                .languages
                .iter()
                .map(|l| l.dictionary.is_some())
                .collect(),
            dictionaries: pack
                .languages
                .iter()
                .filter_map(|l| l.dictionary)
                .map(|file| std::sync::Arc::from(pack.files[file].1.as_str()))
                .collect(),
            words: Vec::new(),
            deletes: HashMap::default(),
            past_markers: Markers::default(),
            present_markers: Markers::default(),
            retract_before: Markers::default(),
            retract_clause: Markers::default(),
        };
        for l in &pack.languages {
            let seqs = |list: &[String]| -> Vec<Vec<Word>> {
                list.iter()
                    .map(|m| {
                        words_of(m, false)
                            .into_iter()
                            .map(|w| w.0)
                            .collect::<Vec<Word>>()
                    })
                    .filter(|v: &Vec<Word>| !v.is_empty())
                    .collect()
            };
            analyzer.past_markers.extend(seqs(&l.past_markers));
            analyzer.present_markers.extend(seqs(&l.present_markers));
            analyzer.retract_before.extend(seqs(&l.retract_before));
            analyzer.retract_clause.extend(seqs(&l.retract_clause));
        }
        for group in &pack.synonyms {
            let canonical: Vec<Word> = words_of(&group.canonical, false)
                .into_iter()
                .map(|w| w.0)
                .collect();
            for term in &group.terms {
                let key: Vec<Word> = words_of(term, false).into_iter().map(|w| w.0).collect();
                if key.is_empty() || key == canonical {
                    continue;
                }
                analyzer.synonym_max_len = analyzer.synonym_max_len.max(key.len());
                analyzer.synonym_first.insert(key[0].clone());
                analyzer
                    .synonyms
                    .entry(key)
                    .or_insert_with(|| canonical.clone());
            }
        }
        for lookup in &pack.lookups {
            for term in &lookup.terms {
                let words = analyzer.apply_synonyms(words_of(term, false));
                let key: Vec<Word> = words.into_iter().map(|w| w.0).collect();
                if key.is_empty() {
                    continue;
                }
                analyzer.lookup_max_len = analyzer.lookup_max_len.max(key.len());
                analyzer.lookup_first.insert(key[0].clone());
                analyzer
                    .lookups
                    .entry(key)
                    .or_insert_with(|| compact_str::format_compact!("@{}", lookup.name));
            }
        }
        // Vocabulary: every word of every phrase, example, synonym and lookup term.
        let mut texts: Vec<&str> = Vec::new();
        for intent in &pack.intents {
            texts.extend(intent.phrases.iter().map(String::as_str));
            texts.extend(intent.hints.iter().map(String::as_str));
            texts.extend(intent.examples.iter().map(String::as_str));
            texts.extend(intent.negative.iter().map(String::as_str));
        }
        for group in &pack.synonyms {
            texts.push(&group.canonical);
            texts.extend(group.terms.iter().map(String::as_str));
        }
        for lookup in &pack.lookups {
            texts.extend(lookup.terms.iter().map(String::as_str));
        }
        for language in &pack.languages {
            texts.extend(language.markers.iter().map(String::as_str));
            texts.extend(language.negators.iter().map(String::as_str));
        }
        // Counted in parallel chunks, then merged: counts add up the same in any order.
        let mut counts = crate::par::chunks(&texts, 1, |texts| {
            let mut vocab: HashMap<String, u32> = HashMap::default();
            for text in texts {
                for (w, _) in words_of(&fold(text), true) {
                    if is_plain_word(&w) {
                        // Most words repeat: count them without allocating a key.
                        match vocab.get_mut(w.as_str()) {
                            Some(n) => *n += 1,
                            None => {
                                vocab.insert(w.into_string(), 1);
                            }
                        }
                    }
                }
            }
            vocab
        })
        .into_iter();
        let mut vocab = counts.next().unwrap_or_default();
        for more in counts {
            for (w, n) in more {
                *vocab.entry(w).or_default() += n;
            }
        }
        let mut words: Vec<String> = vocab.keys().cloned().collect();
        words.sort_unstable();
        // Stems (for every language) and the typo index are independent.
        let stemmers = &analyzer.stemmers;
        let (stems, deletes) = std::thread::scope(|scope| {
            let deletes = scope.spawn(|| {
                let mut deletes: HashMap<u64, Vec<u32>> = HashMap::default();
                let mut ds: Vec<u64> = Vec::with_capacity(64);
                for (id, w) in words.iter().enumerate() {
                    if w.len() < 4 {
                        continue;
                    }
                    // Words that may be reached with two edits need two-deep deletes.
                    let depth = if w.len() >= 8 { 2 } else { 1 };
                    ds.clear();
                    delete_hashes(w.as_bytes(), depth, &mut ds);
                    for &d in &ds {
                        deletes.entry(d).or_default().push(id as u32);
                    }
                }
                deletes
            });
            let stems: Vec<Vec<String>> = stemmers
                .iter()
                .map(|s| words.iter().map(|w| s.stem(w).into_owned()).collect())
                .collect();
            let deletes = deletes
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            (stems, deletes)
        });
        for (lang, stems) in stems.into_iter().enumerate() {
            let cache = &mut analyzer.stem_cache[lang];
            cache.reserve(words.len());
            for (w, stem) in words.iter().zip(stems) {
                cache.insert(w.clone(), Word::from(stem.as_str()));
                analyzer.known_stems.insert(stem);
            }
        }
        analyzer.deletes = deletes;
        analyzer.vocab = vocab;
        analyzer.words = words;
        analyzer
    }

    fn apply_synonyms(&self, words: Vec<(Word, bool)>) -> Vec<(Word, bool)> {
        if self.synonyms.is_empty() {
            return words;
        }
        replace_sequences(
            words,
            &self.synonyms,
            &self.synonym_first,
            self.synonym_max_len,
            |out, canonical, brk| {
                for (i, w) in canonical.iter().enumerate() {
                    out.push((w.clone(), brk && i == 0));
                }
            },
        )
    }

    /// The closest known word to an unknown `word`, if one is close enough.
    fn correct(&self, word: &str) -> Option<&str> {
        let allowed = max_edits(word.len());
        if allowed == 0
            || self.vocab.contains_key(word)
            || !is_plain_word(word)
            || self
                .dictionaries
                .iter()
                .any(|d| sorted_lines_contain(d, word))
        {
            return None;
        }
        if self
            .stemmers
            .iter()
            .any(|s| self.known_stems.contains(s.stem(word).as_ref()))
        {
            return None;
        }
        let mut candidates = Vec::with_capacity(64);
        delete_hashes(word.as_bytes(), allowed, &mut candidates);
        let mut best: Option<(usize, std::cmp::Reverse<u32>, &str)> = None;
        for d in &candidates {
            let Some(ids) = self.deletes.get(d) else {
                continue;
            };
            for &id in ids {
                let w = self.words[id as usize].as_str();
                let limit = allowed.min(max_edits(w.len())).max(1);
                let dist = strsim::osa_distance(word, w);
                if dist > limit {
                    continue;
                }
                let key = (dist, std::cmp::Reverse(self.vocab[w]), w);
                if best.is_none_or(|b| key < b) {
                    best = Some(key);
                }
            }
        }
        best.map(|b| b.2)
    }

    /// Which language `words` are in, by the pack's marker words.
    fn detect_language(&self, words: &[(Word, bool)]) -> usize {
        let mut counts = [0usize; 64];
        for (w, _) in words {
            if let Some(role) = self.roles.get(w.as_str()) {
                for (lang, count) in counts.iter_mut().enumerate().take(self.n_languages) {
                    if role.markers & (1 << lang) != 0 {
                        *count += 1;
                    }
                }
            }
        }
        let default_count = counts[self.default_language];
        let mut best = self.default_language;
        for (lang, &n) in counts.iter().enumerate().take(self.n_languages) {
            // Another language needs two markers, or one with none of the default's,
            // and more markers than the language chosen so far.
            let enough = n >= 2 || (n == 1 && default_count == 0);
            if lang != self.default_language && enough && n > counts[best] {
                best = lang;
            }
        }
        best
    }

    /// The stem of `word` in `language`, from the cache when the pack knows it.
    fn stem(&self, language: usize, word: &str) -> Word {
        match self.stem_cache[language].get(word) {
            Some(stem) => stem.clone(),
            None => Word::from(self.stemmers[language].stem(word)),
        }
    }

    /// Analyses a member's message (folded text): typo correction on.
    pub fn analyze(&self, folded: &str) -> Analyzed {
        self.run(folded, None, true)
    }

    /// Analyses pack text (a phrase or example) in a given language, or in the
    /// language detected from the text itself when `language` is `None`.
    pub fn analyze_pack_text(&self, text: &str, language: Option<usize>) -> Analyzed {
        self.run(&fold(text), language, false)
    }

    /// The tokens of pack text (an example) and nothing else: what the example
    /// index is built from, without the texts an [`Analyzed`] also carries.
    pub(crate) fn pack_text_tokens(&self, text: &str) -> Vec<Token> {
        self.tokens(&fold(text), None, false).0
    }

    /// Tokens, language and typo corrections of folded text (`language`:
    /// detected when `None`).
    fn tokens(
        &self,
        folded: &str,
        language: Option<usize>,
        correct: bool,
    ) -> (Vec<Token>, usize, Vec<(String, String)>) {
        let mut words = words_of(folded, !correct);
        let language = language.unwrap_or_else(|| self.detect_language(&words));
        let mut corrections = Vec::new();
        // Correction needs the language's dictionary to tell real words from typos;
        // without one (e.g. Spanish here) it would "fix" correct words.
        if correct && self.corrects[language] {
            for (w, _) in &mut words {
                if let Some(fixed) = self.correct(w) {
                    corrections.push((w.to_string(), fixed.to_string()));
                    *w = Word::from(fixed);
                }
            }
        }
        let words = self.apply_synonyms(words);

        // Negation: a negator covers the next few words up to a clause break.
        let mut negated = Vec::with_capacity(words.len());
        let mut scope = 0usize;
        // Words since a check word ("sure", "check") in this clause, if any.
        let mut since_check: Option<usize> = None;
        for (w, brk) in &words {
            let role = self.roles.get(w.as_str()).copied().unwrap_or_default();
            if *brk || role.clause_break {
                scope = 0;
                since_check = None;
            }
            since_check = if role.check {
                Some(0)
            } else {
                since_check.map(|n| n + 1).filter(|&n| n <= CHECK_REACH)
            };
            // "check it doesn't clash": the clash is the question, not denied.
            let is_negator = role.negator && since_check.is_none();
            // "not the app or the chat": a disjunction right after a negated word
            // carries the scope over its second half.
            let or = matches!(w.as_str(), "or" | "nor") && negated.last() == Some(&true);
            negated.push((scope > 0 || or) && !is_negator);
            scope = scope.saturating_sub(1);
            if is_negator || or {
                scope = NEGATION_SCOPE;
            }
        }

        let past = self.past_clauses(&words);
        let retracted = self.retracted(&words);

        // Lookup terms collapse into their class token (`@specialty_drug`).
        let mut words = words;
        let mut tokens = Vec::with_capacity(words.len());
        let mut i = 0;
        while i < words.len() {
            let (surface, n) = self
                .lookup_at(&words, i)
                .unwrap_or_else(|| (std::mem::take(&mut words[i].0), 1));
            let stem = if surface.starts_with('@')
                || surface.starts_with("pii_")
                || !is_plain_word(&surface)
            {
                surface.clone()
            } else {
                self.stem(language, &surface)
            };
            let stop = self
                .roles
                .get(surface.as_str())
                .is_some_and(|r| r.markers != 0);
            tokens.push(Token {
                surface,
                stem,
                negated: negated[i],
                stop,
                past: past[i],
                retracted: retracted[i],
            });
            i += n;
        }
        (tokens, language, corrections)
    }

    fn run(&self, folded: &str, language: Option<usize>, correct: bool) -> Analyzed {
        let (tokens, language, corrections) = self.tokens(folded, language, correct);
        let (stem_text, stem_starts) = join(tokens.iter().map(|t| t.stem.as_str()));
        // In pattern text a class token is a plain word (`c_name`), so `\b` works
        // around it.
        let mut pattern_text = String::with_capacity(stem_text.len() + 16);
        let mut pattern_starts = Vec::with_capacity(tokens.len());
        pattern_text.push(' ');
        for t in &tokens {
            pattern_starts.push(pattern_text.len());
            match t.surface.strip_prefix('@') {
                Some(name) => {
                    pattern_text.push_str("c_");
                    pattern_text.push_str(name);
                }
                None => pattern_text.push_str(&t.surface),
            }
            pattern_text.push(' ');
        }
        Analyzed {
            tokens,
            language,
            stem_text,
            stem_starts,
            pattern_text,
            pattern_starts,
            corrections,
        }
    }

    /// Per word: whether its clause (words between clause breaks) names a past
    /// time ("years ago", "in 2021", "turned out") and no present one ("now",
    /// "again"). Without past markers in the pack, nothing is past.
    fn past_clauses(&self, words: &[(Word, bool)]) -> Vec<bool> {
        let mut out = vec![false; words.len()];
        if self.past_markers.is_empty() {
            return out;
        }
        // "in 2021", "back in 1998": a year after a preposition.
        let year = |clause: &[(Word, bool)]| {
            clause.windows(2).any(|w| {
                matches!(w[0].0.as_str(), "in" | "since" | "en" | "desde")
                    && w[1].0.len() == 4
                    && (w[1].0.starts_with("19") || w[1].0.starts_with("20"))
                    && w[1].0.bytes().all(|b| b.is_ascii_digit())
            })
        };
        let mut start = 0;
        for end in 1..=words.len() {
            let boundary = end == words.len() || {
                let (w, brk) = &words[end];
                *brk || self.roles.get(w.as_str()).is_some_and(|r| r.clause_break)
            };
            if !boundary {
                continue;
            }
            let clause = &words[start..end];
            let past = self.past_markers.spans(clause);
            // A present word inside a past marker ("doing well now") is part of it.
            let present = || {
                self.present_markers
                    .spans(clause)
                    .into_iter()
                    .any(|(s, e)| !past.iter().any(|&(ps, pe)| ps <= s && e <= pe))
            };
            if (!past.is_empty() || year(clause)) && !present() {
                out[start..end].fill(true);
            }
            start = end;
        }
        out
    }

    /// Per word: whether the member took it back. Everything up to the end of
    /// the last "no wait" / "never mind" (`retract_before`), and the rest of the clause
    /// after "I was going to" (`retract_clause`).
    fn retracted(&self, words: &[(Word, bool)]) -> Vec<bool> {
        let mut out = vec![false; words.len()];
        if self.retract_before.is_empty() && self.retract_clause.is_empty() {
            return out;
        }
        // The marker itself too: "the bill can wait" takes back its bill.
        if let Some(end) = self.retract_before.spans(words).iter().map(|s| s.1).max() {
            out[..end].fill(true);
        }
        for (_, end) in self.retract_clause.spans(words) {
            for (i, (w, brk)) in words.iter().enumerate().skip(end) {
                if *brk || self.roles.get(w.as_str()).is_some_and(|r| r.clause_break) {
                    break;
                }
                out[i] = true;
            }
        }
        out
    }

    /// The longest lookup term starting at word `i`: (`@name`, words covered).
    fn lookup_at(&self, words: &[(Word, bool)], i: usize) -> Option<(Word, usize)> {
        if !self.lookup_first.contains(&words[i].0) {
            return None;
        }
        let longest = self.lookup_max_len.min(words.len() - i);
        let mut key: Vec<Word> = Vec::with_capacity(longest);
        for n in (1..=longest).rev() {
            if words[i + 1..i + n].iter().any(|(_, brk)| *brk) {
                continue;
            }
            key.clear();
            key.extend(words[i..i + n].iter().map(|(w, _)| w.clone()));
            if let Some(class) = self.lookups.get(&key) {
                return Some((class.clone(), n));
            }
        }
        None
    }

    /// Every language's stem string of a pack phrase (deduplicated).
    pub fn phrase_keys(&self, phrase: &str) -> Vec<String> {
        let mut keys: Vec<String> = (0..self.stemmers.len())
            .map(|l| self.analyze_pack_text(phrase, Some(l)).stem_text)
            .filter(|k| !k.trim().is_empty())
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

/// `" a b c "` with the byte offset of each word.
fn join<'a>(words: impl Iterator<Item = &'a str> + Clone) -> (String, Vec<usize>) {
    let (n, len) = words
        .clone()
        .fold((0, 1), |(n, len), w| (n + 1, len + w.len() + 1));
    let mut text = String::with_capacity(len);
    text.push(' ');
    let mut starts = Vec::with_capacity(n);
    for w in words {
        starts.push(text.len());
        text.push_str(w);
        text.push(' ');
    }
    (text, starts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_words_and_placeholders() {
        let w: Vec<Word> = words_of("i can't find [ssn] mom's pills, ok", false)
            .into_iter()
            .map(|w| w.0)
            .collect();
        assert_eq!(
            w,
            ["i", "can", "not", "find", "pii_ssn", "mom", "pills", "ok"]
        );
    }

    /// The default pack's analyzer (its negators, clause words and synonyms).
    fn default_analyzer() -> Analyzer {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("intents/caremark");
        crate::Engine::load_dir(&dir)
            .expect("default pack")
            .0
            .analyzer
    }

    /// The words of `text` whose token has the flag `pick` reads.
    fn words_where(a: &Analyzer, text: &str, pick: fn(&Token) -> bool) -> Vec<String> {
        a.analyze(text)
            .tokens
            .iter()
            .filter(|t| pick(t))
            .map(|t| t.surface.to_string())
            .collect()
    }

    fn negated_words(a: &Analyzer, text: &str) -> Vec<String> {
        words_where(a, text, |t| t.negated)
    }

    #[test]
    fn a_negation_covers_a_few_words_and_both_halves_of_an_or() {
        let a = default_analyzer();
        // Four words, then it ends.
        assert_eq!(
            negated_words(&a, "not a billing question i need a refill"),
            ["a", "billing", "question", "i"]
        );
        // "or" right after a negated word carries the scope over its second half.
        let n = negated_words(
            &a,
            "not interested in the app or the chat thing i want a human",
        );
        assert!(n.iter().any(|w| w == "chat"), "{n:?}");
        assert!(!n.iter().any(|w| w == "human"), "{n:?}");
        // An "or" outside any negation negates nothing.
        assert!(negated_words(&a, "the app or the chat").is_empty());
        // A clause break still ends it.
        let n = negated_words(&a, "no app or website, but i want to chat online");
        assert!(!n.iter().any(|w| w == "chat"), "{n:?}");
    }

    #[test]
    fn a_negation_right_after_a_check_word_is_what_to_check() {
        let a = default_analyzer();
        // "make sure it doesn't interact": the interaction is the question.
        let n = negated_words(
            &a,
            "can a pharmacist make sure it does not interact with my others",
        );
        assert!(!n.iter().any(|w| w == "interact"), "{n:?}");
        // Without the check word it is a denial, as before.
        let n = negated_words(&a, "it does not interact with my others");
        assert!(n.iter().any(|w| w == "interact"), "{n:?}");
        // A clause break between them ends the check word's reach.
        let n = negated_words(&a, "please check my order, it has not arrived");
        assert!(n.iter().any(|w| w == "arrived"), "{n:?}");
    }

    #[test]
    fn second_thoughts_take_back_what_they_name() {
        let a = default_analyzer();
        let taken_back = |text: &str| words_where(&a, text, |t| t.retracted);
        // "was going to": the rest of its clause, not what follows the "but".
        let r = taken_back("i was going to ask about my bill but i want a person");
        assert!(r.iter().any(|w| w == "bill"), "{r:?}");
        assert!(!r.iter().any(|w| w == "person"), "{r:?}");
        // "no wait": everything before it.
        let r = taken_back("a charge on my account, no wait, i need my eob");
        assert!(r.iter().any(|w| w == "charge"), "{r:?}");
        assert!(!r.iter().any(|w| w == "eob"), "{r:?}");
        // Nothing to take back.
        assert!(taken_back("where is my order").is_empty());
    }

    #[test]
    fn clause_breaks_are_marked() {
        let w = words_of("no app. where is it", false);
        assert!(!w[0].1 && !w[1].1);
        assert!(w[2].1, "{w:?}");
        // An opening parenthesis continues its clause, a closing one ends it.
        let w = words_of("a reaction (hives) then", false);
        assert!(!w[2].1 && w[3].1, "{w:?}");
    }

    #[test]
    fn binary_search_in_sorted_lines() {
        let text = "able\nbaker\ncharlie\ndelta\n";
        for w in ["able", "baker", "charlie", "delta"] {
            assert!(sorted_lines_contain(text, w), "{w}");
        }
        for w in ["", "abl", "bakers", "zulu", "aaa"] {
            assert!(!sorted_lines_contain(text, w), "{w}");
        }
    }

    #[test]
    fn deletes_cover_two_edits() {
        let (mut abcd, mut ab, mut bcd) = (Vec::new(), Vec::new(), Vec::new());
        delete_hashes(b"abcd", 2, &mut abcd);
        delete_hashes(b"ab", 0, &mut ab);
        delete_hashes(b"bcd", 0, &mut bcd);
        assert!(abcd.contains(&ab[0]));
        assert!(abcd.contains(&bcd[0]));
    }
}
