//! Rules files: load (TOML and the customer list) → validate (file:line:column messages) →
//! compile (regex sets, glob sets, lookup tables) into [`CompiledRules`].
//!
//! Pure apart from [`load_dir`], which only reads the files; [`compile`] takes their text,
//! so tests and the service's hot reload share one path. A rules directory is accepted whole
//! or not at all: any error rejects it, warnings do not.

mod compile;
pub mod customers;
mod mail;
mod policy;
mod sla;
mod source;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use compile::{
    compile, list, Category, CompiledRules, Cond, Defaults, FaqRules, Rule, RulesFile, SegmentDef,
    WindowDef, FAILURE_WORDING,
};
pub use customers::{Customer, CustomerIndex};
pub use mail::{MailRules, MailTemplate, SpamVerdict};
pub use policy::{SlaPlan, SlaSubject};

/// One rules file's name (as shown in messages) and text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: Arc<str>,
    pub text: String,
}

impl SourceFile {
    /// A file as named in messages, with its text.
    pub fn new(path: impl Into<Arc<str>>, text: impl Into<String>) -> SourceFile {
        SourceFile {
            path: path.into(),
            text: text.into(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..crate::model::floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }
}

/// Why a further file the rules name (the customer list, an iCalendar file) could not be
/// read; its text is the error reported at the name.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file system could not read the file.
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// None of the files given has that name.
    #[error("cannot read {0}: no such file")]
    Missing(String),
}

/// Whether a message rejects the rules (an error) or only points something out (a warning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A message about a rules file, located to the line and column it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: Arc<str>,
    /// 1-based; 0 when the message is about the file as a whole.
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        if self.line == 0 {
            write!(f, "{}: {kind}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {kind}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

/// A rules directory that was rejected; holds every error found (and the warnings).
#[derive(Debug, Clone, thiserror::Error)]
pub struct RulesError {
    pub diagnostics: Vec<Diagnostic>,
}

impl RulesError {
    /// The errors among the messages, in the order found.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors().count();
        write!(
            f,
            "rules rejected with {n} error{}",
            if n == 1 { "" } else { "s" }
        )?;
        for d in &self.diagnostics {
            write!(f, "\n{d}")?;
        }
        Ok(())
    }
}

/// Compiled rules together with the warnings validation produced.
#[derive(Debug)]
pub struct Loaded {
    pub rules: CompiledRules,
    pub warnings: Vec<Diagnostic>,
}

/// Reads every `*.toml` file of `dir` (in name order) and the customer list the defaults
/// name, then compiles them.
pub fn load_dir(dir: &Path) -> Result<Loaded, RulesError> {
    let io_error = |path: &Path, e: std::io::Error| RulesError {
        diagnostics: vec![Diagnostic {
            severity: Severity::Error,
            file: path.display().to_string().into(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        }],
    };
    let entries = std::fs::read_dir(dir).map_err(|e| io_error(dir, e))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    paths.sort();
    let mut files = Vec::with_capacity(paths.len());
    for path in &paths {
        let text = std::fs::read_to_string(path).map_err(|e| io_error(path, e))?;
        files.push(SourceFile::new(path.display().to_string(), text));
    }
    compile::compile_with(&files, &|name| {
        let path = dir.join(name);
        std::fs::read_to_string(&path)
            .map(|text| SourceFile::new(path.display().to_string(), text))
            .map_err(|source| ReadError::Io {
                path: path.display().to_string(),
                source,
            })
    })
}

/// Compiles rules given as `(file name, text)` pairs; a customer list named by the defaults
/// is looked up among the same pairs. For tests and for rules uploaded as a whole.
pub fn compile_sources(files: &[(&str, &str)]) -> Result<Loaded, RulesError> {
    let sources: Vec<SourceFile> = files
        .iter()
        .filter(|(name, _)| name.ends_with(".toml"))
        .map(|(name, text)| SourceFile::new(*name, *text))
        .collect();
    compile::compile_with(&sources, &|wanted| {
        files
            .iter()
            .find(|(name, _)| *name == wanted)
            .map(|(name, text)| SourceFile::new(*name, *text))
            .ok_or_else(|| ReadError::Missing(wanted.to_owned()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let f = SourceFile::new("x.toml", "a = 1\nb = \"ä\" x\n");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(6), (2, 1));
        // 'x' follows the two-byte 'ä': byte 15, character column 9.
        assert_eq!(f.line_col(15), (2, 9));
    }
}

/// A small complete rules set that tests extend with their own rules.
#[cfg(test)]
pub(crate) mod fixture {
    /// The service model: defaults, windows, calendars, segments, queues and categories.
    pub const SERVICE: &str = r#"[defaults]
segment = "administrative"
category = "general"
priority = "P3"
queue = "desk"
language = "de"
customers = "customers.csv"

[window]
business-hours = "office"
extended-hours = "office"
on-call = "office"
24x7 = "always"

[calendar.office]
timezone = "Europe/Vienna"
hours = { mon-fri = ["08:00-17:00"] }

[calendar.always]
timezone = "UTC"
hours = { mon-sun = ["00:00-24:00"] }

[segment.business-critical]
window = "24x7"
channel.phone = "on-call"

[segment.commercial]
window = "extended-hours"
queue = "billing"

[segment.administrative]
window = "business-hours"

[channel.phone]
window = "business-hours"

[queue.desk]
[queue.billing]
[queue.major]

[category.general]
[category.password-reset]
automatable = true
[category.billing]
segment = "commercial"
queue = "billing"
[category.outage]
segment = "business-critical"
priority = "P1"
queue = "major"
"#;

    /// The customer list `SERVICE` names.
    pub const CUSTOMERS: &str = "organisation,segment,domains,phones,tags
LKH,business-critical,lkh.example,+43 316 1,hospital
Shop GmbH,commercial,shop.example,,
Gemeinde,,gemeinde.example,,public-sector
";

    /// Compiles the fixture plus `rules` as `rules.toml`.
    pub fn with_rules(rules: &str) -> Result<super::Loaded, super::RulesError> {
        super::compile_sources(&[
            ("service.toml", SERVICE),
            ("rules.toml", rules),
            ("customers.csv", CUSTOMERS),
        ])
    }
}
