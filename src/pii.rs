//! Personal data detection and redaction.
//!
//! Runs on the cleaned (NFKC) message before anything else reads it: matching,
//! logging, transcripts and replies only ever see the placeholders. What matching
//! needs survives: an email keeps its domain (`[EMAIL]@cvthealth.com`) so lookalike
//! detection still works, and the pack's own phone numbers are not redacted.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

/// A kind of personal data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// US Social Security number.
    Ssn,
    /// Payment card number (Luhn-valid).
    Card,
    /// Medicare Beneficiary Identifier.
    MedicareId,
    /// Date of birth.
    Dob,
    /// A phone number that is not one of the pack's own.
    Phone,
    /// The local part of an email address.
    Email,
    /// A member-ID-like token (after "member id", or a pattern set by the pack).
    MemberId,
    /// A street address (house number, street name and type).
    Address,
}

impl PiiKind {
    /// Every kind.
    pub const ALL: [PiiKind; 8] = [
        PiiKind::Ssn,
        PiiKind::Card,
        PiiKind::MedicareId,
        PiiKind::Dob,
        PiiKind::Phone,
        PiiKind::Email,
        PiiKind::MemberId,
        PiiKind::Address,
    ];

    /// The placeholder written in place of the value.
    pub fn placeholder(self) -> &'static str {
        match self {
            PiiKind::Ssn => "[SSN]",
            PiiKind::Card => "[CARD]",
            PiiKind::MedicareId => "[MEDICARE_ID]",
            PiiKind::Dob => "[DOB]",
            PiiKind::Phone => "[PHONE]",
            PiiKind::Email => "[EMAIL]",
            PiiKind::MemberId => "[MEMBER_ID]",
            PiiKind::Address => "[ADDRESS]",
        }
    }
}

/// Text with personal data replaced, and what was found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Redacted {
    /// The message with placeholders.
    pub text: String,
    /// Kinds found, in order of first appearance, without repeats.
    pub found: Vec<PiiKind>,
}

/// Settings from the pack: numbers that are not personal, an optional member ID shape.
#[derive(Clone, Debug, Default)]
pub struct PiiConfig {
    /// Digits of the pack's own phone numbers (10 digits, no country code).
    pub allowed_numbers: Vec<String>,
    /// A pack-defined member ID pattern.
    pub member_id: Option<Regex>,
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z0-9._%+\-]+@((?:[a-z0-9\-]+\.)+[a-z]{2,})\b").expect("valid regex")
});
// A run of digits with optional single spaces or dashes between groups.
static DIGIT_RUN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\+?\(?\d[\d\s().\-]{6,}\d").expect("valid regex"));
static MBI: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9]-?[AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9]-?[AC-HJKMNP-RT-Y]{2}[0-9]{2}\b",
    )
    .expect("valid regex")
});
static DOB: LazyLock<Regex> = LazyLock::new(|| {
    let date = r"(?:\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2}|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}|\d{1,2}\s+(?:de\s+)?[a-z]+\.?\s+(?:de\s+)?\d{4})";
    // The keyword, then at most a few small words ("is", "es el", "on the") before
    // the date. No trailing `\b` after the keyword: "nació" ends in a non-ASCII
    // letter.
    Regex::new(&format!(
        r"(?i)\b(?:dob|d\.o\.b\.?|date of birth|birth\s?date|birthday|born|b-day|fecha de nacimiento|nacimiento|naci[oó]|nacid[oa]|naci|cumplea[ñn]os)[\s:#\-]+(?:(?:is|was|on|the|es|el|fue|de)[\s:]+){{0,3}}({date})"
    ))
    .expect("valid regex")
});
// A US street address: a house number, up to three name words, a street type.
static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b\d{1,6}\s+(?:[a-z0-9]+\.?\s+){1,3}(?:st|street|ave|avenue|rd|road|dr|drive|ln|lane|blvd|boulevard|ct|court|way|pl|place|ter|terrace|cir|circle|pkwy|parkway|hwy|highway|trl|trail)\b\.?",
    )
    .expect("valid regex")
});
// A member ID after the words that introduce one, in any pack.
static MEMBER_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(member\s*(?:id|number|#|no\.?)|id\s*(?:number|#)|n[uú]mero de miembro|id de miembro)[\s:#]*(?:(?:is|es)\s+)?([a-z0-9\-]{6,20})\b",
    )
    .expect("valid regex")
});

