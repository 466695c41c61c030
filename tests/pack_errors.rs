//! `triage::check` on broken packs: every error is reported, at the right file:line:col.
//!
//! Each test builds a pack in a temporary folder — either a small pack written from
//! scratch ([`TempPack::minimal`]) or a copy of the default pack
//! ([`TempPack::copy_of_default`]) — breaks one thing, and checks the diagnostic.

use std::path::{Path, PathBuf};

use tempfile::TempDir;
use triage::{CheckReport, Diagnostic, Severity};

/// `[pack]` and the English language of the minimal pack.
const PACK_TOML: &str = r#"[pack]
name = "mini"
time_zone = "America/Chicago"
default_language = "en"
official_domains = ["cvshealth.com"]

[languages.en]
name = "English"
stemmer = "english"

[languages.en.messages]
fallback = "I can't help with that here. Call {main.number}."
clarify = "Which of these is closest?"
pii = "Please don't share personal data in chat."
scam = "This may be a scam."
lookalike = "That address imitates an official domain."
closed = "{name} is closed right now ({hours}); it opens {opens}"
truncated = "Your message was long; I read the first part."
days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
always_open = "24/7"
"#;

/// A Spanish language block, appended to [`PACK_TOML`] where a test needs it.
const SPANISH: &str = r#"
[languages.es]
name = "Español"
stemmer = "spanish"

[languages.es.messages]
fallback = "No puedo ayudarle con eso aquí. Llame al {main.number}."
clarify = "¿Cuál de estas opciones se parece más?"
pii = "No comparta datos personales en el chat."
scam = "Esto puede ser una estafa."
lookalike = "Esa dirección imita un dominio oficial."
closed = "{name} está cerrado ahora ({hours}); abre el {opens}"
truncated = "Su mensaje era largo; leí la primera parte."
days = ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"]
always_open = "24/7"
"#;

/// The minimal pack's only contact, with one menu option.
const CONTACTS_TOML: &str = r#"[[contact]]
id = "main"
kind = "phone"
name = "Main line"
number = "1-800-555-0100"
hours = { always = true }
source = { doc = "support.txt", quote = "Call 1-800-555-0100, 24 hours a day" }

  [[contact.option]]
  key = "1"
  label = "Refills"
  source = { doc = "support.txt", quote = "Press 1 for refills" }
"#;

/// The document the minimal pack quotes.
const SUPPORT_TXT: &str = "Example Pharmacy member support\n\n\
Call 1-800-555-0100, 24 hours a day, 7 days a week.\n\
Press 1 for refills.\n\
Email help@cvshealth.com for anything else.\n";

/// The minimal pack's only intent.
const REFILL_TOML: &str = r#"[[intent]]
id = "refill"
title = "Refill a prescription"
route = "main:1"
phrases = ["refill", "need a refill"]
examples = ["I need to refill my medication"]
answer.en = "Call {main.number} and press 1."
"#;

/// A pack folder that lives as long as the test.
struct TempPack {
    dir: TempDir,
}

impl TempPack {
    /// A small valid pack: settings, English, one contact, one source, one intent.
    fn minimal() -> TempPack {
        let pack = TempPack {
            dir: tempfile::tempdir().expect("create a temp dir"),
        };
        pack.write("pack.toml", PACK_TOML);
        pack.write("contacts.toml", CONTACTS_TOML);
        pack.write("sources/support.txt", SUPPORT_TXT);
        pack.write("intents/refill.toml", REFILL_TOML);
        pack
    }

    /// A copy of the default pack (`intents/caremark`).
    fn copy_of_default() -> TempPack {
        let pack = TempPack {
            dir: tempfile::tempdir().expect("create a temp dir"),
        };
        copy_dir(&default_pack_dir(), pack.path());
        pack
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes (or overwrites) a file of the pack, creating folders as needed.
    fn write(&self, rel: &str, text: &str) {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent folder")).expect("create folders");
        std::fs::write(&path, text).expect("write a pack file");
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).expect("read a pack file")
    }

    /// Replaces the one occurrence of `from` in a file; returns the new text.
    fn replace_once(&self, rel: &str, from: &str, to: &str) -> String {
        let text = self.read(rel);
        assert_eq!(
            text.matches(from).count(),
            1,
            "{rel} should contain {from:?} exactly once"
        );
        let text = text.replacen(from, to, 1);
        self.write(rel, &text);
        text
    }

