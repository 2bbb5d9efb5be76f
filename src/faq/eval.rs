//! Evaluation of the FAQ search on labelled questions: top-1/top-3 accuracy, and per
//! confidence threshold the precision of automatic answers, the share answered
//! automatically (coverage) and the share left to people.
//!
//! Two data sets, each split into articles, questions the confidence is fitted on, and test
//! questions every figure is measured on; no question is in more than one of the three:
//! - Bitext's customer-support set (`../shared/data/faq-bitext`, CDLA-Sharing-1.0): 27
//!   intents, one answer each, ~240 paraphrased questions per intent. One article per intent
//!   from its answer and at most five of its questions; the rest alternately into a fitting
//!   half and a test half. Every question has an article (a closed set).
//! - CLINC150 (`../shared/data/clinc150-oos`, Larson et al. 2019, CC BY 3.0): 150 intents
//!   and questions that belong to none ("out of scope"). One article per intent from ten of
//!   its `train` queries; fitted on `val` and `oos_val`, measured on `test` and `oos_test`.
//!   An automatic answer to an out-of-scope question is a wrong answer.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use super::index::{Calibration, Confidence, FaqIndex, Hit, Mode, FEATURES};
use super::Article;

/// A question with the article that answers it (empty: none does, out of scope).
#[derive(Clone, Debug)]
pub struct Labelled {
    pub text: String,
    pub article: String,
}

impl Labelled {
    pub fn out_of_scope(&self) -> bool {
        self.article.is_empty()
    }
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

/// How many `train` queries of a CLINC150 intent go into its article.
pub const CLINC_QUESTIONS_PER_ARTICLE: usize = 10;

/// Reads CLINC150's `data_full.json` and splits it: articles from `train` (the intent's name
/// as title, ten representative queries as questions, no answer text exists), fitting
/// questions from `val` and `oos_val`, test questions from `test` and `oos_test`; and a
/// second split for fitting only, from `train` (see below).
pub fn clinc_split(json_path: &Path) -> Result<(Split, Split), EvalError> {
    let fail = |why: String| EvalError::Data {
        path: json_path.display().to_string(),
        why,
    };
    let bytes = std::fs::read(json_path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    let data: HashMap<String, Vec<(String, String)>> =
        serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))?;
    let part = |name: &str| {
        data.get(name)
            .ok_or_else(|| fail(format!("no part \"{name}\"")))
    };
    let mut by_intent: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (q, intent) in part("train")? {
        by_intent.entry(intent).or_default().push(q.clone());
    }
    let mut counts: HashMap<String, HashMap<&str, usize>> = HashMap::new();
    for (intent, questions) in &by_intent {
        for q in questions {
            for w in words(q) {
                *counts.entry(w).or_default().entry(intent).or_default() += 1;
            }
        }
    }
    let mut articles: Vec<Article> = by_intent
        .iter()
        .map(|(intent, questions)| {
            let weight = |w: &str| {
                let by = &counts[w];
                let here = by.get(intent).copied().unwrap_or(0) as f64;
                here * here / by.values().sum::<usize>() as f64
            };
            let chosen = representative(questions, CLINC_QUESTIONS_PER_ARTICLE, weight);
            let title = intent.replace('_', " ");
            Article {
                id: (*intent).to_owned(),
                language: "en".into(),
                category: (*intent).to_owned(),
                body: title.clone(),
                title,
                questions: chosen.iter().map(|&i| questions[i].clone()).collect(),
                keywords: Vec::new(),
            }
        })
        .collect();
    let labelled = |names: &[&str]| -> Result<Vec<Labelled>, EvalError> {
        let mut out = Vec::new();
        for name in names {
            for (q, intent) in part(name)? {
                out.push(Labelled {
                    text: q.clone(),
                    article: if intent == "oos" {
                        String::new()
                    } else {
                        intent.clone()
                    },
                });
            }
        }
        Ok(out)
    };
    let split = Split {
        articles: articles.clone(),
        calibrate: labelled(&["val", "oos_val"])?,
        test: labelled(&["test", "oos_test"])?,
    };
    // Out-of-scope questions like those of a real help desk (near the articles' subjects,
    // not random) from `train` alone: every fifth intent loses its article, and its train
    // queries become questions no article answers; the kept intents' queries that are not
    // in their article are in scope.
    let dropped: BTreeSet<String> = articles
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 5 == 4)
        .map(|(_, a)| a.id.clone())
        .collect();
    let mut held_out = Vec::new();
    for a in &articles {
        let asked: BTreeSet<&String> = a.questions.iter().collect();
        for q in by_intent[a.id.as_str()]
            .iter()
            .filter(|q| !asked.contains(q))
            .take(HELD_OUT_PER_INTENT)
        {
            held_out.push(Labelled {
                text: q.clone(),
                article: if dropped.contains(&a.id) {
                    String::new()
                } else {
                    a.id.clone()
                },
            });
        }
    }
    articles.retain(|a| !dropped.contains(&a.id));
    Ok((
        split,
        Split {
            articles,
            calibrate: held_out,
            test: Vec::new(),
        },
    ))
}