/// Replaces personal data in `text` with placeholders.
pub fn redact(text: &str, config: &PiiConfig) -> Redacted {
    let mut found = Vec::new();
    let mut note = |kind: PiiKind| {
        if !found.contains(&kind) {
            found.push(kind);
        }
    };

    // Text redacted before (a saved transcript, a log line replayed) keeps its
    // placeholders, and counts as carrying what they stand for: a replay must
    // answer as the original conversation did.
    if text.contains('[') {
        for kind in PiiKind::ALL {
            if text.contains(kind.placeholder()) {
                note(kind);
            }
        }
    }
    let has_digit = text.bytes().any(|b| b.is_ascii_digit());
    if !has_digit && !text.contains('@') && config.member_id.is_none() {
        return Redacted {
            text: text.to_string(),
            found,
        };
    }
    // Emails first: their digits must not be read as numbers. The domain is kept.
    let mut out = replace_all(text, &EMAIL, |caps| {
        note(PiiKind::Email);
        Some(format!("{}@{}", PiiKind::Email.placeholder(), &caps[1]))
    });
    if !has_digit {
        return Redacted { text: out, found };
    }
    out = replace_all(&out, &DOB, |caps| {
        note(PiiKind::Dob);
        let whole = &caps[0];
        let date = &caps[1];
        Some(whole.replacen(date, PiiKind::Dob.placeholder(), 1))
    });
    out = replace_all(&out, &MBI, |caps| {
        // Nine or more digits in a row are some other number, not an MBI.
        let has_letters = caps[0].chars().filter(|c| c.is_ascii_alphabetic()).count() >= 3;
        has_letters.then(|| {
            note(PiiKind::MedicareId);
            PiiKind::MedicareId.placeholder().to_string()
        })
    });
    // Member IDs and addresses before digit runs: a run must not swallow them.
    if let Some(member_id) = &config.member_id {
        out = replace_all(&out, member_id, |_| {
            note(PiiKind::MemberId);
            Some(PiiKind::MemberId.placeholder().to_string())
        });
    }
    out = replace_all(&out, &ADDRESS, |caps| {
        note(PiiKind::Address);
        let _ = caps;
        Some(PiiKind::Address.placeholder().to_string())
    });
    out = replace_all(&out, &MEMBER_ID, |caps| {
        let token = &caps[2];
        // An ID has digits; "member id please" does not.
        token.bytes().any(|b| b.is_ascii_digit()).then(|| {
            note(PiiKind::MemberId);
            format!("{} {}", &caps[1], PiiKind::MemberId.placeholder())
        })
    });
    out = replace_all(&out, &DIGIT_RUN, |caps| {
        let run = &caps[0];
        if let Some(kind) = classify_digits(run, config) {
            note(kind);
            return Some(kind.placeholder().to_string());
        }
        // The run as a whole is nothing, but space-separated parts of it may be
        // ("100000001 123-10-1000" holds an SSN): longest parts first.
        let parts = split_run(run, config);
        if parts.iter().all(|(_, kind)| kind.is_none()) {
            return None;
        }
        let mut replaced = String::with_capacity(run.len());
        for (text, kind) in parts {
            match kind {
                Some(kind) => {
                    note(kind);
                    replaced.push_str(kind.placeholder());
                }
                None => replaced.push_str(text),
            }
        }
        Some(replaced)
    });
    Redacted { text: out, found }
}

/// Most space-separated groups one piece of personal data spans.
const MAX_GROUPS: usize = 6;

