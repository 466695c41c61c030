//! Synthetic packs for scaling benchmarks (`triage gen-pack`): N intents over a
//! Zipf-distributed vocabulary of made-up words, each with 5–20 phrases, 0–3
//! patterns and 10–30 examples, plus messages that mention one intent's topic.
//! Deterministic: the same intents and seed give the same bytes.

use std::fmt::Write as _;
use std::path::Path;

/// Intents per generated TOML file.
const PER_FILE: usize = 1_000;
/// Zipf exponent of the vocabulary.
const ZIPF_S: f64 = 1.07;
/// Words that belong to an intent's topic.
const TOPIC_WORDS: usize = 6;
/// Ranks below this are common words, never topic words.
const COMMON_RANKS: usize = 100;

/// SplitMix64: small, fast, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A synthetic pack: its vocabulary, word frequencies and intents' topics.
pub struct Synth {
    intents: usize,
    seed: u64,
    words: Vec<String>,
    cdf: Vec<f64>,
    topics: Vec<Vec<usize>>,
}

/// The made-up word of rank `i`: consonant-vowel syllables, unique per rank.
fn word(i: usize) -> String {
    const C: &[u8] = b"bdfgklmnprstvz";
    const V: &[u8] = b"aeiou";
    let syllables = C.len() * V.len();
    let (mut n, count) = if i < syllables * syllables {
        (i, 2)
    } else {
        (i - syllables * syllables, 3)
    };
    let mut w = String::with_capacity(count * 2 + 1);
    for _ in 0..count {
        let s = n % syllables;
        n /= syllables;
        w.push(C[s / V.len()] as char);
        w.push(V[s % V.len()] as char);
    }
    // A closing consonant keeps words apart from the stemmer's suffixes.
    w.push('x');
    w
}

impl Synth {
    /// The pack of `intents` intents for `seed`.
    pub fn new(intents: usize, seed: u64) -> Synth {
        let vocabulary = 1_000 + 10 * intents;
        let words: Vec<String> = (0..vocabulary).map(word).collect();
        let mut cdf = Vec::with_capacity(vocabulary);
        let mut total = 0.0;
        for r in 0..vocabulary {
            total += 1.0 / ((r + 1) as f64).powf(ZIPF_S);
            cdf.push(total);
        }
        for c in &mut cdf {
            *c /= total;
        }
        let mut synth = Synth {
            intents,
            seed,
            words,
            cdf,
            topics: Vec::new(),
        };
        let mut rng = Rng(seed ^ 0x7069_6373);
        synth.topics = (0..intents)
            .map(|_| {
                let mut topic = Vec::with_capacity(TOPIC_WORDS);
                while topic.len() < TOPIC_WORDS {
                    let w = synth.zipf(&mut rng);
                    if w >= COMMON_RANKS && !topic.contains(&w) {
                        topic.push(w);
                    }
                }
                topic
            })
            .collect();
        synth
    }

    /// A word rank drawn from the Zipf distribution.
    fn zipf(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf.partition_point(|c| *c < u).min(self.cdf.len() - 1)
    }

    /// A word of intent `i`'s topic.
    fn topic_word(&self, i: usize, rng: &mut Rng) -> &str {
        let t = &self.topics[i];
        &self.words[t[rng.range(0, t.len() - 1)]]
    }

    /// A message of `words` words about intent `i`: a third topic words, the rest
    /// common ones, as members mix the words that matter with everything else.
    fn sentence(&self, i: usize, words: usize, rng: &mut Rng) -> String {
        let mut out = String::new();
        for k in 0..words {
            if k > 0 {
                out.push(' ');
            }
            if rng.range(0, 2) == 0 {
                out.push_str(self.topic_word(i, rng));
            } else {
                out.push_str(&self.words[self.zipf(rng)]);
            }
        }
        out
    }

    /// `n` messages of `words` words, each about a random intent, for `seed`.
    pub fn messages(&self, n: usize, words: usize, seed: u64) -> Vec<String> {
        self.labelled_messages(n, words, seed)
            .into_iter()
            .map(|(_, text)| text)
            .collect()
    }

    /// [`Synth::messages`] with the intent each one is about (its index).
    pub fn labelled_messages(&self, n: usize, words: usize, seed: u64) -> Vec<(usize, String)> {
        let mut rng = Rng(seed ^ 0x6d73_6773);
        (0..n)
            .map(|_| {
                let i = rng.range(0, self.intents - 1);
                (i, self.sentence(i, words, &mut rng))
            })
            .collect()
    }

    /// The pack's files: relative path and contents.
    pub fn files(&self) -> Vec<(String, String)> {
        let mut files = vec![
            ("pack.toml".to_string(), self.pack_toml()),
            (
                "sources/synthetic.txt".to_string(),
                "A synthetic support page for benchmarks.\n\
                 Call 1-800-555-0100, open 24 hours a day.\n\
                 Press 1 to 9 for the topic groups. Press 0 for a representative.\n"
                    .to_string(),
            ),
        ];
        let mut rng = Rng(self.seed);
        let mut seen = std::collections::HashSet::new();
        for (part, start) in (0..self.intents).step_by(PER_FILE).enumerate() {
            let mut out = String::new();
            for i in start..(start + PER_FILE).min(self.intents) {
                self.intent_toml(i, &mut rng, &mut seen, &mut out);
            }
            files.push((format!("intents/part_{part:03}.toml"), out));
        }
        files
    }

