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

pub use index::{Calibration, Confidence, Evidence, FaqIndex, Hit, Mode};

/// The confidence shipped with triage, as `triage faq eval` fits it: a logistic score of
/// the evidence and the precision measured at each score, on Bitext's fitting half and
/// CLINC150's `val`, `oos_val` and held-out `train` queries (README: the figures on the test
/// questions). See [`Confidence`].
#[allow(clippy::excessive_precision)]
pub fn default_confidence() -> Confidence {
    Confidence {
        weights: [
            -5.894, 2.584, 3.653, -0.867, 1.424, 2.97, 0.984, -5.641, 5.651,
        ],
        calibration: Calibration {
            points: vec![
                (-5.894, 0.0),
                (-2.0099497, 0.08764940239043825),
                (-1.8342671, 0.14444444444444443),
                (-1.6823173, 0.14754098360655737),
                (-1.5000124, 0.15135135135135136),
                (-1.3360581, 0.2158273381294964),
                (-0.9632573, 0.2216867469879518),
                (-0.8556428, 0.24),
                (-0.77627754, 0.24444444444444444),
                (-0.77330923, 0.25),
                (-0.72436523, 0.35714285714285715),
                (-0.56306696, 0.3671497584541063),
                (-0.47644663, 0.37209302325581395),
                (-0.26473665, 0.4024390243902439),
                (-0.23860216, 0.4444444444444444),
                (0.013799667, 0.45993031358885017),
                (0.028237343, 0.4666666666666667),
                (0.17057705, 0.49710982658959535),
                (0.21072292, 0.5434782608695652),
                (0.223032, 0.5714285714285714),
                (0.4238062, 0.584070796460177),
                (0.49284697, 0.6),
                (0.70445204, 0.6441947565543071),
                (0.7238307, 0.6521739130434783),
                (0.87436056, 0.6604651162790698),
                (0.92970467, 0.6944444444444444),
                (1.2604222, 0.7288888888888889),
                (1.3620272, 0.7563025210084033),
                (1.596405, 0.8249258160237388),
                (1.6001906, 0.8333333333333334),
                (1.619667, 0.8461538461538461),
                (1.6455636, 0.8648648648648649),
                (1.8169904, 0.869198312236287),
                (2.1855955, 0.9056603773584906),
                (2.3227825, 0.9186602870813397),
                (2.727108, 0.937791601866252),
                (3.755351, 0.9680306905370843),
                (3.981368, 0.973293768545994),
                (4.0957537, 0.9772727272727273),
                (4.373868, 0.9827586206896551),
                (4.7600164, 0.9888475836431226),
                (5.8295183, 0.9939759036144579),
                (7.9663486, 1.0),
            ],
        },
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
