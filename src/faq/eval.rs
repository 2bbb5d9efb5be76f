//! Evaluation of the FAQ search on labelled questions: top-1/top-3 accuracy, and per
//! confidence threshold the precision of automatic answers, the share answered
//! automatically (coverage) and the share left to people.
//!
//! The data is Bitext's customer-support set (`../shared/data/faq-bitext`, CDLA-Sharing-1.0):
//! 27 intents, one answer each, ~240 paraphrased questions per intent. One article per intent
//! is built from its answer and at most five of its questions; the remaining questions are
//! split alternately into a calibration half (which fits the confidence) and a test half
//! (which every figure is measured on). No question is in more than one of the three.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use super::index::{Calibration, FaqIndex, Hit, Mode};
use super::Article;

/// A question with the article that answers it.
#[derive(Clone, Debug)]
pub struct Labelled {
    pub text: String,
    pub article: String,
}

/// Articles, calibration questions and test questions, disjoint.
pub struct Split {
    pub articles: Vec<Article>,
    pub calibrate: Vec<Labelled>,
    pub test: Vec<Labelled>,
}

/// Why an evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The data set cannot be read as expected.
    #[error("{path}: {why}")]
    Data { path: String, why: String },
    #[error("the FAQ index could not be built: {0}")]
    Index(String),
}

/// How many questions of an intent go into its article.
pub const QUESTIONS_PER_ARTICLE: usize = 5;

/// Reads the Bitext CSV and splits it. The article's questions are chosen to cover as many
/// different words as possible (what a person writing the article would do: different
/// phrasings, not five variants of one); the answer is the intent's most frequent response.
pub fn bitext_split(csv_path: &Path) -> Result<Split, EvalError> {
    let fail = |why: String| EvalError::Data {
        path: csv_path.display().to_string(),
        why,
    };
    let mut reader =
        csv::Reader::from_path(csv_path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    let headers = reader.headers().map_err(|e| fail(e.to_string()))?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| fail(format!("no column {name}")))
    };
    let (qi, ii, ri, ci) = (
        col("instruction")?,
        col("intent")?,
        col("response")?,
        col("category")?,
    );
    // intent → (category, questions, response → count)
    type Intent = (String, Vec<String>, BTreeMap<String, usize>);
    let mut by_intent: BTreeMap<String, Intent> = BTreeMap::new();
    for row in reader.records() {
        let row = row.map_err(|e| fail(e.to_string()))?;
        let e = by_intent
            .entry(row[ii].to_owned())
            .or_insert_with(|| (row[ci].to_lowercase(), Vec::new(), BTreeMap::new()));
        e.1.push(row[qi].trim().to_owned());
        *e.2.entry(row[ri].to_owned()).or_default() += 1;
    }
    // The test half is set aside first (every second question of an intent, in the file's
    // order), so nothing about it — not even its words — shapes the articles or the
    // calibration. The articles' questions are chosen from the other half, which then
    // calibrates the confidence.
    let mut pools: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut split = Split {
        articles: Vec::new(),
        calibrate: Vec::new(),
        test: Vec::new(),
    };
    for (intent, (_, questions, _)) in &by_intent {
        let (pool, test): (Vec<usize>, Vec<usize>) = (0..questions.len()).partition(|i| i % 2 == 0);
        split.test.extend(test.into_iter().map(|i| Labelled {
            text: questions[i].clone(),
            article: intent.clone(),
        }));
        pools.insert(intent.clone(), pool);
    }
    // How many pool questions of each intent hold a word.
    let mut counts: HashMap<String, HashMap<&str, usize>> = HashMap::new();
    for (intent, (_, questions, _)) in &by_intent {
        for &i in &pools[intent] {
            for w in words(&questions[i]) {
                *counts.entry(w).or_default().entry(intent).or_default() += 1;
            }
        }
    }
    for (intent, (category, questions, responses)) in &by_intent {
        let answer = responses
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(r, _)| r.clone())
            .unwrap_or_default();
        let pool: Vec<String> = pools[intent]
            .iter()
            .map(|&i| questions[i].clone())
            .collect();
        let weight = |w: &str| {
            let by = &counts[w];
            let here = by.get(intent.as_str()).copied().unwrap_or(0) as f64;
            here * here / by.values().sum::<usize>() as f64
        };
        let chosen = representative(&pool, QUESTIONS_PER_ARTICLE, weight);
        split.articles.push(Article {
            id: intent.clone(),
            language: "en".into(),
            category: category.clone(),
            title: intent.replace('_', " "),
            questions: chosen.iter().map(|&i| pool[i].clone()).collect(),
            keywords: Vec::new(),
            body: answer,
        });
        split.calibrate.extend(
            (0..pool.len())
                .filter(|i| !chosen.contains(i))
                .map(|i| Labelled {
                    text: pool[i].clone(),
                    article: intent.clone(),
                }),
        );
    }
    Ok(split)
}