/// A run split at spaces into pieces, each the longest span of whole groups that is
/// personal data (with its kind), or text to keep (with the spaces between).
fn split_run<'a>(run: &'a str, config: &PiiConfig) -> Vec<(&'a str, Option<PiiKind>)> {
    let groups: Vec<(usize, usize)> = run
        .split(' ')
        .scan(0usize, |at, g| {
            let start = *at;
            *at += g.len() + 1;
            Some((start, start + g.len()))
        })
        .filter(|(a, b)| b > a)
        .collect();
    let mut out = Vec::new();
    let mut kept_from = 0;
    let mut i = 0;
    while i < groups.len() {
        // A card is at most five groups, a phone four: longer spans are not tried,
        // so a hostile run of thousands of groups stays linear.
        let last = groups.len().min(i + MAX_GROUPS);
        let found = (i + 1..=last).rev().find_map(|j| {
            let span = &run[groups[i].0..groups[j - 1].1];
            classify_digits(span, config).map(|k| (j, k))
        });
        match found {
            Some((j, kind)) => {
                out.push((&run[kept_from..groups[i].0], None));
                out.push((&run[groups[i].0..groups[j - 1].1], Some(kind)));
                kept_from = groups[j - 1].1;
                i = j;
            }
            None => i += 1,
        }
    }
    out.push((&run[kept_from..], None));
    out
}

/// Decides what a run of digits is, or `None` to keep it.
fn classify_digits(run: &str, config: &PiiConfig) -> Option<PiiKind> {
    let digits: String = run.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len();
    if (13..=19).contains(&n) && luhn_valid(&digits) && only_spaces_or_dashes(run) {
        return Some(PiiKind::Card);
    }
    if n == 9 && is_ssn(run) {
        return Some(PiiKind::Ssn);
    }
    if n == 10 || (n == 11 && digits.starts_with('1')) {
        let national = &digits[n - 10..];
        if config.allowed_numbers.iter().any(|a| a == national) {
            return None;
        }
        if looks_like_phone(run) {
            return Some(PiiKind::Phone);
        }
    }
    None
}

fn only_spaces_or_dashes(run: &str) -> bool {
    run.chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
}

/// A North American number as people write one: 10 digits together or grouped
/// 3-3-4 (an optional leading 1 aside), area code and exchange not starting with 0
/// or 1. A tracking number's "3344 5566 77" is not one.
fn looks_like_phone(run: &str) -> bool {
    if !run
        .chars()
        .all(|c| c.is_ascii_digit() || " ()-.+".contains(c))
    {
        return false;
    }
    let mut groups: Vec<&str> = run
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .collect();
    if groups.first().is_some_and(|g| *g == "1") && groups.len() > 1 {
        groups.remove(0);
    }
    let digits: String = groups.concat();
    let digits = match digits.len() {
        11 if digits.starts_with('1') => &digits[1..],
        _ => digits.as_str(),
    };
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    let shape = matches!(lengths.as_slice(), [10] | [3, 3, 4] | [11]);
    shape
        && digits.len() == 10
        && !matches!(digits.as_bytes()[0], b'0' | b'1')
        && !matches!(digits.as_bytes()[3], b'0' | b'1')
}

/// An SSN: 3-2-4 digits with one delimiter style, valid area, group and serial.
fn is_ssn(run: &str) -> bool {
    let groups: Vec<&str> = run.split(['-', ' ']).filter(|g| !g.is_empty()).collect();
    let delimiters: Vec<char> = run.chars().filter(|c| !c.is_ascii_digit()).collect();
    let shape_ok = match groups.as_slice() {
        [all] => all.len() == 9 && all.chars().all(|c| c.is_ascii_digit()),
        [a, b, c] => {
            a.len() == 3
                && b.len() == 2
                && c.len() == 4
                && delimiters.len() == 2
                && delimiters[0] == delimiters[1]
        }
        _ => false,
    };
    if !shape_ok {
        return false;
    }
    let digits: String = groups.concat();
    let (area, group, serial) = (&digits[0..3], &digits[3..5], &digits[5..9]);
    area != "000" && area != "666" && !area.starts_with('9') && group != "00" && serial != "0000"
}

