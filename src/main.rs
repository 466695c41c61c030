//! The `triage` command line: args, logging setup and exit codes only.

use std::io::{BufRead, BufWriter, Write};

/// Loading a pack and answering a message make many small allocations;
/// mimalloc serves them faster than the system allocator (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use jiff::ZonedDateTime as Zoned;
use serde::Serialize;
use triage::{Engine, Reply, Session};

mod cli {
    pub mod http;
    pub mod repl;
    pub mod serve;
    pub mod store;
}

/// Support triage: tells a member exactly where to go with their problem.
#[derive(Parser)]
#[command(name = "triage", version, about, long_about = None)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Log lines (on stderr) as text or as JSON objects; the level comes from
    /// $RUST_LOG (default: warnings, and one line per request for `serve`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human, env = "TRIAGE_LOG_FORMAT")]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Answer one message.
    Ask {
        #[command(flatten)]
        pack: PackArg,
        /// Print the JSON reply contract instead of text.
        #[arg(long)]
        json: bool,
        /// Show the evidence behind the decision.
        #[arg(long)]
        explain: bool,
        /// The clock, RFC 3339 with an offset (default: now).
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
        /// The member's message.
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
    },
    /// Batch mode: one JSON reply line per input line on stdin.
    Classify {
        #[command(flatten)]
        pack: PackArg,
        /// The clock for every line without its own "at".
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Routing accuracy over labelled messages (JSON lines: text, accept,
    /// must_say?, must_not_say?): per-label precision / recall / F1, confusions,
    /// misroutes.
    Eval {
        #[command(flatten)]
        pack: PackArg,
        /// List every misrouted message with its evidence.
        #[arg(long)]
        explain: bool,
        /// Print one JSON object (n, accuracy 0–1, per_label, confusions, misses).
        #[arg(long)]
        json: bool,
        /// Also write a self-contained HTML report (summary, confusion heatmap,
        /// misroutes) to FILE.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Exit 1 when accuracy (0–1) is below X.
        #[arg(long, value_name = "X")]
        min_accuracy: Option<f64>,
        /// The clock for every message, RFC 3339 (default: now).
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
        /// Confusions listed in the text report.
        #[arg(long, default_value_t = 10)]
        top: usize,
        /// For a CSV file: the column holding the message text.
        #[arg(long, value_name = "NAME", default_value = "text")]
        text_column: String,
        /// For a CSV file: the column holding the expected label.
        #[arg(long, value_name = "NAME", default_value = "label")]
        label_column: String,
        /// The labelled messages: JSON lines (ROUTES.md), or a CSV with a header
        /// (`*.csv`, one expected label per row).
        file: PathBuf,
    },
    /// Build a pack from labelled examples in a CSV: one intent per label, its
    /// examples kept, phrases mined from the data, a placeholder contact whose
    /// actions carry the labels as route labels.
    Import {
        /// The CSV file (with a header row).
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        /// The column holding the message text.
        #[arg(long, value_name = "NAME", default_value = "text")]
        text_column: String,
        /// The column holding the label.
        #[arg(long, value_name = "NAME", default_value = "label")]
        label_column: String,
        /// The pack's name (default: the CSV's file stem).
        #[arg(long)]
        name: Option<String>,
        /// Where to write the pack (created; must be empty or missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Leave out the linear model (model.toml): the pack then routes by its
        /// phrases and examples alone.
        #[arg(long)]
        no_model: bool,
        /// Static word-piece vectors for the model to read beside words and
        /// characters (data/embeddings/minilm-l6-128.toml); copied into the pack.
        #[arg(long, value_name = "FILE", conflicts_with = "no_model")]
        embeddings: Option<PathBuf>,
    },
    /// Load, validate and lint a pack; exit 1 on errors.
    Check {
        #[command(flatten)]
        pack: PackArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Replay transcripts (files, or folders searched for *.chat); exit 1 on a failure.
    Replay {
        #[command(flatten)]
        pack: PackArg,
        /// Rewrite failing `reply:` lines from the actual replies (review with git diff).
        #[arg(long)]
        bless: bool,
        /// Transcript files or folders (default: transcripts/).
        paths: Vec<PathBuf>,
    },
    /// Serve conversations to chat adapters: HTTP (JSON API, Rasa REST channel,
    /// /healthz, /metrics), or JSON lines with --stdio.
    Serve {
        #[command(flatten)]
        pack: PackArg,
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// The conversation API as JSON lines on stdin/stdout instead of HTTP.
        #[arg(long)]
        stdio: bool,
        /// Live conversations kept at most (least recently used forgotten first).
        #[arg(long, default_value_t = 100_000)]
        max_sessions: usize,
        /// Minutes without a message after which a conversation is forgotten.
        #[arg(long, default_value_t = 30)]
        session_ttl_minutes: u64,
        /// Keep conversations in Redis (redis://host:port/db) so that several
        /// instances continue each other's conversations; default: in memory.
        #[arg(
            long,
            value_name = "URL",
            env = "TRIAGE_SESSIONS",
            hide_env_values = true,
            conflicts_with = "stdio"
        )]
        sessions: Option<String>,
        /// Largest request body in bytes.
        #[arg(long, default_value_t = 64 * 1024)]
        max_body: usize,
        /// Longest time to answer one request, in milliseconds.
        #[arg(long, default_value_t = 5_000)]
        request_timeout_ms: u64,
        /// Longest time a client may take to send its headers, in milliseconds.
        #[arg(long, default_value_t = 5_000)]
        header_timeout_ms: u64,
        /// Open connections at most.
        #[arg(long, default_value_t = 1_024)]
        max_connections: usize,
        /// Requests answered at once at most; more wait their turn.
        #[arg(long, default_value_t = 256)]
        max_concurrency: usize,
        /// Token for POST /admin/reload from other hosts than loopback
        /// (Authorization: Bearer TOKEN); default $TRIAGE_ADMIN_TOKEN.
        #[arg(long, env = "TRIAGE_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
        /// Append each fallback and clarification as a redacted JSON line here.
        #[arg(long, value_name = "FILE")]
        unmatched: Option<PathBuf>,
    },
    /// Write a synthetic pack for scaling benchmarks: N intents over a
    /// Zipf-distributed made-up vocabulary (5–20 phrases, 0–3 patterns and 10–30
    /// examples each). The same N and seed give the same bytes.
    GenPack {
        /// Intents to generate.
        #[arg(long)]
        intents: usize,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also write this many 15-word messages about the pack's topics, one per
        /// line, to FILE (for `triage classify --pack DIR < FILE`).
        #[arg(long, value_name = "FILE")]
        messages: Option<PathBuf>,
        /// How many messages --messages writes.
        #[arg(long, default_value_t = 1000)]
        count: usize,
        /// Where to write the pack (created; must be empty or missing).
        dir: PathBuf,
    },
    /// An interactive conversation (the default without a command).
    Repl {
        #[command(flatten)]
        pack: PackArg,
    },
}