    fn check(&self) -> CheckReport {
        triage::check(triage::read_pack_dir(self.path()).expect("read the pack folder"))
    }
}

fn default_pack_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("intents/caremark")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create folder");
    for entry in std::fs::read_dir(from).expect("read folder") {
        let entry = entry.expect("folder entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// Every diagnostic, rendered, for assertion messages.
fn rendered(report: &CheckReport) -> String {
    report
        .diagnostics
        .iter()
        .map(Diagnostic::render)
        .collect::<Vec<_>>()
        .join("\n")
}

fn errors(report: &CheckReport) -> Vec<&Diagnostic> {
    report.diagnostics.iter().filter(|d| d.is_error()).collect()
}

/// The one error whose message contains `needle` (panics with the full report otherwise).
fn error_with<'a>(report: &'a CheckReport, needle: &str) -> &'a Diagnostic {
    let found: Vec<&Diagnostic> = errors(report)
        .into_iter()
        .filter(|d| d.message.contains(needle))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected exactly one error containing {needle:?}; the report:\n{}",
        rendered(report)
    );
    found[0]
}

/// Asserts a diagnostic's file (relative to the pack folder) and line:col.
fn assert_at(d: &Diagnostic, rel: &str, line: usize, col: usize) {
    assert!(
        d.file.ends_with(rel),
        "expected the diagnostic in {rel}, got {}:\n{}",
        d.file.display(),
        d.render()
    );
    assert_eq!(
        (d.line, d.col),
        (line, col),
        "wrong position:\n{}",
        d.render()
    );
}

/// 1-based line and column (in characters) of the first `needle` in `text`.
fn position_of(text: &str, needle: &str) -> (usize, usize) {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} is not in the text"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[test]
fn the_minimal_pack_is_valid() {
    // The baseline every other minimal-pack test breaks: it must check clean.
    let pack = TempPack::minimal();
    let report = pack.check();
    assert_eq!(report.n_errors, 0, "{}", rendered(&report));
    assert_eq!(report.n_intents, 1);
    assert_eq!(report.n_contacts, 1);
}

#[test]
fn the_default_pack_has_no_errors() {
    let files = triage::read_pack_dir(&default_pack_dir()).expect("read the default pack");
    let report = triage::check(files);
    assert_eq!(report.n_errors, 0, "{}", rendered(&report));
    assert!(errors(&report).is_empty());
    assert_eq!(
        report.n_errors + report.n_warnings,
        report.diagnostics.len()
    );
    assert!(report.n_intents > 0 && report.n_contacts > 0);
}

#[test]
fn unknown_key_in_an_intent() {
    let pack = TempPack::minimal();
    pack.write(
        "intents/refill.toml",
        r#"[[intent]]
id = "refill"
title = "Refill a prescription"
route = "main:1"
phrasez = ["refill", "need a refill"]
answer.en = "Call {main.number} and press 1."
"#,
    );
    let report = pack.check();
    assert_eq!(report.n_errors, 1, "{}", rendered(&report));
    let d = error_with(&report, "unknown field");
    assert!(d.message.contains("phrasez"), "{}", d.render());
    assert_at(d, "intents/refill.toml", 5, 1);
    assert_eq!(d.severity, Severity::Error);
    assert!(d.help.as_deref().is_some_and(|h| h.contains("spelling")));

    // The human rendering: headline, location, the source line and carets under the key.
    let text = d.render();
    assert!(text.starts_with("error: unknown field `phrasez`"), "{text}");
    assert!(text.contains("intents/refill.toml:5:1"), "{text}");
    assert!(
        text.contains("5 | phrasez = [\"refill\", \"need a refill\"]"),
        "{text}"
    );
    assert!(text.contains("  | ^^^^^^^"), "{text}");
}

#[test]
fn unknown_key_in_a_contact_option() {
    let pack = TempPack::minimal();
    let text = pack.replace_once(
        "contacts.toml",
        "  label = \"Refills\"",
        "  lable = \"Refills\"",
    );
    let report = pack.check();
    let d = error_with(&report, "unknown field `lable`");
    let (line, col) = position_of(&text, "lable");
    assert_eq!((line, col), (11, 3));
    assert_at(d, "contacts.toml", line, col);
}

