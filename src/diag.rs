//! Diagnostics: a problem found in a pack (or a transcript), located at file:line:col.
//!
//! Loading and linting never stop at the first problem: they collect every
//! [`Diagnostic`] and the caller decides what to do with errors versus warnings.
//! Rendering follows the `just` style: a headline, an arrow with the location, the
//! source line, and carets under the span.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// How bad a problem is: errors stop a pack from loading, warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The pack cannot be used as written.
    Error,
    /// The pack works, but something is probably a mistake.
    Warning,
}

/// One problem with its location and a hint on what to do.
#[derive(Clone, Debug, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
    /// The file, relative to the current directory where possible.
    pub file: PathBuf,
    /// 1-based line, 0 when the problem has no position in the file.
    pub line: usize,
    /// 1-based column in characters, 0 when unknown.
    pub col: usize,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// The source line and the caret marker, pre-rendered for humans.
    #[serde(skip)]
    snippet: Option<(String, usize, usize)>,
}

impl Diagnostic {
    /// Builds a diagnostic at a byte span of `source` (the text of `file`).
    pub fn at(
        severity: Severity,
        file: &Path,
        source: &str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Diagnostic {
        let start = span.start.min(source.len());
        let (line, col, line_text, line_start) = locate(source, start);
        let end = span.end.clamp(start, source.len());
        let width = source[start..end]
            .chars()
            .take_while(|c| *c != '\n')
            .count()
            .max(1);
        let caret_col = source[line_start..start].chars().count();
        Diagnostic {
            severity,
            message: message.into(),
            file: file.to_path_buf(),
            line,
            col,
            help: None,
            snippet: Some((line_text.to_string(), caret_col, width)),
        }
    }

    /// Builds a diagnostic about a whole file (no position).
    pub fn file(severity: Severity, file: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity,
            message: message.into(),
            file: file.to_path_buf(),
            line: 0,
            col: 0,
            help: None,
            snippet: None,
        }
    }

    /// Adds the hint that says what to do.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// `file:line:col` (or just `file`).
    pub fn location(&self) -> String {
        if self.line == 0 {
            self.file.display().to_string()
        } else {
            format!("{}:{}:{}", self.file.display(), self.line, self.col)
        }
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic for a terminal, without colour.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let word = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{word}: {}", self.message);
        let _ = writeln!(out, "  --> {}", self.location());
        if let Some((text, caret_col, width)) = &self.snippet {
            // Long lines are shown as a window around the span.
            let (text, caret_col, width) = window(text, *caret_col, *width);
            let (caret_col, width) = (&caret_col, &width);
            let number = self.line.to_string();
            let pad = " ".repeat(number.len());
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{number} | {text}");
            let _ = writeln!(
                out,
                "{pad} | {}{}",
                " ".repeat(*caret_col),
                "^".repeat(*width)
            );
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        out
    }
}

/// At most 100 characters of `text` around the span, with the caret adjusted.
fn window(text: &str, caret_col: usize, width: usize) -> (String, usize, usize) {
    const MAX: usize = 100;
    let n = text.chars().count();
    let width = width.min(MAX);
    if n <= MAX {
        return (text.to_string(), caret_col, width);
    }
    let start = caret_col.saturating_sub(20).min(n.saturating_sub(MAX));
    let shown: String = text.chars().skip(start).take(MAX).collect();
    let prefix = if start > 0 { "…" } else { "" };
    let suffix = if start + MAX < n { "…" } else { "" };
    (
        format!("{prefix}{shown}{suffix}"),
        caret_col - start + prefix.chars().count(),
        width.min(MAX - (caret_col - start)),
    )
}

/// Returns (line, col, line text, byte offset of the line start) of a byte offset.
fn locate(source: &str, offset: usize) -> (usize, usize, &str, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[offset..]
        .find('\n')
        .map_or(source.len(), |i| offset + i);
    let line = source[..offset].matches('\n').count() + 1;
    let col = source[line_start..offset].chars().count() + 1;
    (
        line,
        col,
        source[line_start..line_end].trim_end_matches('\r'),
        line_start,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_line_and_column() {
        let src = "a = 1\nbb = \"x\"\n";
        let d = Diagnostic::at(
            Severity::Error,
            Path::new("f.toml"),
            src,
            11..14,
            "bad value",
        );
        assert_eq!(d.location(), "f.toml:2:6");
        let r = d.render();
        assert!(r.contains("error: bad value"), "{r}");
        assert!(r.contains("2 | bb = \"x\""), "{r}");
        assert!(r.contains("  |      ^^^"), "{r}");
    }

    #[test]
    fn file_level_diagnostic_has_no_position() {
        let d =
            Diagnostic::file(Severity::Warning, Path::new("p"), "empty").with_help("add something");
        assert_eq!(d.location(), "p");
        assert!(d.render().contains("help: add something"));
    }
}
