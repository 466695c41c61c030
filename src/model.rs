//! A linear model over words and characters: one linear SVM per intent against the
//! rest, trained by `triage import` and stored in the pack (`[model]`, usually
//! `model.toml`), its scores turned into probabilities by a softmax and weighed
//! beside phrases, patterns and examples. Pair models refine it: for each pair of
//! intents the one-against-rest SVMs leave close on their own training data, an
//! SVM trained on those two intents' examples alone; when a message's two best
//! intents are such a pair and close, the pair model orders them.
//!
//! Features are a message's words (after typo correction and synonyms) and word
//! pairs (`w:card`, `w:my card`), and the 2- to 5-character pieces of each word
//! padded with a space on each side (`c: ca`, `c:card `): the pieces survive typos,
//! plurals and compounds that whole words miss. Each feature counts 1 + ln(count)
//! times its inverse document frequency, and the word features and the character
//! features are each scaled to unit length (TF-IDF). Features are stored by name,
//! so a model does not depend on a hash function. Training is deterministic: the
//! same data and settings give the same weights, bit for bit (each intent's SVM
//! visits the examples in a fixed order and depends on no other).

use std::collections::HashMap;
use std::fmt::Write;

use crate::analyze::Analyzed;
use crate::import::quoted;

/// The prefix of word and word-pair features.
pub const WORD: &str = "w:";
/// The prefix of character features.
pub const CHARS: &str = "c:";
/// The prefix of embedding features: `e:0`, `e:1`… are the components of the
/// message's mean word-piece vector (see [`crate::embed`]), each times its row's
/// idf, which for them is the weight of the whole block.
pub const EMBED: &str = "e:";
/// The shortest and longest character pieces.
const CHAR_MIN: usize = 2;
const CHAR_MAX: usize = 5;

/// A trained model: per intent (in `intents` order) a bias, and per feature its
/// inverse document frequency and its non-zero weights. Optionally, pair models:
/// an SVM for two classes the one-against-rest SVMs confuse, trained on those two
/// classes' examples alone, which decides between them when they are the two best
/// within `pair_margin`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinearModel {
    /// The intent id of each class.
    pub intents: Vec<String>,
    /// The bias of each class.
    pub bias: Vec<f32>,
    /// Every feature the model knows, sorted by name.
    pub features: Vec<Feature>,
    /// The pair models, by their classes (the first positive).
    pub pairs: Vec<Pair>,
    /// A pair model decides when its classes are the two best and their scores
    /// (before the softmax) are closer than this.
    pub pair_margin: f32,
}

/// One pair model of a [`LinearModel`]: its weights are in each feature's
/// `pair_weights`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pair {
    /// The two classes; a positive score picks `classes.0`.
    pub classes: (u32, u32),
    /// Its bias: a positive score (bias plus weights) picks the first class.
    pub bias: f32,
}

/// One feature of a [`LinearModel`].
#[derive(Clone, Debug, PartialEq)]
pub struct Feature {
    /// `w:word`, `w:word word` or `c:piece`.
    pub name: String,
    /// Inverse document frequency in the training data.
    pub idf: f32,
    /// (class, weight), for the classes whose weight was kept.
    pub weights: Vec<(u32, f32)>,
    /// (pair, weight), for the pair models whose weight was kept.
    pub pair_weights: Vec<(u32, f32)>,
}

/// Whether a feature name is a character piece (else a word feature).
pub(crate) fn is_chars(name: &str) -> bool {
    name.starts_with(CHARS)
}

/// The component an embedding feature (`e:N`) stands for.
pub(crate) fn embedding_component(name: &str) -> Option<usize> {
    name.strip_prefix(EMBED)?.parse().ok()
}