/// Ordered, so that sums over a question's words come out the same in every run.
fn words(s: &str) -> BTreeSet<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1 && !w.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_lowercase)
        .collect()
}

/// Greedy: each next question is the one adding the most weight of words not yet covered.
/// A word weighs by how typical it is of the intent: how many of its questions use it,
/// times the share of all its uses that are in this intent — what a person writing the
/// article would pick: the usual phrasings, in the words that set this request apart.
fn representative(questions: &[String], n: usize, weight: impl Fn(&str) -> f64) -> Vec<usize> {
    let sets: Vec<BTreeSet<String>> = questions.iter().map(|q| words(q)).collect();
    let mut covered: BTreeSet<String> = BTreeSet::new();
    let mut chosen = Vec::new();
    while chosen.len() < n.min(questions.len()) {
        let gain = |i: usize| -> f64 { sets[i].difference(&covered).map(|w| weight(w)).sum() };
        let best = (0..questions.len())
            .filter(|i| !chosen.contains(i))
            .max_by(|&a, &b| gain(a).total_cmp(&gain(b)).then(b.cmp(&a)));
        let Some(best) = best else { break };
        covered.extend(sets[best].iter().cloned());
        chosen.push(best);
    }
    chosen
}

/// The split as JSON, for baselines outside Rust: `articles`, `calibrate`, `test`.
pub fn split_json(split: &Split) -> serde_json::Value {
    let labelled = |l: &[Labelled]| -> Vec<serde_json::Value> {
        l.iter()
            .map(|q| serde_json::json!({ "text": q.text, "article": q.article }))
            .collect()
    };
    serde_json::json!({
        "articles": split.articles,
        "calibrate": labelled(&split.calibrate),
        "test": labelled(&split.test),
    })
}

/// One question's outcome.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub margin: f32,
    pub top1: bool,
    pub top3: bool,
    pub expected: String,
    pub got: String,
}

pub fn run(index: &FaqIndex, language: &str, questions: &[Labelled]) -> Vec<Outcome> {
    questions
        .iter()
        .map(|q| {
            let hits: Vec<Hit> = index.search(language, &q.text, 3);
            Outcome {
                margin: FaqIndex::margin(&hits),
                top1: hits.first().is_some_and(|h| h.article == q.article),
                top3: hits.iter().any(|h| h.article == q.article),
                expected: q.article.clone(),
                got: hits.first().map_or_else(String::new, |h| h.article.clone()),
            }
        })
        .collect()
}

/// Figures of one threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub threshold: f64,
    /// Right answers among the automatic ones.
    pub precision: f64,
    /// Share of all questions answered automatically.
    pub coverage: f64,
}

/// Accuracy and the threshold table of one system on the test questions.
#[derive(Clone, Debug)]
pub struct Report {
    pub name: String,
    pub questions: usize,
    pub top1: f64,
    pub top3: f64,
    /// Top-1 on the calibration half, which weights and settings are chosen by.
    pub calibration_top1: f64,
    pub rows: Vec<Row>,
    /// The largest coverage at which precision is still ≥ 98 % on the test questions (an
    /// upper bound: the threshold is picked with hindsight).
    pub best_coverage_at_98: f64,
    /// The most frequent mistakes: (expected, answered, count).
    pub confusions: Vec<(String, String, usize)>,
}

pub const THRESHOLDS: [f64; 6] = [0.5, 0.8, 0.9, 0.95, 0.98, 0.99];