/// How many `train` queries per intent the held-out fitting questions take.
pub const HELD_OUT_PER_INTENT: usize = 30;

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
    /// The evidence of the best article ([`super::Evidence::features`]).
    pub features: [f32; FEATURES],
    /// The best article answers it (never, for an out-of-scope question).
    pub top1: bool,
    pub top3: bool,
    pub out_of_scope: bool,
    pub question: String,
    pub expected: String,
    pub got: String,
}

pub fn run(index: &FaqIndex, language: &str, questions: &[Labelled]) -> Vec<Outcome> {
    questions
        .iter()
        .map(|q| {
            let hits: Vec<Hit> = index.search(language, &q.text, 3);
            let evidence = hits.first().and_then(|h| h.evidence.as_ref());
            let scoped = !q.out_of_scope();
            Outcome {
                features: evidence.map_or([0.0; FEATURES], |e| e.features()),
                top1: scoped && hits.first().is_some_and(|h| h.article == q.article),
                top3: scoped && hits.iter().any(|h| h.article == q.article),
                out_of_scope: !scoped,
                question: q.text.clone(),
                expected: q.article.clone(),
                got: hits.first().map_or_else(String::new, |h| h.article.clone()),
            }
        })
        .collect()
}

/// Fitting samples: the outcomes, out-of-scope ones counted `oos_weight` times (so that
/// they weigh as much as in the test questions, whose share of them is larger).
pub struct Samples<'a> {
    pub outcomes: Vec<(&'a Outcome, usize)>,
}

impl<'a> Samples<'a> {
    pub fn new() -> Samples<'a> {
        Samples {
            outcomes: Vec::new(),
        }
    }

    pub fn add(&mut self, outcomes: &'a [Outcome], oos_weight: usize) {
        self.outcomes.extend(
            outcomes
                .iter()
                .map(|o| (o, if o.out_of_scope { oos_weight } else { 1 })),
        );
    }
}

impl Default for Samples<'_> {
    fn default() -> Self {
        Samples::new()
    }
}

/// How much more an out-of-scope fitting question counts than an in-scope one: the test
/// questions' ratio of out-of-scope to in-scope over the fitting questions' (sizes only).
pub fn oos_weight(split: &Split) -> usize {
    let ratio = |l: &[Labelled]| {
        let oos = l.iter().filter(|q| q.out_of_scope()).count() as f64;
        oos / (l.len() as f64 - oos).max(1.0)
    };
    let fit = ratio(&split.calibrate);
    if fit == 0.0 {
        return 1;
    }
    (ratio(&split.test) / fit).round().max(1.0) as usize
}

/// How many parts the fitting questions are cut into for the calibration: each part's
/// scores come from weights fitted on the other parts.
pub const FOLDS: usize = 5;