#[test]
fn toml_syntax_error() {
    let pack = TempPack::minimal();
    pack.write(
        "intents/refill.toml",
        r#"[[intent]]
id = "refill"
title = "Refill a prescription
route = "main:1"
phrases = ["refill"]
answer.en = "Call {main.number} and press 1."
"#,
    );
    let report = pack.check();
    assert_eq!(report.n_errors, 1, "{}", rendered(&report));
    let d = error_with(&report, "invalid basic string");
    // At the end of the line where the closing quote is missing.
    assert_at(d, "intents/refill.toml", 3, 31);
    assert_eq!(d.help.as_deref(), Some("fix the TOML syntax"));
    assert_eq!(report.n_intents, 0, "a pack with errors does not load");
}

#[test]
fn syntax_errors_in_two_files_are_both_reported() {
    let pack = TempPack::minimal();
    pack.write("intents/a.toml", "[[intent]\nid = \"a\"\n");
    pack.write("intents/b.toml", "[[intent]]\nid = = \"b\"\n");
    let report = pack.check();
    let files: Vec<&Diagnostic> = errors(&report);
    assert!(
        files
            .iter()
            .any(|d| d.file.ends_with("intents/a.toml") && d.line == 1),
        "{}",
        rendered(&report)
    );
    assert!(
        files
            .iter()
            .any(|d| d.file.ends_with("intents/b.toml") && d.line == 2),
        "{}",
        rendered(&report)
    );
}

#[test]
fn route_to_an_unknown_contact() {
    let pack = TempPack::minimal();
    let text = pack.replace_once(
        "intents/refill.toml",
        "route = \"main:1\"",
        "route = \"mian:1\"",
    );
    let report = pack.check();
    assert_eq!(report.n_errors, 1, "{}", rendered(&report));
    let d = error_with(&report, "unknown contact \"mian\"");
    // The span is the string value, quotes included.
    assert_eq!(position_of(&text, "\"mian:1\""), (4, 9));
    assert_at(d, "intents/refill.toml", 4, 9);
    assert!(
        d.help.as_deref().is_some_and(|h| h.contains("main")),
        "the help lists the known contacts: {}",
        d.render()
    );
}

#[test]
fn route_to_an_unknown_menu_option() {
    // In a copy of the default pack: the main line has no option 7.
    let pack = TempPack::copy_of_default();
    let text = pack.replace_once(
        "intents/refills.toml",
        "route = \"main:1\"\nalso = [\"portal:refill\", \"app:manage\"]",
        "route = \"main:7\"\nalso = [\"portal:refill\", \"app:manage\"]",
    );
    let report = pack.check();
    assert_eq!(report.n_errors, 1, "{}", rendered(&report));
    let d = error_with(&report, "has no menu option or action \"7\"");
    assert!(d.message.contains("\"main\""), "{}", d.render());
    let (line, col) = position_of(&text, "\"main:7\"");
    assert_eq!(col, 9);
    assert_at(d, "intents/refills.toml", line, col);
}

#[test]
fn unknown_menu_option_in_also_is_reported_at_the_also_entry() {
    let pack = TempPack::minimal();
    let text = pack.replace_once(
        "intents/refill.toml",
        "route = \"main:1\"\n",
        "route = \"main:1\"\nalso = [\"main\", \"main:2\"]\n",
    );
    let report = pack.check();
    let d = error_with(&report, "has no menu option or action \"2\"");
    let (line, col) = position_of(&text, "\"main:2\"");
    assert_eq!((line, col), (5, 17));
    assert_at(d, "intents/refill.toml", line, col);
}

#[test]
fn duplicate_intent_id_across_two_files() {
    let pack = TempPack::minimal();
    // Files are read in path order: refill.toml before refill_again.toml.
    pack.write("intents/refill_again.toml", REFILL_TOML);
    let report = pack.check();
    assert_eq!(report.n_errors, 1, "{}", rendered(&report));
    let d = error_with(&report, "duplicate intent id \"refill\"");
    assert_at(d, "intents/refill_again.toml", 2, 6);
}

#[test]
fn duplicate_intent_id_in_one_file() {
    let pack = TempPack::minimal();
    let text = format!("{REFILL_TOML}\n{REFILL_TOML}");
    pack.write("intents/refill.toml", &text);
    let report = pack.check();
    assert_eq!(report.n_errors, 1, "{}", rendered(&report));
    let d = error_with(&report, "duplicate intent id \"refill\"");
    // The second declaration: 7 lines of the first, a blank line, `[[intent]]`, then `id`.
    assert_at(d, "intents/refill.toml", 10, 6);
}

