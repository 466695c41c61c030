//! The engine: a validated pack with its analyzer and compiled index.

use std::path::PathBuf;

use crate::analyze::Analyzer;
use crate::diag::Diagnostic;
use crate::matcher::Index;
use crate::pack::{self, Pack};
use crate::pii::PiiConfig;

/// A pack compiled for matching. Cheap to share between threads (`Send + Sync`).
#[derive(Debug)]
pub struct Engine {
    pub(crate) pack: Pack,
    pub(crate) analyzer: Analyzer,
    pub(crate) index: Index,
    pub(crate) pii: PiiConfig,
}

/// Why a pack could not become an engine: every diagnostic found.
#[derive(Debug)]
pub struct LoadError {
    diagnostics: Vec<Diagnostic>,
}

impl LoadError {
    /// Every problem, errors and warnings, in file order.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.diagnostics.iter().filter(|d| d.is_error()).count();
        write!(f, "the pack has {n} error(s)")?;
        for d in self.diagnostics.iter().filter(|d| d.is_error()) {
            write!(f, "\n{}", d.render().trim_end())?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

impl Engine {
    /// Validates and compiles a pack from its files (see [`pack::read_dir`]).
    ///
    /// Returns the engine and the pack's warnings.
    ///
    /// # Errors
    /// [`LoadError`] with every diagnostic when the pack has errors.
    pub fn from_files(
        files: Vec<(PathBuf, String)>,
    ) -> Result<(Engine, Vec<Diagnostic>), LoadError> {
        let started = std::time::Instant::now();
        let (pack, diagnostics) = pack::load(files);
        let Some(pack) = pack else {
            return Err(LoadError { diagnostics });
        };
        let loaded = started.elapsed();
        let analyzer = Analyzer::new(&pack);
        let analyzed = started.elapsed();
        let index = match Index::build(&pack, &analyzer) {
            Ok(index) => index,
            Err(message) => {
                let file = pack.files.first().map(|f| f.0.clone()).unwrap_or_default();
                let mut diagnostics = diagnostics;
                diagnostics.push(
                    Diagnostic::file(crate::diag::Severity::Error, &file, message)
                        .with_help("reduce the number or size of patterns"),
                );
                return Err(LoadError { diagnostics });
            }
        };
        let mut allowed_numbers: Vec<String> = pack
            .contacts
            .iter()
            .filter_map(|c| c.number.as_deref())
            .map(|n| {
                let d: String = n.chars().filter(char::is_ascii_digit).collect();
                if d.len() == 11 && d.starts_with('1') {
                    d[1..].to_string()
                } else {
                    d
                }
            })
            .collect();
        allowed_numbers.sort();
        allowed_numbers.dedup();
        tracing::debug!(
            intents = pack.intents.len(),
            parse_validate_ms = loaded.as_secs_f64() * 1e3,
            analyzer_ms = (analyzed - loaded).as_secs_f64() * 1e3,
            index_ms = (started.elapsed() - analyzed).as_secs_f64() * 1e3,
            "pack compiled"
        );
        let pii = PiiConfig {
            allowed_numbers,
            member_id: pack.member_id_pattern.clone(),
        };
        Ok((
            Engine {
                pack,
                analyzer,
                index,
                pii,
            },
            diagnostics,
        ))
    }

    /// Reads a pack folder and compiles it.
    ///
    /// # Errors
    /// An I/O error reading the folder, or the pack's diagnostics.
    pub fn load_dir(
        dir: &std::path::Path,
    ) -> Result<(Engine, Vec<Diagnostic>), Box<dyn std::error::Error + Send + Sync>> {
        let files = pack::read_dir(dir)?;
        if !files
            .iter()
            .any(|(p, _)| p.extension().is_some_and(|e| e == "toml"))
        {
            return Err(format!("{}: no pack files (*.toml) found", dir.display()).into());
        }
        Ok(Engine::from_files(files)?)
    }

    /// The pack this engine serves.
    pub fn pack(&self) -> &Pack {
        &self.pack
    }

    /// `text` as logs, histories and saved transcripts may hold it: control
    /// characters dropped, personal data (SSN, card, Medicare number, date of
    /// birth, phone, email, member ID) replaced by placeholders.
    pub fn redact(&self, text: &str) -> String {
        let cleaned = crate::normalize::clean(text, self.pack.max_message_chars);
        crate::pii::redact(&cleaned.text, &self.pii).text
    }
}