/// Checks that a feature name is one [`for_each_feature`] can produce, or a
/// component of the pack's embeddings (`dims` of them, if it has any).
pub(crate) fn check_name(name: &str, dims: Option<usize>) -> Result<(), String> {
    if name.starts_with(EMBED) {
        return match (embedding_component(name), dims) {
            (Some(k), Some(d)) if k < d => Ok(()),
            (Some(_), Some(d)) => Err(format!(
                "feature {name:?} is past the {d} components of the pack's [embeddings]"
            )),
            (Some(_), None) => Err(format!(
                "feature {name:?} reads embeddings, but the pack has no [embeddings] table"
            )),
            (None, _) => Err(format!("feature {name:?} is not e: and a component number")),
        };
    }
    let body = name
        .strip_prefix(WORD)
        .or_else(|| name.strip_prefix(CHARS))
        .ok_or_else(|| format!("feature {name:?} is neither words (w:…) nor characters (c:…)"))?;
    if body.is_empty() {
        return Err(format!("feature {name:?} is empty after its prefix"));
    }
    Ok(())
}

/// Calls `f` with the name of every model feature of `a`, repeats included, in
/// order: each word, each pair of adjacent words, then each word's character
/// pieces. `buf` is scratch space, reused between calls.
pub(crate) fn for_each_feature(a: &Analyzed, buf: &mut String, mut f: impl FnMut(&str)) {
    let mut prev: Option<&str> = None;
    for t in &a.tokens {
        let word = t.surface.as_str();
        buf.clear();
        buf.push_str(WORD);
        buf.push_str(word);
        f(buf);
        if let Some(p) = prev {
            buf.clear();
            buf.push_str(WORD);
            buf.push_str(p);
            buf.push(' ');
            buf.push_str(word);
            f(buf);
        }
        prev = Some(word);
    }
    let mut padded = String::with_capacity(32);
    let mut bounds: Vec<usize> = Vec::with_capacity(32);
    for t in &a.tokens {
        padded.clear();
        padded.push(' ');
        padded.push_str(&t.surface);
        padded.push(' ');
        // Character boundaries of the padded word, its end included.
        bounds.clear();
        bounds.extend(padded.char_indices().map(|(i, _)| i));
        bounds.push(padded.len());
        let chars = bounds.len() - 1;
        for n in CHAR_MIN..=CHAR_MAX {
            // A short word counts once, whole.
            let whole = n >= chars;
            for start in 0..=chars.saturating_sub(n) {
                let end = if whole { chars } else { start + n };
                buf.clear();
                buf.push_str(CHARS);
                buf.push_str(&padded[bounds[start]..bounds[end]]);
                f(buf);
            }
            if whole {
                break;
            }
        }
    }
}

/// A message's embedding vector (unit length, or all zero when no word piece of
/// it is known): the mean of its words' pieces, the words as
/// [`for_each_feature`] reads them. The same at training and at run time.
pub(crate) fn embedding_of(a: &Analyzed, table: &crate::embed::Embeddings, out: &mut Vec<f32>) {
    table.sentence(a.tokens.iter().map(|t| t.surface.as_str()), out);
}

/// A message's model input from the rows of its features (repeats included, any
/// order): per distinct row (1 + ln count) × idf, the word rows and the character
/// rows each scaled to unit length. Written to `out`, sorted by row.
pub(crate) fn vectorize(rows: &mut [u32], idf: &[f32], chars: &[bool], out: &mut Vec<(u32, f32)>) {
    out.clear();
    rows.sort_unstable();
    let mut norms = [0f32; 2];
    for run in rows.chunk_by(|a, b| a == b) {
        let row = run[0];
        let v = (1.0 + (run.len() as f32).ln()) * idf[row as usize];
        norms[usize::from(chars[row as usize])] += v * v;
        out.push((row, v));
    }
    let norms = norms.map(|n| if n > 0.0 { 1.0 / n.sqrt() } else { 0.0 });
    for (row, v) in out.iter_mut() {
        *v *= norms[usize::from(chars[*row as usize])];
    }
}