#[derive(clap::Args)]
struct PackArg {
    /// The pack folder (default: $TRIAGE_PACK, else intents/caremark).
    #[arg(long, value_name = "DIR")]
    pack: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

/// Runs the evaluation, with a progress bar on stderr when it is a terminal and
/// the set is long.
fn evaluate(
    engine: &Engine,
    items: &[triage::eval::Item],
    now: &Zoned,
    explain: bool,
) -> Result<triage::eval::Report> {
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) && items.len() >= 500 {
        let bar = indicatif::ProgressBar::new(items.len() as u64);
        bar.set_style(indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} messages, {eta} left",
        )?);
        Some(bar)
    } else {
        None
    };
    let report = triage::eval::evaluate(engine, items, now, explain, &|done| {
        if let Some(bar) = &bar {
            bar.set_position(done as u64);
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(report)
}

fn main() -> ExitCode {
    // A panic message can quote member text: log where it happened, never what it says.
    std::panic::set_hook(Box::new(|info| {
        // `triage … | head`: the reader went away; stop quietly, like other tools.
        let payload = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if payload.contains("Broken pipe") {
            std::process::exit(141);
        }
        let location = info
            .location()
            .map_or_else(|| "unknown".to_string(), ToString::to_string);
        tracing::error!(%location, "internal error (panic); its message is withheld");
        eprintln!("triage: internal error at {location}; please report it");
    }));
    let args = Args::parse();
    // A server logs each request by default; the other commands only problems.
    let default_level = match args.command {
        Some(Command::Serve { .. }) => "warn,triage=info",
        _ => "warn",
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_level.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none(),
        );
    match args.log_format {
        LogFormat::Human => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        None => repl(&PackArg { pack: None }),
        Some(Command::Repl { pack }) => repl(&pack),
        Some(Command::Ask {
            pack,
            json,
            explain,
            at,
            text,
        }) => {
            let engine = load(&pack)?;
            let now = clock(at.as_deref(), &engine)?;
            let mut session = Session::new();
            let text = text.join(" ");
            let reply = if explain {
                engine.respond_explained(&mut session, &text, &now)
            } else {
                engine.respond(&mut session, &text, &now)
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&reply)?);
            } else {
                print!("{}", triage::render_human(&reply));
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Classify { pack, at, threads }) => {
            let engine = load(&pack)?;
            let fixed = at.as_deref().map(|a| clock(Some(a), &engine)).transpose()?;
            let threads = threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
                .max(1);
            classify(&engine, fixed.as_ref(), threads)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Replay { pack, bless, paths }) => replay(&pack, bless, paths),
        Some(Command::Import {
            csv,
            text_column,
            label_column,
            name,
            out,
            no_model,
            embeddings,
        }) => {
            if std::fs::read_dir(&out).is_ok_and(|mut d| d.next().is_some()) {
                bail!(
                    "{} is not empty: give a new folder, the pack is written into it",
                    out.display()
                );
            }
            let data = std::fs::read_to_string(&csv)
                .with_context(|| format!("cannot read {}", csv.display()))?;
            let stem = csv.file_stem().map_or_else(
                || "imported".to_string(),
                |s| s.to_string_lossy().into_owned(),
            );
            let options = triage::import::Options {
                text_column,
                label_column,
                name: name.unwrap_or_else(|| stem.clone()),
                source_name: csv
                    .file_name()
                    .map_or(stem, |s| s.to_string_lossy().into_owned()),
                model: !no_model,
                embeddings: match embeddings {
                    Some(path) => Some((
                        path.display().to_string(),
                        std::fs::read_to_string(&path)
                            .with_context(|| format!("cannot read {}", path.display()))?,
                    )),
                    None => None,
                },
            };
            let rows = triage::import::read_csv(&csv.display().to_string(), &data, &options)?;
            let files = triage::import::pack_files(&rows, &options)?;
            for (path, contents) in &files {
                let path = out.join(path);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("cannot create {}", parent.display()))?;
                }
                std::fs::write(&path, contents)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            let labels: std::collections::BTreeSet<&str> =
                rows.iter().map(|(_, l)| l.as_str()).collect();
            eprintln!(
                "{}: {} intents from {} examples; check it with `triage check --pack {}`",
                out.display(),
                labels.len(),
                rows.len(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Eval {
            pack,
            explain,
            json,
            html,
            min_accuracy,
            at,
            top,
            text_column,
            label_column,
            file,
        }) => {
            if let Some(x) = min_accuracy
                && !(0.0..=1.0).contains(&x)
            {
                bail!("--min-accuracy is a fraction between 0 and 1 (0.9 for 90 %), not {x}");
            }
            let items = if file
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
            {
                let data = std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?;
                let options = triage::import::Options {
                    text_column,
                    label_column,
                    name: String::new(),
                    source_name: String::new(),
                    model: false,
                    embeddings: None,
                };
                triage::import::read_csv(&file.display().to_string(), &data, &options)?
                    .into_iter()
                    .enumerate()
                    .map(|(i, (text, label))| triage::eval::Item {
                        id: None,
                        text,
                        accept: vec![label],
                        must_say: None,
                        must_not_say: None,
                        tags: Vec::new(),
                        line: i + 2,
                    })
                    .collect()
            } else {
                triage::eval::read_items(&file)?
            };
            let engine = load(&pack)?;
            let now = clock(at.as_deref(), &engine)?;
            let report = evaluate(&engine, &items, &now, explain || html.is_some())?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", triage::eval::text(&report, explain, top));
            }
            if let Some(path) = html {
                let title = format!("triage eval: {}", file.display());
                std::fs::write(&path, triage::eval::html(&report, &title))
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            if let Some(x) = min_accuracy
                && report.accuracy < x
            {
                eprintln!(
                    "accuracy {:.4} is below --min-accuracy {x}",
                    report.accuracy
                );
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Serve {
            pack,
            addr,
            stdio,
            max_sessions,
            session_ttl_minutes,
            sessions,
            max_body,
            request_timeout_ms,
            header_timeout_ms,
            max_connections,
            max_concurrency,
            admin_token,
            unmatched,
        }) => {
            let engine = load(&pack)?;
            let session_ttl = std::time::Duration::from_secs(session_ttl_minutes * 60);
            if stdio {
                let options = cli::serve::Options {
                    max_sessions,
                    session_ttl,
                    unmatched,
                };
                cli::serve::run(&engine, &options)?;
            } else {
                let options = cli::http::Options {
                    addr,
                    max_body,
                    request_timeout: std::time::Duration::from_millis(request_timeout_ms),
                    header_timeout: std::time::Duration::from_millis(header_timeout_ms),
                    max_connections,
                    max_concurrency,
                    max_sessions,
                    session_ttl,
                    sessions,
                    admin_token,
                    unmatched,
                };
                cli::http::run(pack_dir(pack.pack.as_deref()), engine, options)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::GenPack {
            intents,
            seed,
            messages,
            count,
            dir,
        }) => {
            if intents == 0 {
                anyhow::bail!("--intents must be at least 1");
            }
            if std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) {
                anyhow::bail!(
                    "{} is not empty: give a new folder, the pack is written into it",
                    dir.display()
                );
            }
            let synth = triage::synth::Synth::new(intents, seed);
            synth
                .write(&dir)
                .with_context(|| format!("cannot write {}", dir.display()))?;
            if let Some(file) = messages {
                let mut text = synth.messages(count, 15, seed).join("\n");
                text.push('\n');
                std::fs::write(&file, text)
                    .with_context(|| format!("cannot write {}", file.display()))?;
            }
            println!("{}: {intents} intents (seed {seed})", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Check { pack, format }) => {
            let dir = pack_dir(pack.pack.as_deref());
            let files = triage::read_pack_dir(&dir)
                .with_context(|| format!("cannot read pack {}", dir.display()))?;
            let report = triage::check(files);
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
                Format::Human => {
                    for d in &report.diagnostics {
                        println!("{}", d.render());
                    }
                    println!(
                        "{}: {} intents, {} contacts, {} error(s), {} warning(s)",
                        dir.display(),
                        report.n_intents,
                        report.n_contacts,
                        report.n_errors,
                        report.n_warnings
                    );
                }
            }
            Ok(if report.n_errors > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

fn pack_dir(arg: Option<&Path>) -> PathBuf {
    if let Some(p) = arg {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("TRIAGE_PACK") {
        return PathBuf::from(p);
    }
    let local = Path::new("intents/caremark");
    if local.is_dir() {
        return local.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("intents/caremark")
}

fn load(arg: &PackArg) -> Result<Engine> {
    let dir = pack_dir(arg.pack.as_deref());
    match Engine::load_dir(&dir) {
        Ok((engine, _warnings)) => Ok(engine),
        Err(e) => bail!("cannot load pack {}: {e}", dir.display()),
    }
}

/// Parses an RFC 3339 instant, or reads the wall clock.
fn clock(at: Option<&str>, engine: &Engine) -> Result<Zoned> {
    let tz = engine.pack().time_zone.clone();
    match at {
        None => Ok(jiff::Timestamp::now().to_zoned_datetime(tz)),
        Some(s) => parse_instant(s, &tz).map_err(|e| anyhow::anyhow!(e)),
    }
}

fn parse_instant(s: &str, tz: &jiff::tz::TimeZone) -> Result<Zoned, String> {
    s.trim()
        .parse::<jiff::Timestamp>()
        .map(|t| t.to_zoned_datetime(tz.clone()))
        .map_err(|e| format!("invalid time {s:?}: {e} (use RFC 3339 with an offset, e.g. 2026-11-24T21:00:00-06:00)"))
}

/// One input line of `classify` as JSON.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    text: String,
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    at: Option<String>,
}

#[derive(Serialize)]
struct Line<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a serde_json::Value>,
    #[serde(flatten)]
    reply: &'a Reply,
}

#[derive(Serialize)]
struct ErrorLine {
    error: ErrorBody,
}

#[derive(Serialize)]
struct ErrorBody {
    line: usize,
    message: String,
}

/// Describes a request that did not parse, without quoting any of it.
fn request_error(e: &serde_json::Error) -> String {
    json_error(
        e,
        "send {\"text\": string, \"id\": any, \"at\": RFC 3339 string} and no other fields",
    )
}

/// A JSON request's problem by category and position, never by content: serde's
/// own messages quote the offending value (member data). Field names are the
/// request format's, so "missing field" and "unknown field" keep theirs.
pub(crate) fn json_error(e: &serde_json::Error, expected: &str) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax => format!("malformed JSON at column {}", e.column()),
        Category::Eof => "incomplete JSON: the request ends early".to_string(),
        Category::Data => {
            let text = e.to_string();
            let field = |prefix: &str| {
                text.strip_prefix(prefix)
                    .and_then(|rest| rest.split('`').next())
                    .filter(|f| f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                    .map(str::to_string)
            };
            if let Some(f) = field("missing field `") {
                format!("invalid request: missing field {f:?}; {expected}")
            } else if let Some(f) = field("unknown field `") {
                format!("invalid request: unknown field {f:?}; {expected}")
            } else {
                format!(
                    "invalid request: a field has the wrong type at column {}; {expected}",
                    e.column()
                )
            }
        }
        Category::Io => "cannot read the request".to_string(),
    }
}

/// Answers one input line of `classify`, as one output line (without newline).
fn classify_line(engine: &Engine, fixed: Option<&Zoned>, line_no: usize, raw: &str) -> String {
    let error = |message: String| {
        serde_json::to_string(&ErrorLine {
            error: ErrorBody {
                line: line_no,
                message,
            },
        })
        .unwrap_or_default()
    };
    let trimmed = raw.trim_start();
    if trimmed.trim().is_empty() {
        return error("blank line: send a message or a JSON request".into());
    }
    let (text, id, at) = if trimmed.starts_with('{') {
        match serde_json::from_str::<Request>(trimmed) {
            Ok(r) => (r.text, r.id, r.at),
            // serde_json's own messages quote the offending value or key, which may be
            // member data: describe the problem by its category and column only.
            Err(e) => return error(request_error(&e)),
        }
    } else {
        (raw.to_string(), None, None)
    };
    let tz = &engine.pack().time_zone;
    let now = match (at, fixed) {
        (Some(a), _) => match parse_instant(&a, tz) {
            Ok(z) => z,
            Err(e) => return error(format!("invalid \"at\": {}", e.replace(&a, "…"))),
        },
        (None, Some(f)) => f.clone(),
        (None, None) => jiff::Timestamp::now().to_zoned_datetime(tz.clone()),
    };
    let mut session = Session::new();
    let reply = engine.respond(&mut session, &text, &now);
    serde_json::to_string(&Line {
        id: id.as_ref(),
        reply: &reply,
    })
    .unwrap_or_else(|e| error(format!("cannot encode reply: {e}")))
}

/// Reads stdin in batches, answers each batch on every core, writes in order.
fn classify(engine: &Engine, fixed: Option<&Zoned>, threads: usize) -> Result<()> {
    const BATCH: usize = 16_384;
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut line_no = 0usize;
    let mut invalid_utf8 = 0usize;
    let mut buf = Vec::new();
    loop {
        let mut batch: Vec<String> = Vec::with_capacity(BATCH);
        while batch.len() < BATCH {
            buf.clear();
            let n = input.read_until(b'\n', &mut buf).context("reading stdin")?;
            if n == 0 {
                break;
            }
            while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                buf.pop();
            }
            let text = match std::str::from_utf8(&buf) {
                Ok(s) => s.to_string(),
                Err(_) => {
                    invalid_utf8 += 1;
                    String::from_utf8_lossy(&buf).into_owned()
                }
            };
            batch.push(text);
        }
        if batch.is_empty() {
            break;
        }
        let first = line_no + 1;
        line_no += batch.len();
        let chunk = batch.len().div_ceil(threads);
        let results: Vec<Vec<String>> = std::thread::scope(|s| {
            let handles: Vec<_> = batch
                .chunks(chunk)
                .enumerate()
                .map(|(ci, lines)| {
                    s.spawn(move || {
                        lines
                            .iter()
                            .enumerate()
                            .map(|(i, l)| classify_line(engine, fixed, first + ci * chunk + i, l))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for line in results.into_iter().flatten() {
            out.write_all(line.as_bytes()).context("writing stdout")?;
            out.write_all(b"\n").context("writing stdout")?;
        }
        if batch.len() < BATCH {
            break;
        }
    }
    out.flush().context("writing stdout")?;
    if invalid_utf8 > 0 {
        tracing::warn!(lines = invalid_utf8, "invalid UTF-8 replaced with U+FFFD");
    }
    Ok(())
}

/// The REPL on the chosen pack.
fn repl(arg: &PackArg) -> Result<ExitCode> {
    let dir = pack_dir(arg.pack.as_deref());
    let engine = load(arg)?;
    cli::repl::run(dir, engine)?;
    Ok(ExitCode::SUCCESS)
}

/// `triage replay`: a line per file, failures at file:line, a closing count.
fn replay(arg: &PackArg, bless: bool, paths: Vec<PathBuf>) -> Result<ExitCode> {
    use triage::transcript;
    let paths = if paths.is_empty() {
        vec![PathBuf::from("transcripts")]
    } else {
        paths
    };
    let files = transcript::collect(&paths)?;
    if files.is_empty() {
        bail!(
            "no transcripts (*.{}) under {}",
            transcript::EXTENSION,
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let default_pack = pack_dir(arg.pack.as_deref());
    let mut engines: std::collections::HashMap<PathBuf, Engine> = Default::default();
    let (mut passed, mut failed) = (0usize, 0usize);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                writeln!(
                    out,
                    "FAIL  {}\n{}: cannot read: {e}",
                    file.display(),
                    file.display()
                )?;
                failed += 1;
                continue;
            }
        };
        let t = match transcript::parse(file, &text) {
            Ok(t) => t,
            Err(errors) => {
                writeln!(out, "FAIL  {}", file.display())?;
                for e in errors {
                    writeln!(out, "{e}")?;
                }
                failed += 1;
                continue;
            }
        };
        let dir = t.pack.clone().unwrap_or_else(|| default_pack.clone());
        if !engines.contains_key(&dir) {
            match Engine::load_dir(&dir) {
                Ok((engine, _)) => {
                    engines.insert(dir.clone(), engine);
                }
                Err(e) => {
                    writeln!(
                        out,
                        "FAIL  {}\ncannot load pack {}: {e}",
                        file.display(),
                        dir.display()
                    )?;
                    failed += 1;
                    continue;
                }
            }
        }
        let engine = &engines[&dir];
        let mut report = transcript::run(engine, &t);
        if !report.passed() && bless {
            let blessed = transcript::bless(&text, &report);
            if blessed != text {
                std::fs::write(file, &blessed)
                    .with_context(|| format!("cannot write {}", file.display()))?;
                let n = report.failures.iter().filter(|f| f.key == "reply").count();
                writeln!(
                    out,
                    "bless {} ({n} reply line(s) rewritten)",
                    file.display()
                )?;
                report.failures.retain(|f| f.key != "reply");
            }
        }
        if report.passed() {
            writeln!(out, "ok    {} ({} turns)", file.display(), report.turns)?;
            passed += 1;
        } else {
            writeln!(out, "FAIL  {}", file.display())?;
            write!(out, "{}", report.render_failures())?;
            if bless {
                writeln!(
                    out,
                    "    (not rewritten: a changed outcome, intent, route or warning needs a person's edit)"
                )?;
            }
            failed += 1;
        }
    }
    writeln!(
        out,
        "{passed} passed, {failed} failed ({} transcript files)",
        files.len()
    )?;
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
