//! FAQ articles and the search that finds the one answering a ticket, with a confidence
//! that means "how often an answer at this confidence was right" on labelled data.
//!
//! No HTTP and no SQL: articles come in as values (from Markdown files or the store), the
//! index is built from them, and a search takes a language and a text.

mod analyzers;
pub mod answer;
pub mod eval;
mod index;
mod markdown;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use index::{Calibration, FaqIndex, Hit, Mode};

/// The confidence map shipped with triage: fitted by `triage faq eval` on the calibration
/// half of Bitext's customer-support questions (the figures in README were measured on the
/// other half). `(margin, precision)`: see [`Calibration`].
pub fn default_calibration() -> Calibration {
    Calibration {
        points: vec![
            (0.000, 0.000),
            (0.084, 0.429),
            (0.135, 0.627),
            (0.155, 0.632),
            (0.156, 0.667),
            (0.169, 0.743),
            (0.221, 0.807),
            (0.237, 0.830),
            (0.249, 0.846),
            (0.254, 0.889),
            (0.261, 0.893),
            (0.280, 0.902),
            (0.293, 0.907),
            (0.336, 0.912),
            (0.347, 0.922),
            (0.350, 0.929),
            (0.394, 0.960),
            (0.419, 0.974),
            (0.511, 0.984),
            (0.635, 0.986),
            (0.685, 0.996),
            (1.000, 1.000),
        ],
    }
}

/// One article: the answer (`body`) and what it is found by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article {
    pub id: String,
    /// `de` or `en`.
    pub language: String,
    pub category: String,
    pub title: String,
    /// Ways customers ask for this answer.
    #[serde(default)]
    pub questions: Vec<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    pub body: String,
}

impl Article {
    /// What is wrong with an article, as (field, message): an unsupported language or an
    /// empty id, title, category or answer.
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if !matches!(self.language.as_str(), "de" | "en") {
            return Some((
                "language",
                format!("language \"{}\" is not supported (de or en)", self.language),
            ));
        }
        for (field, v) in [
            ("id", &self.id),
            ("title", &self.title),
            ("category", &self.category),
            ("body", &self.body),
        ] {
            if v.trim().is_empty() {
                return Some((field, format!("{field} must not be empty")));
            }
        }
        None
    }
}

/// An article file that cannot be read, with the line at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FaqError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for FaqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    id: String,
    language: String,
    category: String,
    title: String,
    #[serde(default)]
    questions: Vec<String>,
    #[serde(default)]
    keywords: Vec<String>,
}

/// Reads an article from Markdown with TOML front matter between `+++` lines:
///
/// ```text
/// +++
/// id = "password-reset-de"
/// language = "de"
/// category = "password-reset"
/// title = "Passwort zurücksetzen"
/// questions = ["Ich habe mein Passwort vergessen"]
/// keywords = ["kennwort"]
/// +++
/// The answer, in Markdown.
/// ```
pub fn parse_markdown(file: &str, text: &str) -> Result<Article, FaqError> {
    let err = |line: usize, message: String| FaqError {
        file: file.to_owned(),
        line,
        message,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    if lines.next().map(str::trim) != Some("+++") {
        return Err(err(
            1,
            "an article starts with a `+++` line and TOML front matter".into(),
        ));
    }
    let mut front = String::new();
    let mut consumed = 1;
    let mut closed = false;
    for line in lines.by_ref() {
        consumed += 1;
        if line.trim() == "+++" {
            closed = true;
            break;
        }
        front.push_str(line);
    }
    if !closed {
        return Err(err(
            1,
            "the front matter is not closed by a `+++` line".into(),
        ));
    }
    let meta: FrontMatter = toml::from_str(&front).map_err(|e| {
        let line = e.span().map_or(0, |s| {
            front[..s.start.min(front.len())].matches('\n').count()
        }) + 2;
        err(line, e.message().to_owned())
    })?;
    let body: String = lines.collect::<String>().trim().to_owned();
    if !matches!(meta.language.as_str(), "de" | "en") {
        return Err(err(
            2,
            format!("language \"{}\" is not supported (de or en)", meta.language),
        ));
    }
    if body.is_empty() {
        return Err(err(consumed + 1, "the article has no answer text".into()));
    }
    for (what, v) in [
        ("id", &meta.id),
        ("title", &meta.title),
        ("category", &meta.category),
    ] {
        if v.trim().is_empty() {
            return Err(err(2, format!("{what} must not be empty")));
        }
    }
    Ok(Article {
        id: meta.id,
        language: meta.language,
        category: meta.category,
        title: meta.title,
        questions: meta.questions,
        keywords: meta.keywords,
        body,
    })
}

/// Reads every `*.md` file of a directory, in name order; all errors are returned.
pub fn load_dir(dir: &std::path::Path) -> Result<Vec<Article>, Vec<FaqError>> {
    let mut paths: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "md"))
            .collect(),
        Err(e) => {
            return Err(vec![FaqError {
                file: dir.display().to_string(),
                line: 0,
                message: format!("cannot read: {e}"),
            }])
        }
    };
    paths.sort();
    let (mut ok, mut errors) = (Vec::new(), Vec::new());
    let mut seen = std::collections::HashMap::new();
    for p in paths {
        let name = p.display().to_string();
        match std::fs::read_to_string(&p) {
            Err(e) => errors.push(FaqError {
                file: name,
                line: 0,
                message: format!("cannot read: {e}"),
            }),
            Ok(text) => match parse_markdown(&name, &text) {
                Ok(a) => {
                    if let Some(prev) = seen.insert(a.id.clone(), name.clone()) {
                        errors.push(FaqError {
                            file: name,
                            line: 2,
                            message: format!("article id \"{}\" is already used by {prev}", a.id),
                        });
                    } else {
                        ok.push(a);
                    }
                }
                Err(e) => errors.push(e),
            },
        }
    }
    if errors.is_empty() {
        Ok(ok)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_articles_parse_and_errors_name_the_line() {
        let a = parse_markdown(
            "pw.md",
            "+++\nid = \"pw-de\"\nlanguage = \"de\"\ncategory = \"password-reset\"\ntitle = \"Passwort\"\nquestions = [\"Passwort vergessen\"]\n+++\n\nSo setzen Sie es zurück.\n",
        )
        .unwrap();
        assert_eq!(a.id, "pw-de");
        assert_eq!(a.questions, ["Passwort vergessen"]);
        assert_eq!(a.body, "So setzen Sie es zurück.");
        let e = parse_markdown(
            "x.md",
            "+++\nid = \"x\"\nlanguage = \"de\"\ntitel = \"t\"\n+++\nA",
        )
        .unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.contains("titel"), "{e}");
        let e = parse_markdown("x.md", "no front matter").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse_markdown(
            "x.md",
            "+++\nid = \"x\"\nlanguage = \"fr\"\ncategory = \"c\"\ntitle = \"t\"\n+++\nA",
        )
        .unwrap_err();
        assert!(e.message.contains("\"fr\""), "{e}");
    }
}