/// Training settings.
#[derive(Clone, Copy, Debug)]
pub struct Training {
    /// The SVM's cost of a margin violation (higher fits the data more closely).
    pub cost: f32,
    /// Scores are multiplied by this before the softmax: higher is surer.
    pub scale: f32,
    /// Training stops when the projected gradients span less than this…
    pub tolerance: f32,
    /// …or after this many passes over the data.
    pub max_passes: usize,
    /// Weights smaller than this (before scaling) are not stored.
    pub prune: f32,
    /// Features in fewer training messages than this are left out.
    pub min_count: usize,
    /// Pair models are trained for the classes a training example's own class
    /// beats by less than this (before scaling); 0 trains none.
    pub pair_select: f32,
    /// The pair models' cost.
    pub pair_cost: f32,
    /// [`LinearModel::pair_margin`], before scaling.
    pub pair_margin: f32,
    /// Pair-model weights smaller than this (before scaling) are not stored.
    pub pair_prune: f32,
    /// The length of the embedding block (`e:N`), when the examples have
    /// vectors: the word and character blocks have length 1 each.
    pub embedding_weight: f32,
}

impl Default for Training {
    fn default() -> Training {
        // Chosen by 5-fold cross-validation on Banking77's training split, never its
        // test split (BENCHMARKS.md): cost 0.5 90.6 % (0.3: 90.4, 1: 90.6); scale 20
        // lets the model outweigh mined phrases and examples (10: 90.2, 20: 90.5,
        // 40: 90.6, the model alone 90.6); pruning at 0.01 keeps accuracy in 4 MB.
        // Pair models (the imported pack 90.53 % without, 90.72 % with): pairs whose
        // training examples come within 1 of each other (1.5: 90.69), cost 1 (0.5 and
        // 2: 90.62), deciding within 0.3 (0.5: 90.58, 1: 90.54), weights under 0.03
        // left out (0.01: 90.71 % in 17 MB, 0.03: 12 MB, 0.05: 90.65 % in 9 MB).
        // With embeddings (90.72 % without): the block at length 2, 91.34 % (1:
        // 91.25, 1.5: 91.21, 3: 91.24; cost 0.3 / 1 with it: 91.38 / 91.14).
        Training {
            cost: 0.5,
            scale: 20.0,
            tolerance: 0.1,
            max_passes: 200,
            prune: 0.01,
            min_count: 2,
            pair_select: 1.0,
            pair_cost: 1.0,
            pair_margin: 0.3,
            pair_prune: 0.03,
            embedding_weight: EMBEDDING_WEIGHT,
        }
    }
}

/// The length of a message's embedding block beside the unit-length word and
/// character blocks (see [`Training::embedding_weight`]).
const EMBEDDING_WEIGHT: f32 = 2.0;

