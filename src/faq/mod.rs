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
            -7.654, 2.377, 2.888, -0.544, 1.865, 2.197, 0.65, -5.668, 4.965, 3.808, 1.375,
        ],
        calibration: Calibration {
            points: vec![
                (-4.7182045, 0.0),
                (-3.4500365, 0.05357142857142857),
                (-2.4893208, 0.05474452554744526),
                (-1.8067374, 0.09424083769633508),
                (-1.7736626, 0.1),
                (-1.4732089, 0.14351851851851852),
                (-1.3702574, 0.1956521739130435),
                (-1.2704763, 0.22666666666666666),
                (-1.1258135, 0.22695035460992907),
                (-1.1209435, 0.25),
                (-1.0215068, 0.29591836734693877),
                (-0.98080254, 0.3076923076923077),
                (-0.8424401, 0.3114754098360656),
                (-0.77988243, 0.3235294117647059),
                (-0.5561485, 0.36213991769547327),
                (-0.5390034, 0.4),
                (-0.13845253, 0.40654205607476634),
                (0.054019928, 0.4365482233502538),
                (0.080910206, 0.46875),
                (0.22718763, 0.49504950495049505),
                (0.2612028, 0.5121951219512195),
                (0.45684624, 0.5489130434782609),
                (0.46519804, 0.6),
                (0.70989275, 0.6013745704467354),
                (0.7793503, 0.7083333333333334),
                (0.8701339, 0.7192982456140351),
                (0.92653227, 0.7605633802816901),
                (1.0305305, 0.7883211678832117),
                (1.3526835, 0.7901234567901234),
                (1.6799941, 0.8185567010309278),
                (1.7307162, 0.8208955223880597),
                (1.802207, 0.8791208791208791),
                (2.0580096, 0.8818681318681318),
                (2.164904, 0.9084967320261438),
                (2.405552, 0.9222222222222223),
                (2.6033478, 0.9266666666666666),
                (2.6157675, 0.9411764705882353),
                (2.7050476, 0.9416058394160584),
                (3.2579465, 0.9533799533799534),
                (3.325439, 0.975),
                (4.1446238, 0.9781199351701783),
                (4.178249, 0.9811320754716981),
                (5.6673956, 0.9893673577884105),
                (6.3133483, 0.9959432048681541),
                (8.67588, 1.0),
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
