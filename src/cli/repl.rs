//! `triage repl`: a conversation at the terminal (rustyline: history, completion,
//! hints), or one reply per line when stdin is not a terminal.
//!
//! The history file and `:save` only ever hold redacted text.

use std::borrow::Cow;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use jiff::ZonedDateTime as Zoned;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Editor, Helper};
use triage::transcript::{self, Clock};
use triage::{Engine, Outcome, Reply, Session};

/// The REPL's commands: (name, argument, what it does).
const COMMANDS: &[(&str, &str, &str)] = &[
    (":help", "", "this list"),
    (
        ":explain",
        "",
        "show the evidence behind each reply (toggle)",
    ),
    (":json", "", "print the JSON reply contract (toggle)"),
    (
        ":at",
        " TIME",
        "set the clock (2026-11-29T21:00:00-06:00, or 2026-11-29 21:00); :at now for the wall clock",
    ),
    (":reset", "", "start a new conversation"),
    (
        ":save",
        " FILE",
        "write this conversation as a transcript (personal data redacted)",
    ),
    (
        ":reload",
        "",
        "reload the pack; a broken pack is refused and the old one kept",
    ),
    (":quit", "", "leave (also Ctrl-D)"),
];

/// Terminal styling, only on a terminal and without `NO_COLOR`.
#[derive(Clone, Copy)]
struct Style {
    on: bool,
}

impl Style {
    fn detect() -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            on: std::io::stdout().is_terminal() && !no_color,
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// Completion and hints for `:commands`.
struct CommandHelper {
    style: Style,
}

impl Completer for CommandHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let typed = &line[..pos];
        if !typed.starts_with(':') || typed.contains(' ') {
            return Ok((0, Vec::new()));
        }
        let found = COMMANDS
            .iter()
            .filter(|(name, _, _)| name.starts_with(typed))
            .map(|(name, arg, _)| Pair {
                display: format!("{name}{arg}"),
                replacement: if arg.is_empty() {
                    (*name).to_string()
                } else {
                    format!("{name} ")
                },
            })
            .collect();
        Ok((0, found))
    }
}

impl Hinter for CommandHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, _ctx: &rustyline::Context<'_>) -> Option<String> {
        if pos < line.len() || !line.starts_with(':') || line.len() < 2 {
            return None;
        }
        COMMANDS
            .iter()
            .find(|(name, _, _)| name.starts_with(line) && *name != line)
            .map(|(name, arg, _)| format!("{}{arg}", &name[line.len()..]))
    }
}

impl Highlighter for CommandHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.style.on {
            Cow::Owned(self.style.paint("2", hint))
        } else {
            Cow::Borrowed(hint)
        }
    }
}

impl Validator for CommandHelper {}
impl Helper for CommandHelper {}

/// Where the REPL keeps its (redacted) history: `$TRIAGE_HISTORY`, else
/// `$XDG_STATE_HOME/triage/history`, else `~/.local/state/triage/history`.
fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TRIAGE_HISTORY") {
        return Some(PathBuf::from(p));
    }
    let state = match std::env::var_os("XDG_STATE_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".local/state"),
    };
    Some(state.join("triage/history"))
}

/// What a line asks the REPL to do next.
enum Flow {
    Continue,
    Quit,
}

/// The REPL's state: the engine, the conversation, toggles and the turn log.
struct Repl {
    dir: PathBuf,
    engine: Engine,
    session: Session,
    json: bool,
    explain: bool,
    /// A fixed clock (`:at`), or the wall clock when `None`.
    clock: Option<Zoned>,
    /// The conversation so far, redacted, for `:save`.
    turns: Vec<(Zoned, String, Reply)>,
    style: Style,
}

impl Repl {
    fn now(&self) -> Zoned {
        match &self.clock {
            Some(c) => c.clone(),
            None => jiff::Timestamp::now().to_zoned_datetime(self.engine.pack().time_zone.clone()),
        }
    }

    fn help(&self) -> String {
        let mut out = String::from("Type a question the way a member would. Commands:\n");
        for (name, arg, what) in COMMANDS {
            out.push_str(&format!("  {:<14} {what}\n", format!("{name}{arg}")));
        }
        out
    }

    fn handle(&mut self, line: &str, out: &mut impl Write) -> Result<Flow> {
        let line = line.trim();
        if line.is_empty() {
            return Ok(Flow::Continue);
        }
        let (command, arg) = line
            .split_once(char::is_whitespace)
            .map_or((line, ""), |(c, a)| (c, a.trim()));
        match command {
            ":quit" | ":q" | ":exit" => return Ok(Flow::Quit),
            ":help" | ":h" | ":?" => write!(out, "{}", self.help())?,
            ":json" => {
                self.json = !self.json;
                writeln!(out, "JSON replies {}", if self.json { "on" } else { "off" })?;
            }
            ":explain" => {
                self.explain = !self.explain;
                writeln!(out, "evidence {}", if self.explain { "on" } else { "off" })?;
            }
            ":reset" => {
                self.session = Session::new();
                self.turns.clear();
                writeln!(out, "new conversation")?;
            }
            ":at" => self.set_clock(arg, out)?,
            ":save" => self.save(arg, out)?,
            ":reload" => self.reload(out)?,
            c if c.starts_with(':') => {
                writeln!(out, "unknown command {c}; :help lists the commands")?;
            }
            _ => self.ask(line, out)?,
        }
        Ok(Flow::Continue)
    }