#[test]
fn duplicate_of_a_default_intent_id() {
    let pack = TempPack::copy_of_default();
    let copy = REFILL_TOML.replace("id = \"refill\"", "id = \"refill_by_phone\"");
    pack.write("intents/zz_copy.toml", &copy);
    let report = pack.check();
    let d = error_with(&report, "duplicate intent id \"refill_by_phone\"");
    assert_at(d, "intents/zz_copy.toml", 2, 6);
}

#[test]
fn invalid_regex_in_patterns() {
    let pack = TempPack::minimal();
    let text = pack.replace_once(
        "intents/refill.toml",
        "phrases = [\"refill\", \"need a refill\"]\n",
        "phrases = [\"refill\", \"need a refill\"]\npatterns = ['\\brefill\\b', '\\b(refill']\n",
    );
    let report = pack.check();
    assert_eq!(report.n_errors, 1, "{}", rendered(&report));
    let d = error_with(&report, "invalid regex");
    // The span is the second pattern, not the first.
    let (line, col) = position_of(&text, "'\\b(refill'");
    assert_eq!((line, col), (6, 27));
    assert_at(d, "intents/refill.toml", line, col);
    assert!(
        !d.message.contains('\n'),
        "one-line message: {:?}",
        d.message
    );
}

#[test]
fn pattern_with_an_unknown_lookup() {
    let pack = TempPack::minimal();
    let text = pack.replace_once(
        "intents/refill.toml",
        "examples = [",
        "patterns = ['\\brefill {@drugs}']\nexamples = [",
    );
    let report = pack.check();
    let d = error_with(&report, "unknown lookup @drugs");
    let (line, col) = position_of(&text, "'\\brefill {@drugs}'");
    assert_at(d, "intents/refill.toml", line, col);
}

#[test]
fn intent_with_no_way_to_match() {
    let pack = TempPack::minimal();
    pack.write(
        "intents/refill.toml",
        r#"[[intent]]
id = "refill"
title = "Refill a prescription"
route = "main:1"
negative = ["cancel"]
answer.en = "Call {main.number} and press 1."
"#,
    );
    let report = pack.check();
    assert_eq!(report.n_errors, 1, "{}", rendered(&report));
    let d = error_with(&report, "no way to match");
    assert!(d.message.contains("\"refill\""), "{}", d.render());
    assert_at(d, "intents/refill.toml", 2, 6);
}

#[test]
fn source_quote_not_found_in_its_document() {
    let pack = TempPack::minimal();
    let text = pack.replace_once(
        "contacts.toml",
        "quote = \"Press 1 for refills\"",
        "quote = \"Press 1 for refills and renewals\"",
    );
    let report = pack.check();
    assert_eq!(report.n_errors, 1, "{}", rendered(&report));
    let d = error_with(&report, "quote not found");
    assert!(d.message.contains("support.txt"), "{}", d.render());
    let (line, col) = position_of(&text, "\"Press 1 for refills and renewals\"");
    assert_eq!(line, 12);
    assert_at(d, "contacts.toml", line, col);
}

#[test]
fn source_quote_may_wrap_differently_from_its_document() {
    // Whitespace is collapsed on both sides: a quote spanning a line break still matches.
    let pack = TempPack::minimal();
    pack.replace_once(
        "contacts.toml",
        "quote = \"Press 1 for refills\"",
        "quote = \"a week. Press  1 for refills\"",
    );
    let report = pack.check();
    assert_eq!(report.n_errors, 0, "{}", rendered(&report));
}

#[test]
fn source_document_missing_from_sources() {
    let pack = TempPack::minimal();
    let text = pack.replace_once(
        "intents/refill.toml",
        "answer.en",
        "source = { doc = \"faq.txt\", quote = \"Press 1\" }\nanswer.en",
    );
    let report = pack.check();
    let d = error_with(&report, "\"faq.txt\" is not in the pack's sources/ folder");
    let (line, col) = position_of(&text, "\"faq.txt\"");
    assert_at(d, "intents/refill.toml", line, col);
}

