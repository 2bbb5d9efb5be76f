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
mod vectors;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use index::{Calibration, Confidence, Evidence, FaqIndex, Hit, Mode};

/// The confidence shipped with triage, as `triage faq eval` fits it: a logistic score of
/// the evidence and the precision measured at each score (out of fold), on Bitext's fitting
/// half and CLINC150's `val`, `oos_val` and held-out `train` queries (README: the figures on
/// the test questions). See [`Confidence`].
#[allow(clippy::excessive_precision)]
pub fn default_confidence() -> Confidence {
    Confidence {
        weights: [
            -7.013, 2.144, 3.44, -0.792, 1.847, 2.025, 1.121, -5.471, 4.967, 2.481, 1.54,
        ],
        calibration: Calibration {
            points: vec![
                (-4.209692, 0.0),
                (-3.952186, 0.041666666666666664),
                (-3.8007212, 0.045454545454545456),
                (-2.256472, 0.06263498920086392),
                (-2.1366634, 0.08064516129032258),
                (-1.8446631, 0.10152284263959391),
                (-1.5586796, 0.11646586345381527),
                (-1.3367863, 0.1875),
                (-1.1543183, 0.19745222929936307),
                (-1.1482377, 0.25),
                (-0.8289509, 0.2638888888888889),
                (-0.78031397, 0.2708333333333333),
                (-0.7556939, 0.37037037037037035),
                (-0.46933174, 0.41754385964912283),
                (-0.24632263, 0.4206008583690987),
                (-0.24040174, 0.42857142857142855),
                (-0.23467255, 0.4444444444444444),
                (0.05289173, 0.45751633986928103),
                (0.05359888, 0.5),
                (0.28830194, 0.5296442687747036),
                (0.31008148, 0.5652173913043478),
                (0.49737978, 0.5902439024390244),
                (0.5005388, 0.6),
                (0.5904212, 0.6068376068376068),
                (0.6347413, 0.6071428571428571),
                (0.72942495, 0.6203703703703703),
                (0.8581953, 0.7328767123287672),
                (1.2557392, 0.7719298245614035),
                (1.3989882, 0.806282722513089),
                (1.6020536, 0.8181818181818182),
                (1.7543092, 0.84),
                (2.0443554, 0.8477751756440282),
                (2.113265, 0.912621359223301),
                (2.1693435, 0.9146341463414634),
                (2.3765059, 0.9193548387096774),
                (2.459097, 0.923728813559322),
                (2.4889612, 0.9285714285714286),
                (2.7182693, 0.9345794392523364),
                (2.7580948, 0.9375),
                (3.1453848, 0.9508196721311475),
                (3.247961, 0.9716312056737588),
                (3.3184452, 0.9770114942528736),
                (3.734068, 0.9774696707105719),
                (4.271678, 0.9786223277909739),
                (4.316629, 0.987012987012987),
                (4.540773, 0.9870550161812298),
                (5.5499735, 0.9895245769540693),
                (5.9233356, 0.9942028985507246),
                (6.291454, 0.9963503649635036),
                (8.92251, 1.0),
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