    fn ask(&mut self, line: &str, out: &mut impl Write) -> Result<()> {
        let now = self.now();
        let reply = if self.explain {
            self.engine.respond_explained(&mut self.session, line, &now)
        } else {
            self.engine.respond(&mut self.session, line, &now)
        };
        if self.json {
            writeln!(out, "{}", serde_json::to_string(&reply)?)?;
        } else {
            let text = triage::render_human(&reply);
            let text = if reply.outcome == Outcome::Emergency {
                self.style.paint("1;31", &text)
            } else {
                text
            };
            write!(out, "{text}")?;
        }
        let mut logged = reply.clone();
        logged.explain = None;
        self.turns.push((now, self.engine.redact(line), logged));
        Ok(())
    }

    fn set_clock(&mut self, arg: &str, out: &mut impl Write) -> Result<()> {
        if arg.is_empty() || arg == "now" {
            self.clock = None;
            writeln!(out, "clock: the wall clock")?;
            return Ok(());
        }
        match Clock::parse(arg)
            .ok()
            .and_then(|c| c.resolve(&self.engine.pack().time_zone))
        {
            Some(at) => {
                writeln!(out, "clock: {}", at.strftime("%A %Y-%m-%d %H:%M %Z"))?;
                self.session.clock = Some(at.timestamp());
                self.clock = Some(at);
            }
            None => writeln!(
                out,
                "cannot read the time {arg:?}: write 2026-11-29T21:00:00-06:00 or 2026-11-29 21:00"
            )?,
        }
        Ok(())
    }

    fn save(&self, arg: &str, out: &mut impl Write) -> Result<()> {
        if arg.is_empty() {
            writeln!(
                out,
                "usage: :save FILE (e.g. :save transcripts/my_case.chat)"
            )?;
            return Ok(());
        }
        if self.turns.is_empty() {
            writeln!(out, "nothing to save yet: ask something first")?;
            return Ok(());
        }
        let path = Path::new(arg);
        let header = format!(
            "Saved from the triage REPL ({}); personal data redacted.",
            self.engine.pack().name
        );
        let mut text = transcript::write(&header, &[]);
        let same = |a: &Path, b: &Path| {
            std::fs::canonicalize(a)
                .ok()
                .is_some_and(|a| std::fs::canonicalize(b).ok() == Some(a))
        };
        if !same(&self.dir, &crate::pack_dir(None))
            && let Some(rel) = relative_to(&self.dir, path.parent().unwrap_or(Path::new(".")))
        {
            // A transcript names its pack when it is not the default one.
            text.push_str(&format!("@pack {}\n", rel.display()));
        }
        text.push_str(&transcript::write("", &self.turns));
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
        writeln!(
            out,
            "saved {} turn(s) to {} (replay it with: triage replay {})",
            self.turns.len(),
            path.display(),
            path.display()
        )?;
        Ok(())
    }

    fn reload(&mut self, out: &mut impl Write) -> Result<()> {
        match Engine::load_dir(&self.dir) {
            Ok((engine, _)) => {
                self.engine = engine;
                writeln!(
                    out,
                    "reloaded {} ({} intents); the conversation goes on",
                    self.dir.display(),
                    self.engine.pack().intents.len()
                )?;
            }
            Err(e) => writeln!(
                out,
                "the pack at {} was refused; still serving the previous one:\n{e}",
                self.dir.display()
            )?,
        }
        Ok(())
    }
}

/// `target` relative to `base` when both resolve (for `@pack`).
fn relative_to(target: &Path, base: &Path) -> Option<PathBuf> {
    let target = std::fs::canonicalize(target).ok()?;
    let base = std::fs::canonicalize(if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    })
    .ok()?;
    let common = target
        .components()
        .zip(base.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut rel = PathBuf::new();
    for _ in base.components().skip(common) {
        rel.push("..");
    }
    for c in target.components().skip(common) {
        rel.push(c);
    }
    Some(rel)
}

/// Runs the REPL on the pack at `dir`.
pub fn run(dir: PathBuf, engine: Engine) -> Result<()> {
    let style = Style::detect();
    let mut repl = Repl {
        dir,
        engine,
        session: Session::new(),
        json: false,
        explain: false,
        clock: None,
        turns: Vec::new(),
        style,
    };
    let stdout = std::io::stdout();
    if !std::io::stdin().is_terminal() {
        // Piped: one reply per line, no prompt, no escape codes.
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            if input.read_until(b'\n', &mut buf)? == 0 {
                break;
            }
            let line = String::from_utf8_lossy(&buf);
            let mut out = stdout.lock();
            if let Flow::Quit = repl.handle(&line, &mut out)? {
                break;
            }
            out.flush()?;
        }
        return Ok(());
    }

    let mut editor: Editor<CommandHelper, DefaultHistory> =
        Editor::new().context("cannot start the line editor")?;
    editor.set_helper(Some(CommandHelper { style }));
    let history = history_path();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!(
        "{} — {} ({} intents). Type your question; {} for commands, {} to leave.",
        style.paint("1", "triage"),
        repl.engine.pack().title,
        repl.engine.pack().intents.len(),
        style.paint("36", ":help"),
        style.paint("36", ":quit"),
    );
    let prompt = if style.on { "\x1b[36m>\x1b[0m " } else { "> " };
    loop {
        match editor.readline(prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    // History holds the redacted line only.
                    let _ = editor.add_history_entry(repl.engine.redact(line.trim()));
                }
                let mut out = stdout.lock();
                let flow = repl.handle(&line, &mut out)?;
                out.flush()?;
                if let Flow::Quit = flow {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e).context("cannot read the line"),
        }
    }
    if let Some(h) = &history {
        if let Some(parent) = h.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Err(e) = editor.save_history(h) {
            eprintln!("warning: cannot save history to {}: {e}", h.display());
        }
    }
    Ok(())
}
