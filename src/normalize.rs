//! Pack-free text normalization: Unicode clean-up, case and homoglyph folding.
//!
//! Two steps, because PII detection sits between them:
//! 1. [`clean`]: NFKC, control / zero-width / bidi characters dropped, length capped.
//!    PII is then redacted on this text (digits and `@` are still intact).
//! 2. [`fold`]: lowercase, homoglyphs folded to Latin, diacritics stripped, curly
//!    quotes straightened, and anything still outside ASCII turned into a space, so
//!    that every later stage (aho-corasick, ASCII-only regexes, the stemmer) works on
//!    plain ASCII.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The result of [`clean`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cleaned {
    /// NFKC text without invisible or control characters.
    pub text: String,
    /// The message was longer than the limit and was cut.
    pub truncated: bool,
    /// Invisible, control or bidi characters were removed.
    pub stripped: bool,
}

/// NFKC-normalizes `raw`, drops invisible characters and caps it at `max_chars`.
pub fn clean(raw: &str, max_chars: usize) -> Cleaned {
    // Printable ASCII is already NFKC and has nothing invisible: the common case.
    if raw.len() <= max_chars && raw.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Cleaned {
            text: raw.to_string(),
            truncated: false,
            stripped: false,
        };
    }
    let mut text = String::with_capacity(raw.len().min(max_chars * 4));
    let mut stripped = false;
    let mut truncated = false;
    let mut n_chars = 0;
    for c in raw.nfkc() {
        if n_chars >= max_chars {
            truncated = true;
            break;
        }
        if c.is_control() {
            // Line breaks, tabs, NUL and other controls separate words.
            stripped |= !matches!(c, '\n' | '\t' | '\r');
            text.push(' ');
        } else if is_invisible(c) {
            stripped = true;
            continue;
        } else {
            text.push(c);
        }
        n_chars += 1;
    }
    Cleaned {
        text,
        truncated,
        stripped,
    }
}

/// Characters that render as nothing or reorder text: controls, zero-width, bidi.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}' // zero-width space/joiners, LRM, RLM
            | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{FEFF}' // byte order mark
            | '\u{00AD}' // soft hyphen
            | '\u{034F}' // combining grapheme joiner
            | '\u{180E}' // Mongolian vowel separator
        )
}

/// Lowercases and folds `text` to ASCII: homoglyphs to Latin, accents dropped.
pub fn fold(text: &str) -> String {
    // Most text (every pack of ours, most messages) is ASCII already.
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        if let Some(latin) = homoglyph(c) {
            out.push(latin);
            continue;
        }
        match c {
            '\u{2018}' | '\u{2019}' | '\u{02BC}' | '\u{00B4}' | '\u{0060}' => out.push('\''),
            '\u{201C}' | '\u{201D}' => out.push('"'),
            '\u{2013}' | '\u{2014}' | '\u{2212}' => out.push('-'),
            'ß' => out.push_str("ss"),
            'æ' | 'Æ' => out.push_str("ae"),
            'ø' | 'Ø' => out.push('o'),
            _ => {
                let mut pushed = false;
                for lower in c.to_lowercase() {
                    for d in std::iter::once(lower).nfd() {
                        if d.is_ascii() {
                            out.push(d);
                            pushed = true;
                        } else if let Some(latin) = homoglyph(d) {
                            out.push(latin);
                            pushed = true;
                        } else if is_combining_mark(d) {
                            pushed = true;
                        }
                    }
                }
                if !pushed {
                    out.push(' ');
                }
            }
        }
    }
    out
}

/// Cyrillic and Greek letters that look like Latin ones (lower and upper case).
fn homoglyph(c: char) -> Option<char> {
    Some(match c {
        'а' | 'А' | 'α' | 'Α' => 'a',
        'в' | 'В' | 'β' | 'Β' => 'b',
        'с' | 'С' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'Е' | 'ё' | 'Ё' | 'ε' | 'Ε' => 'e',
        'ɡ' => 'g',
        'н' | 'Н' | 'Η' => 'h',
        'і' | 'І' | 'ι' | 'Ι' | 'ӏ' => 'i',
        'ј' | 'Ј' => 'j',
        'к' | 'К' | 'κ' | 'Κ' => 'k',
        'м' | 'М' | 'Μ' => 'm',
        'ո' | 'Ν' => 'n',
        'о' | 'О' | 'ο' | 'Ο' => 'o',
        'р' | 'Р' | 'ρ' | 'Ρ' => 'p',
        'ѕ' | 'Ѕ' => 's',
        'т' | 'Т' | 'τ' | 'Τ' => 't',
        'υ' => 'u',
        'ν' => 'v',
        'х' | 'Х' | 'χ' | 'Χ' => 'x',
        'у' | 'У' | 'Υ' => 'y',
        'Ζ' => 'z',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_fold(input: &str, expect: &str) {
        assert_eq!(fold(&clean(input, 1000).text), expect, "input {input:?}");
    }

    #[test]
    fn folds_case_accents_and_homoglyphs() {
        check_fold("Mi RECETA no llegó", "mi receta no llego");
        check_fold("Меdicare", "medicare"); // Cyrillic М and е
        check_fold("cаremark", "caremark"); // Cyrillic а
        check_fold("don’t", "don't");
        check_fold("ｍｅｄｓ", "meds"); // fullwidth, via NFKC
        check_fold("¿Hay alguien?", " hay alguien?");
        check_fold("español niño", "espanol nino");
    }

    #[test]
    fn strips_invisible_characters() {
        let c = clean("re\u{200B}fill\u{202E} me\u{0007}", 100);
        assert_eq!(c.text, "refill me ");
        assert!(c.stripped);
        // Controls separate words; invisible format characters join them.
        assert_eq!(clean("refill\0my\u{7}meds", 100).text, "refill my meds");
        assert!(!c.truncated);
    }

    #[test]
    fn truncates_long_input() {
        let c = clean(&"a".repeat(50), 10);
        assert_eq!(c.text.len(), 10);
        assert!(c.truncated);
    }

    #[test]
    fn unknown_scripts_become_spaces() {
        check_fold("药 refill 🙂", "  refill  ");
    }
}
