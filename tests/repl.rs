//! The REPL: piped (one reply per line, no escape codes) and on a real terminal
//! driven through tmux (history, completion, hints, `:save` → a transcript that
//! replays green, and no personal data in the history or the transcript).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_triage")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn piped(input: &str, dir: &Path) -> String {
    use std::io::Write;
    let mut child = Command::new(bin())
        .arg("repl")
        .current_dir(dir)
        .env("TRIAGE_PACK", root().join("intents/caremark"))
        .env("TRIAGE_HISTORY", dir.join("history"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start triage repl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("repl output");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn replay(file: &Path) -> (bool, String) {
    let out = Command::new(bin())
        .args(["replay", "--pack"])
        .arg(root().join("intents/caremark"))
        .arg(file)
        .output()
        .expect("run replay");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn piped_repl_answers_each_line_and_saves_a_redacted_transcript() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = piped(
        "i need to refill my metformin\n\
         :at 2026-11-29 21:00\n\
         my mom is deaf, what number does she use\n\
         is it open now?\n\
         my ssn is 123-45-6789, where is my order\n\
         :save saved.chat\n\
         :nonsense\n",
        dir.path(),
    );
    assert!(!out.contains('\x1b'), "no escape codes when piped:\n{out}");
    assert!(out.contains("press 1"), "{out}");
    assert!(out.contains("opens Monday 8 a.m."), "{out}");
    assert!(out.contains("saved 4 turn(s)"), "{out}");
    assert!(out.contains("unknown command :nonsense"), "{out}");
    assert!(
        !out.contains("123-45-6789"),
        "the SSN is never echoed:\n{out}"
    );
    let saved = std::fs::read_to_string(dir.path().join("saved.chat")).expect("saved transcript");
    assert!(!saved.contains("123-45-6789"), "{saved}");
    assert!(saved.contains("[SSN]"), "{saved}");
    assert!(saved.contains("@at 2026-11-29T21:00:00-06:00"), "{saved}");
    let (ok, report) = replay(&dir.path().join("saved.chat"));
    assert!(ok, "the saved transcript replays green:\n{report}");
}

#[test]
fn reload_keeps_the_old_pack_when_the_new_one_is_broken() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pack = dir.path().join("pack");
    copy_dir(&root().join("tests/fixtures/holiday_pack"), &pack);
    use std::io::Write;
    let mut child = Command::new(bin())
        .args(["repl", "--pack"])
        .arg(&pack)
        .env("TRIAGE_HISTORY", dir.path().join("history"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    stdin.write_all(b"i need a refill\n").expect("write");
    // Once the pack is loaded and answering: break it, reload, ask again.
    let mut text = String::new();
    while !text.contains("press 1") {
        use std::io::BufRead;
        assert!(stdout.read_line(&mut text).expect("read") > 0, "{text}");
    }
    std::fs::write(
        pack.join("broken.toml"),
        "[[intent]]\nid = \"x\"\nbogus = 1\n",
    )
    .expect("break");
    stdin
        .write_all(b":reload\ni need a refill\n")
        .expect("write");
    drop(stdin);
    std::io::Read::read_to_string(&mut stdout, &mut text).expect("read the rest");
    assert!(child.wait().expect("exit").success());
    assert!(
        text.contains("was refused; still serving the previous one"),
        "{text}"
    );
    assert!(
        text.contains("broken.toml:3:1"),
        "the diagnostic names file:line:col:\n{text}"
    );
    assert_eq!(text.matches("To refill, call").count(), 2, "{text}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).expect("copy");
        }
    }
}

/// A tmux server of our own, killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn start(&self, command: &str) {
        self.run(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "160",
            "-y",
            "50",
            command,
        ]);
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t"])
    }

    /// Waits until the screen shows `text`; panics with the screen otherwise.
    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out waiting for {text:?}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_exit(&self) {
        let start = Instant::now();
        while Command::new("tmux")
            .args(["-L", &self.socket, "has-session", "-t", "t"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the REPL did not exit"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

#[test]
fn terminal_repl_has_completion_hints_history_and_save() {
    if !Tmux::available() {
        eprintln!("SKIPPED: tmux is not installed, so the terminal REPL cannot be driven here");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let history = dir.path().join("state/history");
    let saved = dir.path().join("from_tmux.chat");
    let command = format!(
        "cd {} && TRIAGE_HISTORY={} TRIAGE_PACK={} {} repl",
        dir.path().display(),
        history.display(),
        root().join("intents/caremark").display(),
        bin()
    );
    let tmux = Tmux {
        socket: format!("triage-test-{}", std::process::id()),
    };
    tmux.start(&command);
    tmux.wait_for("Type your question; :help for commands");

    // A hint, then tab completion of a command.
    tmux.keys(&[":he"]);
    tmux.wait_for(":help");
    tmux.keys(&["Tab", "Enter"]);
    tmux.wait_for("write this conversation as a transcript");

    tmux.keys(&["i need to refill my metformin", "Enter"]);
    tmux.wait_for("press 1");
    tmux.keys(&["my ssn is 123-45-6789, is my order shipped", "Enter"]);
    tmux.wait_for("For your privacy");
    tmux.keys(&[&format!(":save {}", saved.display()), "Enter"]);
    tmux.wait_for("saved 2 turn(s)");
    tmux.keys(&[":quit", "Enter"]);
    tmux.wait_exit();

    let hist = std::fs::read_to_string(&history).expect("history file written");
    assert!(hist.contains("i need to refill my metformin"), "{hist}");
    assert!(hist.contains("my ssn is [SSN]"), "{hist}");
    assert!(
        !hist.contains("123-45-6789"),
        "history holds redacted lines only:\n{hist}"
    );

    // History survives a restart: Up recalls the redacted line.
    tmux.start(&command);
    tmux.wait_for("Type your question");
    tmux.keys(&["Up", "Up", "Up"]);
    let screen = tmux.wait_for("my ssn is [SSN], is my order shipped");
    assert!(!screen.contains("123-45-6789"), "{screen}");
    tmux.keys(&["C-u", ":quit", "Enter"]);
    tmux.wait_exit();

    let text = std::fs::read_to_string(&saved).expect("saved transcript");
    assert!(!text.contains("123-45-6789"), "{text}");
    let (ok, report) = replay(&saved);
    assert!(
        ok,
        "the transcript saved in the terminal replays green:\n{report}"
    );
}