/// A verified-by-default email contact on `address`, appended to the minimal contacts.
fn email_contact(address: &str, verified: Option<bool>) -> String {
    let verified = verified.map_or(String::new(), |v| format!("verified = {v}\n"));
    format!(
        "{CONTACTS_TOML}\n[[contact]]\nid = \"help_email\"\nkind = \"email\"\nname = \"Help email\"\n\
         address = \"{address}\"\n{verified}\
         source = {{ doc = \"support.txt\", quote = \"Email help@cvshealth.com for anything else.\" }}\n"
    )
}

#[test]
fn lookalike_contact_email_is_an_error_unless_unverified() {
    for (address, lookalike) in [
        ("help@cvshea1th.com", "cvshea1th.com"),
        ("x@cvthealth.com", "cvthealth.com"),
    ] {
        let pack = TempPack::minimal();
        let text = email_contact(address, None);
        pack.write("contacts.toml", &text);
        let report = pack.check();
        assert_eq!(report.n_errors, 1, "{address}: {}", rendered(&report));
        let d = error_with(&report, "looks like the official domain cvshealth.com");
        assert!(d.message.starts_with(lookalike), "{}", d.render());
        let (line, col) = position_of(&text, &format!("\"{address}\""));
        assert_eq!(col, 11);
        assert_at(d, "contacts.toml", line, col);
        assert!(
            d.help
                .as_deref()
                .is_some_and(|h| h.contains("verified = false")),
            "{}",
            d.render()
        );

        // Marked unverified, the pack keeps it (never offered) and checks clean.
        pack.write("contacts.toml", &email_contact(address, Some(false)));
        let report = pack.check();
        assert_eq!(report.n_errors, 0, "{address}: {}", rendered(&report));

        // `verified = true` written out is the same as the default.
        pack.write("contacts.toml", &email_contact(address, Some(true)));
        let report = pack.check();
        assert_eq!(report.n_errors, 1, "{address}: {}", rendered(&report));
    }
}

#[test]
fn official_contact_email_is_not_a_lookalike() {
    let pack = TempPack::minimal();
    pack.write("contacts.toml", &email_contact("help@cvshealth.com", None));
    let report = pack.check();
    assert_eq!(report.n_errors, 0, "{}", rendered(&report));
}

#[test]
fn default_pack_lookalike_email_without_verified_false() {
    let pack = TempPack::copy_of_default();
    let text = pack.replace_once(
        "contacts.toml",
        "address = \"global.support@cvthealth.com\"\nverified = false\n",
        "address = \"global.support@cvthealth.com\"\n",
    );
    let report = pack.check();
    assert_eq!(report.n_errors, 1, "{}", rendered(&report));
    let d = error_with(&report, "cvthealth.com looks like the official domain");
    let (line, col) = position_of(&text, "\"global.support@cvthealth.com\"");
    assert_at(d, "contacts.toml", line, col);
}

#[test]
fn intent_missing_the_spanish_answer() {
    let pack = TempPack::minimal();
    pack.write("pack.toml", &format!("{PACK_TOML}{SPANISH}"));
    let report = pack.check();
    assert_eq!(report.n_errors, 1, "{}", rendered(&report));
    let d = error_with(&report, "has no answer in \"es\"");
    assert!(d.message.contains("\"refill\""), "{}", d.render());
    assert_at(d, "intents/refill.toml", 2, 6);
    assert_eq!(d.help.as_deref(), Some("add answer.es = \"...\""));

    // With the answer added, the pack checks clean.
    pack.write(
        "intents/refill.toml",
        &format!("{REFILL_TOML}answer.es = \"Llame al {{main.number}} y marque 1.\"\n"),
    );
    let report = pack.check();
    assert_eq!(report.n_errors, 0, "{}", rendered(&report));
}

#[test]
fn answer_in_an_undeclared_language() {
    let pack = TempPack::minimal();
    let text = format!("{REFILL_TOML}answer.fr = \"Appelez le {{main.number}}.\"\n");
    pack.write("intents/refill.toml", &text);
    let report = pack.check();
    let d = error_with(&report, "answer in undeclared language \"fr\"");
    assert_at(d, "intents/refill.toml", 8, 8);
}