    /// Writes the pack into `dir` (created if missing).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        for (path, contents) in self.files() {
            let path = dir.join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, contents)?;
        }
        Ok(())
    }

    fn pack_toml(&self) -> String {
        format!(
            r#"# Generated by `triage gen-pack --intents {n} --seed {seed}`: a synthetic
# pack for scaling benchmarks. Not a real organisation.
[pack]
name = "synthetic_{n}"
time_zone = "America/Chicago"
time_zone_label = "CT"
default_language = "en"
official_domains = ["example.com"]

[languages.en]
name = "English"
stemmer = "english"

[languages.en.messages]
fallback = "I can't help with that here. Call {{line.number}}."
clarify = "Which of these is closest?"
pii = "Please don't share personal data in chat."
scam = "This may be a scam."
lookalike = "That address imitates an official domain."
closed = "{{name}} is closed right now ({{hours}}); it opens {{opens}}"
truncated = "Your message was long; I read the first part."
days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
always_open = "24/7"

[[contact]]
id = "line"
kind = "phone"
name = "The support line"
number = "1-800-555-0100"
hours = {{ always = true }}
source = {{ doc = "synthetic.txt", quote = "Call 1-800-555-0100, open 24 hours a day." }}
{options}"#,
            n = self.intents,
            seed = self.seed,
            options = (0..=9)
                .map(|k| {
                    let quote = if k == 0 {
                        "Press 0 for a representative."
                    } else {
                        "Press 1 to 9 for the topic groups."
                    };
                    format!(
                        "\n  [[contact.option]]\n  key = \"{k}\"\n  label = \"Topic group {k}\"\n  source = {{ doc = \"synthetic.txt\", quote = \"{quote}\" }}\n"
                    )
                })
                .collect::<String>(),
        )
    }

    fn intent_toml(
        &self,
        i: usize,
        rng: &mut Rng,
        seen: &mut std::collections::HashSet<String>,
        out: &mut String,
    ) {
        let topic = &self.topics[i];
        let key = 1 + i % 9;
        let _ = writeln!(out, "[[intent]]");
        let _ = writeln!(out, "id = \"intent_{i:05}\"");
        let _ = writeln!(
            out,
            "title = \"{} {}\"",
            self.words[topic[0]], self.words[topic[1]]
        );
        let _ = writeln!(out, "route = \"line:{key}\"");
        // Phrases: one to three words, at least one of the topic, unique in the pack.
        let n_phrases = rng.range(5, 20);
        let mut phrases = Vec::with_capacity(n_phrases);
        let mut tries = 0;
        while phrases.len() < n_phrases && tries < n_phrases * 20 {
            tries += 1;
            let len = rng.range(1, 3);
            let at = rng.range(0, len - 1);
            let phrase: Vec<&str> = (0..len)
                .map(|k| {
                    if k == at {
                        self.topic_word(i, rng)
                    } else {
                        self.words[self.zipf(rng)].as_str()
                    }
                })
                .collect();
            let phrase = phrase.join(" ");
            if seen.insert(phrase.clone()) {
                phrases.push(format!("\"{phrase}\""));
            }
        }
        let _ = writeln!(out, "phrases = [{}]", phrases.join(", "));
        let n_patterns = rng.range(0, 3);
        if n_patterns > 0 {
            let patterns: Vec<String> = (0..n_patterns)
                .map(|p| {
                    let a = &self.words[topic[(p * 2) % topic.len()]];
                    let b = &self.words[topic[(p * 2 + 1) % topic.len()]];
                    let c = self.topic_word(i, rng);
                    match p {
                        0 => format!("'\\b{a}\\b.{{0,30}}\\b{b}\\b'"),
                        1 => format!("'\\b(?:{a}|{b})\\s+\\w+\\s+{c}\\b'"),
                        _ => format!("'\\b{a}(?:es|s)?\\b.{{0,20}}\\b(?:{b}|{c})\\b'"),
                    }
                })
                .collect();
            let _ = writeln!(out, "patterns = [{}]", patterns.join(", "));
        }
        let n_examples = rng.range(10, 30);
        let examples: Vec<String> = (0..n_examples)
            .map(|_| {
                let len = rng.range(4, 14);
                format!("  \"{}\",", self.sentence(i, len, rng))
            })
            .collect();
        let _ = writeln!(out, "examples = [\n{}\n]", examples.join("\n"));
        let _ = writeln!(
            out,
            "answer.en = \"For {} questions, call {{line.number}} and press {key}.\"",
            self.words[topic[0]]
        );
        let _ = writeln!(
            out,
            "source = {{ doc = \"synthetic.txt\", quote = \"Press 1 to 9 for the topic groups.\" }}\n"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes_and_words_are_unique() {
        assert_eq!(Synth::new(50, 7).files(), Synth::new(50, 7).files());
        assert_ne!(Synth::new(50, 7).files(), Synth::new(50, 8).files());
        let words: std::collections::HashSet<String> = (0..20_000).map(word).collect();
        assert_eq!(words.len(), 20_000);
    }

    #[test]
    fn a_generated_pack_loads_and_routes_its_own_topics() {
        let dir = tempfile::tempdir().expect("temp dir");
        let synth = Synth::new(120, 1);
        synth.write(dir.path()).expect("write");
        let (engine, diagnostics) = crate::Engine::load_dir(dir.path()).expect("loads");
        assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
        assert_eq!(engine.pack().intents.len(), 120);
        let files = synth.files();
        let part = &files[2].1;
        assert!(part.matches("[[intent]]").count() == 120);
        // Messages about a topic mostly reach an answer.
        let now: jiff::ZonedDateTime = "2026-11-24T10:00:00-06:00[America/Chicago]"
            .parse()
            .expect("instant");
        let answered = synth
            .messages(100, 15, 3)
            .iter()
            .filter(|m| {
                engine.respond(&mut crate::Session::new(), m, &now).outcome
                    == crate::Outcome::Answer
            })
            .count();
        assert!(answered >= 50, "{answered} of 100 answered");
    }
}