/// The Luhn checksum used by payment cards.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0;
    for (i, c) in digits.chars().rev().enumerate() {
        let Some(mut d) = c.to_digit(10) else {
            return false;
        };
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

/// Like `Regex::replace_all`, but the closure may decline a match (`None`).
fn replace_all(
    text: &str,
    re: &Regex,
    mut f: impl FnMut(&regex::Captures<'_>) -> Option<String>,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let m = caps.get(0).expect("group 0 always matches");
        if let Some(replacement) = f(&caps) {
            out.push_str(&text[last..m.start()]);
            out.push_str(&replacement);
            last = m.end();
        }
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn street_addresses_spanish_dates_of_birth_and_member_ids() {
        let config = PiiConfig::default();
        let cases = [
            (
                "ship to 1422 N Maple Ave please",
                "ship to [ADDRESS] please",
            ),
            ("its 88 Ridge Road Apt 4", "its [ADDRESS] Apt 4"),
            ("nació el 14 de marzo de 1951", "nació el [DOB]"),
            (
                "su fecha de nacimiento es el 5/1/1946",
                "su fecha de nacimiento es el [DOB]",
            ),
            (
                "member id NVA908172634 thanks",
                "member id [MEMBER_ID] thanks",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input, &config).text, want, "{input}");
        }
        for keep in [
            "take 2 tablets a day",
            "10 mg twice a day",
            "order #48213 shipped on 03/14/2026",
            "what is my member id please",
            "a 3 way call",
        ] {
            assert_eq!(redact(keep, &config).text, keep);
        }
    }

    use super::*;

    fn config() -> PiiConfig {
        PiiConfig {
            allowed_numbers: vec!["8002372765".into()],
            member_id: None,
        }
    }

    fn check(input: &str, expect: &str) {
        assert_eq!(redact(input, &config()).text, expect, "input {input:?}");
    }

    #[test]
    fn redacts_each_kind() {
        check("my SSN 078-05-1120 ok", "my SSN [SSN] ok");
        check("ssn 123456789", "ssn [SSN]");
        check(
            "card 4111 1111 1111 1111 exp 09/27",
            "card [CARD] exp 09/27",
        );
        check(
            "Medicare ID 1EG4-TE5-MK73 — covered?",
            "Medicare ID [MEDICARE_ID] — covered?",
        );
        check("mbi 1eg4te5mk73", "mbi [MEDICARE_ID]");
        check("DOB 03/14/1952, SSN", "DOB [DOB], SSN");
        check("born on March 3, 1950", "born on [DOB]");
        check("call me at (512) 555-0147", "call me at [PHONE]");
        check(
            "from global.support@cvthealth.com",
            "from [EMAIL]@cvthealth.com",
        );
    }

    #[test]
    fn keeps_what_is_not_personal() {
        check("call 1-800-237-2765 please", "call 1-800-237-2765 please");
        check("copay was $45 on 10/12", "copay was $45 on 10/12");
        check("invalid ssn 666-12-3456", "invalid ssn 666-12-3456");
        check("mixed 123-45 6789", "mixed 123-45 6789");
        check("card 4111 1111 1111 1112", "card 4111 1111 1111 1112");
        check("call 911 now", "call 911 now");
    }

    #[test]
    fn reports_kinds_once_in_order() {
        let r = redact("ssn 078-05-1120 and 219-09-9999, dob 1/2/1950", &config());
        assert_eq!(r.found, vec![PiiKind::Dob, PiiKind::Ssn]);
    }

    #[test]
    fn luhn() {
        assert!(luhn_valid("4111111111111111"));
        assert!(!luhn_valid("4111111111111112"));
    }
}