/// Fits the confidence: with `evidence`, a logistic regression of "the best article is
/// right" on the evidence, then the isotonic map from its score to the precision measured
/// there; without, the isotonic map of the margin alone (the baseline).
///
/// The map is fitted on scores the question did not help to weigh (out of fold: each fifth
/// of the questions scored by weights fitted on the other four), as a calibration on the
/// questions the weights were fitted on would promise more precision at the top than new
/// questions get. The shipped weights are fitted on all of them.
pub fn fit(samples: &Samples, evidence: bool) -> Confidence {
    let probe = if evidence {
        Confidence {
            weights: logistic(samples),
            calibration: Calibration { points: vec![] },
        }
    } else {
        Confidence::margin_only(Calibration { points: vec![] })
    };
    // Who scores a question for the calibration: with evidence, the weights of the folds it
    // was not fitted in (question i is in fold i mod FOLDS); without, the margin itself.
    let scorers: Vec<Confidence> = if evidence {
        (0..FOLDS)
            .map(|fold| Confidence {
                weights: logistic(&Samples {
                    outcomes: (samples.outcomes.iter().enumerate())
                        .filter(|(i, _)| i % FOLDS != fold)
                        .map(|(_, o)| *o)
                        .collect(),
                }),
                ..probe.clone()
            })
            .collect()
    } else {
        vec![probe.clone()]
    };
    let mut points = Vec::new();
    for (i, (o, n)) in samples.outcomes.iter().enumerate() {
        let score = scorers[i % scorers.len()].score(&o.features);
        points.extend(std::iter::repeat_n((score, o.top1), *n));
    }
    Confidence {
        calibration: Calibration::fit(points),
        ..probe
    }
}

/// The lowest confidence at which the automatic answers among the fitting questions
/// (weighed as fitted) are right at least `precision` of the time: a threshold chosen on the
/// fitting questions alone.
pub fn threshold_for(samples: &Samples, confidence: &Confidence, precision: f64) -> f64 {
    let mut scored: Vec<(f64, bool, usize)> = samples
        .outcomes
        .iter()
        .map(|(o, n)| (confidence.of_features(&o.features), o.top1, *n))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut right, mut all) = (0usize, 0usize);
    let mut best = 1.0;
    let mut i = 0;
    while i < scored.len() {
        // All samples of one confidence go in together: a threshold cannot split them.
        let c = scored[i].0;
        while i < scored.len() && scored[i].0 == c {
            right += usize::from(scored[i].1) * scored[i].2;
            all += scored[i].2;
            i += 1;
        }
        if right as f64 >= precision * all as f64 {
            best = c;
        }
    }
    best
}

const K: usize = FEATURES + 1;