/// Fits the calibration on the calibration half and measures on the test half.
pub fn evaluate(
    name: &str,
    articles: &[Article],
    split: &Split,
    mode: Mode,
) -> Result<(Report, Calibration), EvalError> {
    let plain = FaqIndex::build(articles, None, mode, Calibration { points: vec![] })
        .map_err(|e| EvalError::Index(e.to_string()))?;
    let cal_outcomes = run(&plain, "en", &split.calibrate);
    let calibration = Calibration::fit(cal_outcomes.iter().map(|o| (o.margin, o.top1)).collect());
    let test = run(&plain, "en", &split.test);
    let n = test.len().max(1) as f64;
    let rows = THRESHOLDS
        .iter()
        .map(|&t| {
            let answered: Vec<&Outcome> = test
                .iter()
                .filter(|o| calibration.confidence(o.margin) >= t)
                .collect();
            let right = answered.iter().filter(|o| o.top1).count();
            Row {
                threshold: t,
                precision: if answered.is_empty() {
                    1.0
                } else {
                    right as f64 / answered.len() as f64
                },
                coverage: answered.len() as f64 / n,
            }
        })
        .collect();
    let mut by_margin: Vec<&Outcome> = test.iter().collect();
    by_margin.sort_by(|a, b| b.margin.total_cmp(&a.margin));
    let (mut right, mut best) = (0usize, 0usize);
    for (k, o) in by_margin.iter().enumerate() {
        right += usize::from(o.top1);
        if right as f64 >= 0.98 * (k + 1) as f64 {
            best = k + 1;
        }
    }
    let mut confusions: BTreeMap<(String, String), usize> = BTreeMap::new();
    for o in test.iter().filter(|o| !o.top1) {
        *confusions
            .entry((o.expected.clone(), o.got.clone()))
            .or_default() += 1;
    }
    let mut confusions: Vec<(String, String, usize)> = confusions
        .into_iter()
        .map(|((a, b), n)| (a, b, n))
        .collect();
    confusions.sort_by_key(|c| std::cmp::Reverse(c.2));
    confusions.truncate(8);
    Ok((
        Report {
            confusions,
            name: name.to_owned(),
            questions: test.len(),
            top1: test.iter().filter(|o| o.top1).count() as f64 / n,
            calibration_top1: cal_outcomes.iter().filter(|o| o.top1).count() as f64
                / cal_outcomes.len().max(1) as f64,
            top3: test.iter().filter(|o| o.top3).count() as f64 / n,
            rows,
            best_coverage_at_98: best as f64 / n,
        },
        calibration,
    ))
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}: {} test questions, top-1 {:.3}, top-3 {:.3}, best coverage at ≥98% precision {:.1}% (calibration half: top-1 {:.3})",
            self.name,
            self.questions,
            self.top1,
            self.top3,
            self.best_coverage_at_98 * 100.0,
            self.calibration_top1
        )?;
        writeln!(
            f,
            "| confidence ≥ | precision | answered automatically | to a person |"
        )?;
        writeln!(f, "|---:|---:|---:|---:|")?;
        for r in &self.rows {
            writeln!(
                f,
                "| {:.2} | {:.1}% | {:.1}% | {:.1}% |",
                r.threshold,
                r.precision * 100.0,
                r.coverage * 100.0,
                (1.0 - r.coverage) * 100.0
            )?;
        }
        for (a, b, n) in &self.confusions {
            writeln!(f, "  {n} × {a} answered as {b}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn representative_questions_cover_the_weighty_words() {
        let qs: Vec<String> = [
            "cancel order 1",
            "cancel order 2",
            "how do I stop my purchase",
            "cancel order",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // "cancel" and "order" weigh most: the first question with them comes first, then
        // the one adding the most of what is left.
        let weight = |w: &str| match w {
            "cancel" | "order" => 3.0,
            _ => 0.5,
        };
        assert_eq!(representative(&qs, 2, weight), vec![0, 2]);
        // Nothing left to add still fills the article up to n.
        assert_eq!(representative(&qs, 4, |_| 0.0).len(), 4);
    }
}