/// SplitMix64: the visiting order of the examples, the same on every machine.
fn mix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Trains on `examples` (each the names of its features, as [`for_each_feature`]
/// gives them, and its class) for `intents`.
///
/// `dense` is empty, or holds each example's unit-length embedding vector (all of
/// one length; see [`crate::embed`]), read as features `e:0`, `e:1`… of idf
/// `t.embedding_weight`.
pub fn train(
    examples: &[(Vec<String>, usize)],
    dense: &[Vec<f32>],
    intents: &[String],
    t: Training,
) -> LinearModel {
    let classes = intents.len();
    let dims = dense.iter().map(Vec::len).max().unwrap_or(0);
    // Features in order of first appearance, with the number of examples using each.
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut names: Vec<&str> = Vec::new();
    let mut counts: Vec<usize> = Vec::new();
    let occurrences: Vec<Vec<usize>> = examples
        .iter()
        .map(|(feats, _)| {
            let v: Vec<usize> = feats
                .iter()
                .map(|f| {
                    *ids.entry(f.as_str()).or_insert_with(|| {
                        names.push(f);
                        counts.push(0);
                        names.len() - 1
                    })
                })
                .collect();
            let mut distinct = v.clone();
            distinct.sort_unstable();
            distinct.dedup();
            for d in distinct {
                counts[d] += 1;
            }
            v
        })
        .collect();
    // Rows: the features used often enough.
    let mut row_of: Vec<Option<u32>> = vec![None; names.len()];
    let mut kept: Vec<usize> = Vec::new();
    for (f, &count) in counts.iter().enumerate() {
        if count >= t.min_count.max(1) {
            row_of[f] = Some(kept.len() as u32);
            kept.push(f);
        }
    }
    let docs = examples.len() as f32;
    let sparse = kept.len();
    let mut idf: Vec<f32> = kept
        .iter()
        .map(|&f| ((1.0 + docs) / (1.0 + counts[f] as f32)).ln() + 1.0)
        .collect();
    let chars: Vec<bool> = kept.iter().map(|&f| is_chars(names[f])).collect();
    // The embedding rows follow the others: row `sparse + k` is `e:k`.
    idf.resize(sparse + dims, t.embedding_weight);
    let data: Vec<(Vec<(u32, f32)>, usize)> = occurrences
        .iter()
        .zip(examples)
        .enumerate()
        .map(|(i, (occ, (_, class)))| {
            let mut rows: Vec<u32> = occ.iter().filter_map(|&f| row_of[f]).collect();
            let mut x = Vec::new();
            vectorize(&mut rows, &idf, &chars, &mut x);
            if let Some(v) = dense.get(i) {
                x.extend(
                    v.iter()
                        .enumerate()
                        .filter(|(_, v)| **v != 0.0)
                        .map(|(k, v)| ((sparse + k) as u32, v * t.embedding_weight)),
                );
            }
            (x, *class)
        })
        .collect();

    let n = sparse + dims;
    // One linear SVM per class against the rest, classes in parallel: each is
    // independent, so the result is the same on any number of cores.
    let class_ids: Vec<usize> = (0..classes).collect();
    let all: Vec<&(Vec<(u32, f32)>, usize)> = data.iter().collect();
    let solved: Vec<(Vec<f32>, f32)> = crate::par::map(&class_ids, 4_096, |&c| {
        one_against_rest(&all, n, c, t.cost, t)
    });
    // The pairs of classes the model leaves close on its own training data: for
    // each example, its class and the best other class, when the other comes
    // within `pair_select` of it. Each pair gets an SVM of its own, trained on
    // the two classes' examples alone.
    let mut chosen: std::collections::BTreeSet<(u32, u32)> = std::collections::BTreeSet::new();
    if t.pair_select > 0.0 && classes > 2 {
        let mut scores = vec![0f32; classes];
        for (x, class) in &data {
            for (c, (wc, b)) in solved.iter().enumerate() {
                scores[c] = b + x.iter().map(|&(f, v)| wc[f as usize] * v).sum::<f32>();
            }
            let own = scores[*class];
            let other = (0..classes)
                .filter(|&c| c != *class)
                .max_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(b.cmp(&a)));
            if let Some(o) = other
                && own - scores[o] < t.pair_select
            {
                let (a, b) = (*class.min(&o) as u32, *class.max(&o) as u32);
                chosen.insert((a, b));
            }
        }
    }
    let chosen: Vec<(u32, u32)> = chosen.into_iter().collect();
    let pair_solved: Vec<(Vec<f32>, f32)> = crate::par::map(&chosen, 16, |&(a, b)| {
        let members: Vec<&(Vec<(u32, f32)>, usize)> = data
            .iter()
            .filter(|(_, c)| *c == a as usize || *c == b as usize)
            .collect();
        one_against_rest(&members, n, a as usize, t.pair_cost, t)
    });
    // Row-major (feature, class), scores scaled for the softmax.
    let mut w = vec![0f32; n * classes];
    for (c, (wc, _)) in solved.iter().enumerate() {
        for (r, v) in wc.iter().enumerate() {
            w[r * classes + c] = v * t.scale;
        }
    }
    let b: Vec<f32> = solved.iter().map(|(_, b)| b * t.scale).collect();
    // A constant added to a feature's weights for every class changes no
    // probability: each row is centred on its median, which leaves most weights
    // near zero, so that pruning keeps only what tells classes apart.
    let mut sorted = vec![0f32; classes];
    let row_names: Vec<String> = kept
        .iter()
        .map(|&f| names[f].to_string())
        .chain((0..dims).map(|k| format!("{EMBED}{k}")))
        .collect();
    let mut features: Vec<Feature> = row_names
        .into_iter()
        .enumerate()
        .map(|(r, name)| {
            let row = &mut w[r * classes..(r + 1) * classes];
            sorted.copy_from_slice(row);
            sorted.sort_unstable_by(f32::total_cmp);
            let median = sorted[classes / 2];
            Feature {
                name,
                idf: idf[r],
                weights: row
                    .iter()
                    .enumerate()
                    .map(|(c, v)| (c as u32, v - median))
                    .filter(|(_, v)| v.abs() >= t.prune * t.scale)
                    .collect(),
                pair_weights: pair_solved
                    .iter()
                    .enumerate()
                    .map(|(p, (wp, _))| (p as u32, wp[r] * t.scale))
                    .filter(|(_, v)| v.abs() >= t.pair_prune * t.scale)
                    .collect(),
            }
        })
        .collect();
    features.sort_by(|a, b| a.name.cmp(&b.name));
    LinearModel {
        intents: intents.to_vec(),
        bias: b,
        features,
        pairs: chosen
            .iter()
            .zip(&pair_solved)
            .map(|(&classes, (_, bias))| Pair {
                classes,
                bias: bias * t.scale,
            })
            .collect(),
        pair_margin: t.pair_margin * t.scale,
    }
}

