//! Properties (proptest): redaction is idempotent and leaves nothing a detector
//! would still find; a zero-width or bidi character inside a keyword keeps the
//! route; the same input always gives the same reply.

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use triage::{Engine, Session};

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("intents/caremark");
        Engine::load_dir(&dir).expect("default pack").0
    })
}

fn now() -> jiff::ZonedDateTime {
    "2026-11-24T10:00:00-06:00[America/Chicago]"
        .parse()
        .expect("instant")
}

/// Text with personal-data-shaped pieces among ordinary words.
fn pii_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-z]{1,10}",
        "[1-8][0-9]{2}-[1-9][0-9]-[1-9][0-9]{3}",
        "4[0-9]{15}",
        "[0-9]{3}[ .-][0-9]{3}[ .-][0-9]{4}",
        "[a-z.]{1,10}@[a-z]{2,8}\\.(com|net)",
        "[1-9][AC-HJKMNP-RT-Y][0-9][0-9]-[AC-HJKMNP-RT-Y][0-9][0-9]-[AC-HJKMNP-RT-Y]{2}[0-9]{2}",
        "(dob|born) [01][0-9]/[0-3][0-9]/19[0-9]{2}",
        "[1-9][0-9]{1,4} [A-Z][a-z]{2,8} (St|Ave|Road|Lane)",
        "member id [A-Z]{3}[0-9]{9}",
        "[[:punct:]]{1,3}",
        "\\PC{0,6}",
    ];
    prop::collection::vec(piece, 0..12).prop_map(|v| v.join(" "))
}

/// Messages with known routes, and a keyword inside each.
const ROUTED: &[(&str, &str, &str)] = &[
    ("i need a refill of my lisinopril", "refill", "main:1"),
    (
        "question about my medicare part d plan",
        "medicare",
        "main:3",
    ),
    (
        "can i talk to a pharmacist about side effects",
        "pharmacist",
        "main:4",
    ),
    ("what is the fax number for prescriptions", "fax", "fax"),
    ("my package never arrived", "package", "main:1"),
];

const INVISIBLE: &[char] = &[
    '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{202E}', '\u{202A}', '\u{2066}',
    '\u{200F}',
];

proptest! {
    // 256 cases by default; PROPTEST_CASES=100000 for a longer run.
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn redaction_is_idempotent_and_complete(text in pii_text()) {
        let once = engine().redact(&text);
        let twice = engine().redact(&once);
        prop_assert_eq!(&once, &twice, "a second pass found more to redact");
    }

    #[test]
    fn an_invisible_character_inside_a_keyword_keeps_the_route(
        case in 0..ROUTED.len(),
        at in 1usize..4,
        ch in prop::sample::select(INVISIBLE),
    ) {
        let (text, keyword, want) = ROUTED[case];
        let at = at.min(keyword.len() - 1);
        let broken: String = format!("{}{}{}", &keyword[..at], ch, &keyword[at..]);
        let message = text.replacen(keyword, &broken, 1);
        let reply = engine().respond(&mut Session::new(), &message, &now());
        let route = reply.actions.first().map(|a| a.route.clone()).unwrap_or_default();
        prop_assert_eq!(route, want, "{:?}", message);
    }

    #[test]
    fn the_same_input_gives_the_same_reply(text in "\\PC{0,80}") {
        let a = engine().respond_explained(&mut Session::new(), &text, &now());
        let b = engine().respond_explained(&mut Session::new(), &text, &now());
        prop_assert_eq!(
            serde_json::to_string(&a).expect("json"),
            serde_json::to_string(&b).expect("json")
        );
    }
}