#[test]
fn several_problems_are_all_reported_in_one_run() {
    let pack = TempPack::copy_of_default();
    let unknown_contact = REFILL_TOML
        .replace("id = \"refill\"", "id = \"zz_one\"")
        .replace("route = \"main:1\"", "route = \"helpdesk\"");
    let bad_regex = REFILL_TOML
        .replace("id = \"refill\"", "id = \"zz_two\"")
        .replace("examples = [", "patterns = ['(unclosed']\nexamples = [");
    let duplicate = REFILL_TOML.replace("id = \"refill\"", "id = \"order_status\"");
    for (name, text) in [
        ("intents/zz_a.toml", &unknown_contact),
        ("intents/zz_b.toml", &bad_regex),
        ("intents/zz_c.toml", &duplicate),
    ] {
        // Answers in both of the default pack's languages, so that only the planted
        // problems are errors.
        pack.write(
            name,
            &format!("{text}answer.es = \"Llame al {{main.number}}.\"\n"),
        );
    }
    let report = pack.check();
    assert!(report.n_errors >= 3, "{}", rendered(&report));
    assert_eq!(report.n_errors, errors(&report).len());
    assert_eq!(report.n_intents, 0, "a pack with errors does not load");

    let d = error_with(&report, "unknown contact \"helpdesk\"");
    assert_at(d, "intents/zz_a.toml", 4, 9);
    let d = error_with(&report, "invalid regex");
    assert_at(d, "intents/zz_b.toml", 6, 13);
    let d = error_with(&report, "duplicate intent id \"order_status\"");
    assert_at(d, "intents/zz_c.toml", 2, 6);
}

#[test]
fn diagnostics_are_sorted_by_file_and_position() {
    let pack = TempPack::minimal();
    pack.write(
        "intents/refill.toml",
        r#"[[intent]]
id = "refill"
title = "Refill a prescription"
route = "nowhere"
patterns = ['(']
answer.en = "Call {main.number} and press 1."
"#,
    );
    let report = pack.check();
    assert_eq!(report.n_errors, 2, "{}", rendered(&report));
    let positions: Vec<(usize, usize)> =
        report.diagnostics.iter().map(|d| (d.line, d.col)).collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted);
    assert_eq!(positions, vec![(4, 9), (5, 13)]);
}

#[test]
fn diagnostic_file_is_the_path_under_the_pack_folder() {
    let pack = TempPack::minimal();
    pack.replace_once(
        "intents/refill.toml",
        "route = \"main:1\"",
        "route = \"nobody\"",
    );
    let report = pack.check();
    let d = error_with(&report, "unknown contact \"nobody\"");
    // Paths are relative to the current directory only when inside it; a pack in a
    // temporary folder elsewhere keeps its full path.
    assert_eq!(d.file, pack.path().join("intents/refill.toml"));
}

// ---------------------------------------------------------------------------------
// dialogue: context routes, [dialogue], exceptions

#[test]
fn context_route_without_its_own_answer() {
    let pack = TempPack::minimal();
    pack.write(
        "intents/refill.toml",
        &format!("{REFILL_TOML}\n[[intent.when]]\ncontext = \"medicare\"\nroute = \"main\"\n"),
    );
    let report = pack.check();
    let e = error_with(
        &report,
        "the \"medicare\" route of intent \"refill\" has no answer in \"en\"",
    );
    assert_at(e, "intents/refill.toml", 11, 9);
}

#[test]
fn dialogue_human_route_and_call_routes_are_checked() {
    let pack = TempPack::minimal();
    pack.write(
        "dialogue.toml",
        "[dialogue]\nhuman = \"main:7\"\ncall_routes = { deaf = \"nowhere\" }\n",
    );
    let report = pack.check();
    let e = error_with(
        &report,
        "contact \"main\" has no menu option or action \"7\"",
    );
    assert_at(e, "dialogue.toml", 2, 9);
    error_with(&report, "unknown contact \"nowhere\"");
}

#[test]
fn exception_with_a_bad_date_or_an_unknown_contact() {
    let pack = TempPack::minimal();
    pack.write(
        "holidays.toml",
        "[[exception]]\ndate = \"2026-13-40\"\nname = \"Nope\"\ncontacts = [\"main\"]\n\n\
         [[exception]]\ndate = \"2026-12-25\"\nname = \"Christmas Day\"\ncontacts = [\"nobody\"]\n\
         source = { doc = \"support.txt\", quote = \"Press 1 for refills\" }\n",
    );
    let report = pack.check();
    let e = error_with(&report, "cannot read the date \"2026-13-40\"");
    assert_at(e, "holidays.toml", 2, 8);
    error_with(&report, "unknown contact \"nobody\"");
}