/// A linear SVM (squared hinge loss, L2 penalty, a constant feature for the bias)
/// for `class` against every other, by dual coordinate descent (Hsieh et al.,
/// ICML 2008, as in LIBLINEAR): the feature weights and the bias.
fn one_against_rest(
    data: &[&(Vec<(u32, f32)>, usize)],
    features: usize,
    class: usize,
    cost: f32,
    t: Training,
) -> (Vec<f32>, f32) {
    let diag = 0.5 / cost;
    let mut w = vec![0f32; features];
    let mut bias = 0f32;
    let mut alpha = vec![0f32; data.len()];
    let q: Vec<f32> = data
        .iter()
        .map(|(x, _)| x.iter().map(|(_, v)| v * v).sum::<f32>() + 1.0 + diag)
        .collect();
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut state = 0x7472_6961_6765u64 ^ class as u64;
    for _ in 0..t.max_passes {
        // Fisher–Yates with the fixed generator.
        for i in (1..order.len()).rev() {
            let j = (mix(&mut state) % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        let (mut high, mut low) = (f32::NEG_INFINITY, f32::INFINITY);
        for &i in &order {
            let (x, label) = &data[i];
            let y = if *label == class { 1.0 } else { -1.0 };
            let score = bias + x.iter().map(|&(f, v)| w[f as usize] * v).sum::<f32>();
            let g = y * score - 1.0 + diag * alpha[i];
            let projected = if alpha[i] == 0.0 { g.min(0.0) } else { g };
            high = high.max(projected);
            low = low.min(projected);
            if projected.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (old - g / q[i]).max(0.0);
                let step = (alpha[i] - old) * y;
                bias += step;
                for &(f, v) in x {
                    w[f as usize] += step * v;
                }
            }
        }
        if high - low <= t.tolerance {
            break;
        }
    }
    (w, bias)
}

/// Turns scores into probabilities, in place.
pub(crate) fn softmax(p: &mut [f32]) {
    let max = p.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for pc in p.iter_mut() {
        *pc = (*pc - max).exp();
        sum += *pc;
    }
    for pc in p.iter_mut() {
        *pc /= sum;
    }
}

impl LinearModel {
    /// The model as a pack file: `[model]` with `intents`, `bias` and `features`
    /// (feature name → `"idf class:weight class:weight …"`, classes by position in
    /// `intents`). Numbers are written with 4 decimals.
    pub fn to_toml(&self, comment: &str) -> String {
        let mut out = String::new();
        for line in comment.lines() {
            let _ = writeln!(out, "# {line}");
        }
        // `key = [a, b, …]`, each item written by `item`.
        fn array<T>(out: &mut String, key: &str, items: &[T], item: impl Fn(&T) -> String) {
            let items: Vec<String> = items.iter().map(item).collect();
            let _ = writeln!(out, "{key} = [{}]", items.join(", "));
        }
        let _ = writeln!(out, "[model]");
        array(&mut out, "intents", &self.intents, |i| quoted(i));
        array(&mut out, "bias", &self.bias, |b| format!("{b:.4}"));
        if !self.pairs.is_empty() {
            let _ = writeln!(out, "pair_margin = {:.4}", self.pair_margin);
            array(&mut out, "pairs", &self.pairs, |p| {
                format!("[{}, {}]", p.classes.0, p.classes.1)
            });
            array(&mut out, "pair_bias", &self.pairs, |p| {
                format!("{:.4}", p.bias)
            });
        }
        let _ = writeln!(out, "\n[model.features]");
        for f in &self.features {
            let _ = write!(out, "{} = \"{:.4}", quoted(&f.name), f.idf);
            for (c, w) in &f.weights {
                let _ = write!(out, " {c}:{w:.4}");
            }
            for (p, w) in &f.pair_weights {
                let _ = write!(out, " p{p}:{w:.4}");
            }
            let _ = writeln!(out, "\"");
        }
        out
    }
}

/// One feature's parsed line: its idf, its class weights and its pair weights.
pub(crate) type Row = (f32, Vec<(u32, f32)>, Vec<(u32, f32)>);

/// Parses one feature's line, `"2.5 3:1.25 17:-0.4 p2:0.5"` (its idf, then its
/// class weights, then its pair-model weights), for `classes` classes and `pairs`
/// pair models.
pub(crate) fn parse_row(text: &str, classes: usize, pairs: usize) -> Result<Row, String> {
    let mut parts = text.split_whitespace();
    let idf: f32 = parts
        .next()
        .and_then(|idf| idf.parse().ok())
        .filter(|idf: &f32| idf.is_finite() && *idf > 0.0)
        .ok_or_else(|| {
            format!("{text:?} does not start with the feature's idf (a positive number)")
        })?;
    let (mut weights, mut pair_weights) = (Vec::new(), Vec::new());
    for pair in parts {
        let (c, w) = pair
            .split_once(':')
            .ok_or_else(|| format!("{pair:?} is not class:weight"))?;
        let (target, number, limit, what) = match c.strip_prefix('p') {
            Some(p) => (&mut pair_weights, p, pairs, "pair models"),
            None => (&mut weights, c, classes, "intents"),
        };
        let n: u32 = number
            .parse()
            .map_err(|_| format!("{c:?} in {pair:?} is not a class or pair number"))?;
        if n as usize >= limit {
            return Err(format!("{c} in {pair:?}, but the model has {limit} {what}"));
        }
        let w: f32 = w
            .parse()
            .ok()
            .filter(|w: &f32| w.is_finite())
            .ok_or_else(|| format!("{w:?} in {pair:?} is not a number"))?;
        target.push((n, w));
    }
    Ok((idf, weights, pair_weights))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{Token, Word};

    fn analyzed(words: &[&str]) -> Analyzed {
        Analyzed {
            tokens: words
                .iter()
                .map(|w| Token {
                    surface: Word::from(*w),
                    stem: Word::from(*w),
                    negated: false,
                    stop: false,
                    past: false,
                    retracted: false,
                })
                .collect(),
            ..Analyzed::default()
        }
    }

    fn names(words: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for_each_feature(&analyzed(words), &mut String::new(), |f| {
            out.push(f.to_string());
        });
        out
    }

    #[test]
    fn features_are_words_pairs_and_padded_pieces() {
        let f = names(&["my", "café"]);
        assert_eq!(f[..3], ["w:my", "w:café", "w:my café"]);
        // " my " has 4 characters: its pairs and triples, then itself once.
        assert_eq!(
            f[3..9],
            ["c: m", "c:my", "c:y ", "c: my", "c:my ", "c: my "]
        );
        // " café " (6 characters, é one of them): 5 + 4 + 3 + 2 pieces.
        let cafe: Vec<&String> = f[9..].iter().collect();
        assert_eq!(cafe.len(), 14, "{cafe:?}");
        assert_eq!(cafe[1], "c:ca");
        assert_eq!(cafe[4], "c:é ");
        assert_eq!(cafe[13], "c:café ");
        assert!(f.iter().all(|n| check_name(n, None).is_ok()));
        assert!(check_name("card", None).is_err() && check_name("w:", None).is_err());
        assert!(check_name("e:3", Some(4)).is_ok());
        for (bad, dims, why) in [
            ("e:4", Some(4), "past the 4 components"),
            ("e:0", None, "no [embeddings] table"),
            ("e:x", Some(4), "not e: and a component number"),
        ] {
            let e = check_name(bad, dims).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn each_block_has_unit_length_and_repeats_count_less_than_linearly() {
        let idf = [1.0, 2.0, 1.0, 1.5];
        let chars = [false, false, true, true];
        let mut out = Vec::new();
        vectorize(&mut [1, 0, 0, 2, 3, 3, 3], &idf, &chars, &mut out);
        let rows: Vec<u32> = out.iter().map(|(r, _)| *r).collect();
        assert_eq!(rows, [0, 1, 2, 3]);
        let norm = |block: bool| -> f32 {
            out.iter()
                .filter(|(r, _)| chars[*r as usize] == block)
                .map(|(_, v)| v * v)
                .sum()
        };
        assert!((norm(false) - 1.0).abs() < 1e-5 && (norm(true) - 1.0).abs() < 1e-5);
        // Row 0 twice (1 + ln 2) at idf 1 against row 1 once at idf 2.
        let ratio = out[0].1 / out[1].1;
        assert!((ratio - (1.0 + 2f32.ln()) / 2.0).abs() < 1e-5, "{ratio}");
    }

    fn data() -> (Vec<(Vec<String>, usize)>, Vec<String>) {
        let mut examples = Vec::new();
        for i in 0..20 {
            let noise = format!("w:n{}", i % 7);
            let row = |a: &str, b: &str| vec![a.to_string(), b.to_string(), noise.clone()];
            examples.push((row("w:card", "w:lost"), 0));
            examples.push((row("w:rate", "w:exchange"), 1));
            examples.push((row("w:card", "w:declined"), 2));
        }
        examples.push((vec!["w:once".into(), "w:card".into()], 0));
        (
            examples,
            vec!["lost_card".into(), "rates".into(), "declined".into()],
        )
    }

    #[test]
    fn training_separates_the_classes_and_is_deterministic() {
        let (examples, intents) = data();
        let m = train(&examples, &[], &intents, Training::default());
        let feature = |name: &str| m.features.iter().find(|f| f.name == name);
        let weight = |name: &str, class: u32| {
            feature(name)
                .and_then(|f| f.weights.iter().find(|(c, _)| *c == class))
                .map_or(0.0, |(_, w)| *w)
        };
        assert!(weight("w:lost", 0) > 0.5, "{m:?}");
        assert!(weight("w:lost", 1) <= 0.0);
        assert!(weight("w:declined", 2) > 0.5);
        // "card" is in two classes: weaker than the words that tell them apart.
        assert!(weight("w:card", 0) < weight("w:lost", 0));
        // Seen once: below the minimum count, so not a feature.
        assert!(feature("w:once").is_none());
        // The rarer feature has the larger idf.
        assert!(feature("w:lost").expect("lost").idf > feature("w:card").expect("card").idf);
        let again = train(&examples, &[], &intents, Training::default());
        assert_eq!(m, again);
        assert_eq!(m.to_toml("x"), again.to_toml("x"));
    }

    #[test]
    fn pair_models_are_trained_for_close_classes_and_tell_them_apart() {
        let (examples, intents) = data();
        let m = train(&examples, &[], &intents, Training::default());
        // "lost" and "declined" share "card": the one pair the model leaves close.
        let pairs: Vec<(u32, u32)> = m.pairs.iter().map(|p| p.classes).collect();
        assert!(pairs.contains(&(0, 2)), "{pairs:?}");
        let p = pairs.iter().position(|c| *c == (0, 2)).expect("pair") as u32;
        let weight = |name: &str| {
            m.features
                .iter()
                .find(|f| f.name == name)
                .and_then(|f| f.pair_weights.iter().find(|(q, _)| *q == p))
                .map_or(0.0, |(_, w)| *w)
        };
        // Positive picks the pair's first class (lost), negative its second.
        assert!(
            weight("w:lost") > 0.0 && weight("w:declined") < 0.0,
            "{m:?}"
        );
        assert!(weight("w:lost") > weight("w:card").abs());
        // Written and read back.
        let text = m.to_toml("x");
        assert!(
            text.contains("pair_margin = 6.0000") && text.contains("[0, 2]"),
            "{text}"
        );
        let f = m
            .features
            .iter()
            .find(|f| f.name == "w:lost")
            .expect("lost");
        let line = text
            .lines()
            .find(|l| l.starts_with("\"w:lost\" = "))
            .expect("row");
        let row = line.split_once(" = ").expect("=").1.trim_matches('"');
        let (_, weights, pair_weights) =
            parse_row(row, intents.len(), m.pairs.len()).expect("parses");
        assert_eq!(weights.len(), f.weights.len());
        assert_eq!(pair_weights.len(), f.pair_weights.len());
        for ((p1, w1), (p2, w2)) in pair_weights.iter().zip(&f.pair_weights) {
            assert!(p1 == p2 && (w1 - w2).abs() < 1e-4);
        }
        // Without pair selection, none.
        let none = Training {
            pair_select: 0.0,
            ..Training::default()
        };
        let plain = train(&examples, &[], &intents, none);
        assert!(plain.pairs.is_empty() && !plain.to_toml("x").contains("pairs ="));
        assert_eq!(plain.features.len(), m.features.len());
    }

    #[test]
    fn rows_round_trip_and_bad_rows_say_why() {
        assert_eq!(
            parse_row("2.5 0:1.5 2:-0.25 p1:0.5", 3, 2),
            Ok((2.5, vec![(0, 1.5), (2, -0.25)], vec![(1, 0.5)]))
        );
        assert_eq!(parse_row("1.25", 3, 0), Ok((1.25, vec![], vec![])));
        for (row, says) in [
            ("1 3:1", "3 intents"),
            ("1 p2:1", "2 pair models"),
            ("1 px:1", "not a class or pair number"),
            ("1 1:x", "not a number"),
            ("1 1:inf", "not a number"),
            ("1 1=2", "class:weight"),
            ("0:1", "idf"),
            ("", "idf"),
            ("-1 0:1", "idf"),
        ] {
            let e = parse_row(row, 3, 2).expect_err(row);
            assert!(e.contains(says), "{row:?}: {e}");
        }
    }
}
