//! Domains: finding them in text and telling official ones from lookalikes.
//!
//! A domain is a lookalike of an official one when it is not official but its
//! labels come within a small edit distance of an official label, share its
//! confusable skeleton (`rn` for `m`, `0` for `o`, Cyrillic for Latin), or carry the
//! official brand inside a different registrable domain (`caremark-refunds.net`).

use crate::normalize::fold;

/// Top-level domains recognised in free text.
const TLDS: &[&str] = &[
    "com", "net", "org", "co", "info", "biz", "us", "io", "health", "care", "online", "site",
    "xyz", "top", "shop", "app", "me", "ru", "cn", "uk", "ca", "mx", "support", "help", "rx",
    "pharmacy", "link", "live", "club",
];

/// Domains written in `text` (raw, as the member typed them): dotted words that end
/// in a known top-level domain. A hand scan, not a regex: this runs on every message
/// and on every pack address, and a Unicode-aware regex costs milliseconds to build.
pub fn find_domains(text: &str) -> Vec<String> {
    let is_label_char = |c: char| c.is_alphanumeric() || c == '-';
    let mut out = Vec::new();
    for word in text.split(|c: char| !(is_label_char(c) || c == '.')) {
        let word = word.trim_matches(|c| c == '.' || c == '-');
        let Some((_, tld)) = word.rsplit_once('.') else {
            continue;
        };
        let labels_ok = word
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
        if labels_ok && TLDS.contains(&tld.to_lowercase().as_str()) {
            out.push(word.trim_start_matches("www.").to_string());
        }
    }
    out
}

/// The last two labels: `www.caremark.com` → `caremark.com`.
pub fn registrable(domain: &str) -> String {
    let labels: Vec<&str> = domain.trim_end_matches('.').split('.').collect();
    let n = labels.len();
    if n <= 2 {
        return labels.join(".");
    }
    labels[n - 2..].join(".")
}

/// Which official domain `domain` imitates, if it is a lookalike of one.
pub fn lookalike_of<'a>(domain: &str, official: &'a [String]) -> Option<&'a str> {
    let raw = domain.to_lowercase();
    let folded = fold(&raw);
    let reg = registrable(&folded);
    let is_ascii = raw.is_ascii();
    for o in official {
        let o_reg = registrable(o);
        if reg == o_reg {
            // Same letters after folding: official only if written in plain ASCII.
            if is_ascii {
                return None;
            }
            return Some(o);
        }
    }
    let labels: Vec<&str> = folded.split('.').collect();
    let own = &labels[..labels.len().saturating_sub(1)];
    let raw_labels: Vec<&str> = raw.split('.').collect();
    let raw_own = &raw_labels[..raw_labels.len().saturating_sub(1)];
    for o in official {
        let o_label = registrable(o)
            .split('.')
            .next()
            .unwrap_or_default()
            .to_string();
        if o_label.len() < 3 {
            continue;
        }
        // Unicode TR39 skeletons of the labels as typed: "cаremark" with a
        // Cyrillic а, "carernark".
        let o_skeleton = tr39_skeleton(&o_label);
        if raw_own.iter().any(|l| tr39_skeleton(l) == o_skeleton) {
            return Some(o);
        }
        for label in own {
            if *label == o_label {
                // The brand as a label of someone else's domain (caremark.com.evil.ru).
                return Some(o);
            }
            if skeleton(label) == skeleton(&o_label) {
                return Some(o);
            }
            let distance = strsim::osa_distance(label, &o_label);
            if o_label.len() >= 5 && distance <= 2
                || o_label.len() >= 3 && distance == 1 && label.len() >= 3
            {
                return Some(o);
            }
            let parts_contain = label.split('-').any(|p| p == o_label);
            if parts_contain || (o_label.len() >= 5 && label.contains(&o_label)) {
                return Some(o);
            }
        }
    }
    None
}

/// The confusable skeleton of Unicode TR39 (`unicode-security`), case-folded on
/// both sides: `m` and `rn`, `а` (Cyrillic) and `a`, `0` and `o` compare equal.
fn tr39_skeleton(label: &str) -> String {
    let lower = label.to_lowercase();
    let once: String = unicode_security::skeleton(&lower).collect();
    unicode_security::skeleton(&once.to_lowercase())
        .collect::<String>()
        .to_lowercase()
}

/// A confusable skeleton of folded ASCII: letters that look alike map to one form.
fn skeleton(label: &str) -> String {
    label
        .replace("rn", "m")
        .replace("vv", "w")
        .replace("cl", "d")
        .replace('0', "o")
        .replace(['1', 'l'], "i")
        .replace('5', "s")
}

#[cfg(test)]
mod tests {
    #[test]
    fn tr39_skeletons_catch_script_and_shape_confusables() {
        let official = vec!["caremark.com".to_string(), "cvshealth.com".to_string()];
        for fake in [
            "c\u{430}remark.com",
            "carernark.com",
            "caremark.co",
            "cvthealth.com",
            "cvsheaith.com",
        ] {
            assert!(super::lookalike_of(fake, &official).is_some(), "{fake}");
        }
        for real in [
            "caremark.com",
            "www.caremark.com",
            "cvshealth.com",
            "example.com",
            "mark.com",
        ] {
            assert_eq!(super::lookalike_of(real, &official), None, "{real}");
        }
    }

    use super::*;

    fn official() -> Vec<String> {
        vec![
            "caremark.com".into(),
            "cvs.com".into(),
            "cvshealth.com".into(),
        ]
    }

    #[test]
    fn lookalikes_are_caught() {
        for d in [
            "cvthealth.com",
            "carernark.com",
            "cаremark.com",
            "caremark-refunds.net",
            "cvs-rx-delivery.co",
            "caremark.com.verify-account.ru",
            "caremrk.com",
        ] {
            assert!(
                lookalike_of(d, &official()).is_some(),
                "{d} should be a lookalike"
            );
        }
    }

    #[test]
    fn official_and_unrelated_domains_pass() {
        for d in [
            "caremark.com",
            "www.caremark.com",
            "cvshealth.com",
            "gmail.com",
            "walgreens.com",
        ] {
            assert!(lookalike_of(d, &official()).is_none(), "{d} should pass");
        }
    }

    #[test]
    fn finds_domains_in_text() {
        assert_eq!(
            find_domains("pay at cvs-rx-delivery.co now or email [EMAIL]@cvthealth.com"),
            vec!["cvs-rx-delivery.co", "cvthealth.com"]
        );
        assert_eq!(find_domains("go to www.caremark.com"), vec!["caremark.com"]);
    }
}
