//! Embedding `triage` in another program: load a pack, hold a session, respond.
//!
//! `cargo run --example embed` answers a short conversation and prints each reply as
//! JSON, the contract every front end relies on.

use std::path::Path;

use triage::{Engine, Outcome, Session};

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let pack = Path::new(env!("CARGO_MANIFEST_DIR")).join("intents/caremark");
    let (engine, warnings) = Engine::load_dir(&pack)?;
    eprintln!(
        "loaded {} ({} intents, {} warnings)",
        engine.pack().title,
        engine.pack().intents.len(),
        warnings.len()
    );

    // The core never reads the clock: the caller passes the instant of each message.
    let now: jiff::ZonedDateTime = "2026-11-24T10:00:00-06:00[America/Chicago]".parse()?;
    let mut session = Session::new();
    for text in [
        "I'm on Medicare Part D",
        "why did my copay go up?",
        "mi paquete no ha llegado",
    ] {
        let reply = engine.respond(&mut session, text, &now);
        println!("> {text}");
        println!("{}", serde_json::to_string_pretty(&reply)?);
        if reply.outcome == Outcome::Emergency {
            break;
        }
    }
    Ok(())
}