/// Weighted logistic regression on the evidence by Newton's method (with a little ridge,
/// which keeps a step finite where a feature separates perfectly); the weights are rounded
/// to three decimals, so that the printed model is the model.
fn logistic(samples: &Samples) -> [f32; K] {
    let xs: Vec<([f64; K], f64, f64)> = samples
        .outcomes
        .iter()
        .map(|(o, n)| {
            let mut x = [1.0; K];
            for (xi, f) in x[1..].iter_mut().zip(o.features) {
                *xi = f64::from(f);
            }
            (x, f64::from(u8::from(o.top1)), *n as f64)
        })
        .collect();
    let mut w = [0.0f64; K];
    for _ in 0..100 {
        let mut g = [0.0f64; K];
        let mut h = [[0.0f64; K]; K];
        for (x, y, n) in &xs {
            let z: f64 = (0..K).map(|i| w[i] * x[i]).sum();
            let p = 1.0 / (1.0 + (-z).exp());
            for i in 0..K {
                g[i] += n * (p - y) * x[i];
                for j in 0..K {
                    h[i][j] += n * p * (1.0 - p) * x[i] * x[j];
                }
            }
        }
        for i in 0..K {
            h[i][i] += 1e-3;
            g[i] += 1e-3 * w[i];
        }
        let Some(step) = solve(h, g) else { break };
        for i in 0..K {
            w[i] -= step[i];
        }
        if step.iter().all(|s| s.abs() < 1e-9) {
            break;
        }
    }
    w.map(|v| ((v * 1000.0).round() / 1000.0) as f32)
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting; `None` when singular.
fn solve(mut a: [[f64; K]; K], mut b: [f64; K]) -> Option<[f64; K]> {
    for c in 0..K {
        let p = (c..K).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[p][c].abs() < 1e-12 {
            return None;
        }
        a.swap(c, p);
        b.swap(c, p);
        for r in c + 1..K {
            let f = a[r][c] / a[c][c];
            let pivot = a[c];
            for (x, p) in a[r][c..].iter_mut().zip(&pivot[c..]) {
                *x -= f * p;
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = [0.0; K];
    for r in (0..K).rev() {
        let s: f64 = (r + 1..K).map(|k| a[r][k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    Some(x)
}

/// Figures of one threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub threshold: f64,
    /// Right answers among the automatic ones (one to an out-of-scope question is wrong).
    pub precision: f64,
    /// Share of all questions answered automatically.
    pub coverage: f64,
    /// Share of the in-scope questions answered automatically and right.
    pub in_scope_right: f64,
    /// Share of the out-of-scope questions not answered automatically (none: a closed set).
    pub oos_recall: Option<f64>,
}

/// Accuracy and the threshold table of one system on the test questions.
#[derive(Clone, Debug)]
pub struct Report {
    pub name: String,
    pub questions: usize,
    pub out_of_scope: usize,
    /// Top-1 and top-3 of the in-scope questions.
    pub top1: f64,
    pub top3: f64,
    /// Top-1 on the fitting questions, which weights and settings are chosen by.
    pub calibration_top1: f64,
    pub rows: Vec<Row>,
    /// The largest coverage at which precision is still ≥ 98 % on the test questions (an
    /// upper bound: the threshold is picked with hindsight).
    pub best_coverage_at_98: f64,
    /// The most frequent mistakes: (expected, answered, count); `-` is out of scope.
    pub confusions: Vec<(String, String, usize)>,
    /// The wrong answers given with the highest confidence: (confidence, question,
    /// expected, answered).
    pub surest_mistakes: Vec<(f64, String, String, String)>,
}

pub const THRESHOLDS: [f64; 8] = [0.5, 0.8, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99];

/// The outcomes of the fitting and the test questions of a split on an index of its
/// articles.
pub fn outcomes(split: &Split, mode: Mode) -> Result<(Vec<Outcome>, Vec<Outcome>), EvalError> {
    let index = FaqIndex::build(
        &split.articles,
        None,
        mode,
        Confidence::margin_only(Calibration { points: vec![] }),
    )
    .map_err(|e| EvalError::Index(e.to_string()))?;
    Ok((
        run(&index, "en", &split.calibrate),
        run(&index, "en", &split.test),
    ))
}

/// Measures `confidence` on the test outcomes; `fitted` are the outcomes it was fitted on.
pub fn report(
    name: &str,
    fitted: &[Outcome],
    test: &[Outcome],
    confidence: &Confidence,
    thresholds: &[f64],
) -> Report {
    let in_scope = |o: &&Outcome| !o.out_of_scope;
    let n = test.len().max(1) as f64;
    let n_in = test.iter().filter(in_scope).count().max(1) as f64;
    let n_oos = test.iter().filter(|o| o.out_of_scope).count();
    let conf = |o: &Outcome| confidence.of_features(&o.features);
    let rows = thresholds
        .iter()
        .map(|&t| {
            let answered: Vec<&Outcome> = test.iter().filter(|o| conf(o) >= t).collect();
            let right = answered.iter().filter(|o| o.top1).count();
            let oos_answered = answered.iter().filter(|o| o.out_of_scope).count();
            Row {
                threshold: t,
                precision: if answered.is_empty() {
                    1.0
                } else {
                    right as f64 / answered.len() as f64
                },
                coverage: answered.len() as f64 / n,
                in_scope_right: right as f64 / n_in,
                oos_recall: (n_oos > 0).then(|| 1.0 - oos_answered as f64 / n_oos as f64),
            }
        })
        .collect();
    let mut by_score: Vec<&Outcome> = test.iter().collect();
    by_score.sort_by(|a, b| {
        confidence
            .score(&b.features)
            .total_cmp(&confidence.score(&a.features))
    });
    let (mut right, mut best) = (0usize, 0usize);
    for (k, o) in by_score.iter().enumerate() {
        right += usize::from(o.top1);
        if right as f64 >= 0.98 * (k + 1) as f64 {
            best = k + 1;
        }
    }
    let mut confusions: BTreeMap<(String, String), usize> = BTreeMap::new();
    for o in test
        .iter()
        .filter(|o| !o.top1 && (!o.out_of_scope || conf(o) >= 0.5))
    {
        let expected = if o.out_of_scope { "-" } else { &o.expected };
        *confusions
            .entry((expected.to_owned(), o.got.clone()))
            .or_default() += 1;
    }
    let mut confusions: Vec<(String, String, usize)> = confusions
        .into_iter()
        .map(|((a, b), n)| (a, b, n))
        .collect();
    confusions.sort_by_key(|c| std::cmp::Reverse(c.2));
    confusions.truncate(8);
    let fitted_in: Vec<&Outcome> = fitted.iter().filter(in_scope).collect();
    let surest_mistakes = by_score
        .iter()
        .filter(|o| !o.top1)
        .take(6)
        .map(|o| {
            let expected = if o.out_of_scope { "-" } else { &o.expected };
            (
                conf(o),
                o.question.clone(),
                expected.to_owned(),
                o.got.clone(),
            )
        })
        .collect();
    Report {
        surest_mistakes,
        confusions,
        name: name.to_owned(),
        questions: test.len(),
        out_of_scope: n_oos,
        top1: test.iter().filter(|o| o.top1).count() as f64 / n_in,
        calibration_top1: fitted_in.iter().filter(|o| o.top1).count() as f64
            / fitted_in.len().max(1) as f64,
        top3: test.iter().filter(|o| o.top3).count() as f64 / n_in,
        rows,
        best_coverage_at_98: best as f64 / n,
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}: {} test questions ({} out of scope), in-scope top-1 {:.3}, top-3 {:.3}, best coverage at ≥98% precision {:.1}% (fitting questions: top-1 {:.3})",
            self.name,
            self.questions,
            self.out_of_scope,
            self.top1,
            self.top3,
            self.best_coverage_at_98 * 100.0,
            self.calibration_top1
        )?;
        let open = self.out_of_scope > 0;
        if open {
            writeln!(
                f,
                "| confidence ≥ | precision | answered automatically | in-scope answered right | out-of-scope not answered |"
            )?;
            writeln!(f, "|---:|---:|---:|---:|---:|")?;
        } else {
            writeln!(
                f,
                "| confidence ≥ | precision | answered automatically | to a person |"
            )?;
            writeln!(f, "|---:|---:|---:|---:|")?;
        }
        for r in &self.rows {
            match r.oos_recall {
                Some(recall) if open => writeln!(
                    f,
                    "| {:.2} | {:.1}% | {:.1}% | {:.1}% | {:.1}% |",
                    r.threshold,
                    r.precision * 100.0,
                    r.coverage * 100.0,
                    r.in_scope_right * 100.0,
                    recall * 100.0
                )?,
                _ => writeln!(
                    f,
                    "| {:.2} | {:.1}% | {:.1}% | {:.1}% |",
                    r.threshold,
                    r.precision * 100.0,
                    r.coverage * 100.0,
                    (1.0 - r.coverage) * 100.0
                )?,
            }
        }
        for (a, b, n) in &self.confusions {
            writeln!(f, "  {n} × {a} answered as {b}")?;
        }
        writeln!(f, "surest mistakes:")?;
        for (c, q, a, b) in &self.surest_mistakes {
            writeln!(f, "  {c:.3} \"{q}\" ({a}) answered as {b}")?;
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
