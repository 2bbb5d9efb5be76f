//! The tantivy index of FAQ articles and its search.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, STRING,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{doc, Index, IndexReader, ReloadPolicy, TantivyDocument, Term};

use super::analyzers::{self, is_function_word, pairs, terms, GRAMS, PAIRS, PLAIN};
use super::vectors::{self, cosine, PieceRarity};
use super::{Article, FaqError};

/// Which search to run: ours, or the plain BM25 baseline (one field, lower-cased words, no
/// stemming, no n-grams) that the evaluation reports beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Full,
    Plain,
}

impl Mode {
    /// The analyzer of single words in `lang` (what queries and articles are made of).
    fn word_analyzer(self, lang: &str) -> &'static str {
        match self {
            Mode::Full => analyzers::for_language(lang),
            Mode::Plain => PLAIN,
        }
    }
}

/// One search result.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub article: String,
    pub category: String,
    pub title: String,
    pub score: f32,
    /// How often an answer at this confidence was right on labelled data, in [0, 1]; only
    /// the first hit has one (the others are the alternatives it was measured against).
    pub confidence: f64,
    /// What the confidence of the first hit was made of (the others: none).
    pub evidence: Option<Evidence>,
    /// The score relative to the best hit's (1 for the best).
    pub relative_score: f32,
}

/// The evidence that the best article answers the question, beyond being the best: how
/// far it is ahead of the second, and how much of what the question names it covers.
#[derive(Clone, Debug, PartialEq)]
pub struct Evidence {
    /// `(s1 - s2) / s1` of the two best scores (1 for a single hit).
    pub margin: f32,
    /// The share of the question's content words, each weighed by how rare it is among
    /// the language's articles (a word no article has weighs most), that the article has.
    pub coverage: f32,
    /// The same share for the second article (0 without one): a question both cover
    /// alike is not settled by the margin alone.
    pub rival_coverage: f32,
    /// How rare the rarest content word the article lacks is, against a word no article
    /// has (1) — 0 when it lacks none.
    pub rarest_missing: f32,
    /// The largest share of one of the article's questions (or its title) that the
    /// question says, weighed by rarity: "great" shares one word with "great talking to
    /// you, bye", and says little of it.
    pub echo: f32,
    /// How many content words the question has: one word is thin evidence.
    pub content_words: usize,
    /// No other article matched at all (the margin is 1 by default, not by distance).
    pub alone: bool,
    /// How near the question's meaning is to the nearest of the article's questions (or
    /// its title): the cosine of their word-piece vectors ([`super::vectors`]). Shared
    /// words with another need ("credit limit" against "credit score") stand further apart
    /// here than in the words.
    pub likeness: f32,
    /// The same for the second article (0 without one).
    pub rival_likeness: f32,
    /// The question's words the article never mentions, rarest first (at most three).
    pub missing: Vec<String>,
}

/// How many features the confidence weighs (after the bias).
pub const FEATURES: usize = 10;

impl Evidence {
    /// Margin, coverage, coverage ahead of the second article, rarest missing word, echo,
    /// the question's length (content words, up to six, as a share of six), whether no
    /// other article matched at all, margin times coverage, likeness, and likeness ahead of
    /// the second article.
    pub fn features(&self) -> [f32; FEATURES] {
        [
            self.margin,
            self.coverage,
            self.coverage - self.rival_coverage,
            self.rarest_missing,
            self.echo,
            self.content_words.min(6) as f32 / 6.0,
            f32::from(u8::from(self.alone)),
            self.margin * self.coverage,
            self.likeness,
            self.likeness - self.rival_likeness,
        ]
    }
}

/// The confidence of the best article: a logistic score of its [`Evidence`], mapped to the
/// precision measured at that score on labelled questions that include questions no
/// article answers. The margin alone says "this is the best of these"; the coverage says
/// "and it speaks of what was asked" — a question naming a program no article mentions
/// has a wide margin when one article shares its other words, and a low coverage.
#[derive(Clone, Debug, PartialEq)]
pub struct Confidence {
    /// Bias, then one weight per [`Evidence::features`].
    pub weights: [f32; FEATURES + 1],
    pub calibration: Calibration,
}

impl Confidence {
    /// The margin alone, as the plain baseline is measured.
    pub fn margin_only(calibration: Calibration) -> Confidence {
        let mut weights = [0.0; FEATURES + 1];
        weights[1] = 1.0;
        Confidence {
            weights,
            calibration,
        }
    }

    pub fn score(&self, features: &[f32; FEATURES]) -> f32 {
        self.weights[0]
            + features
                .iter()
                .zip(&self.weights[1..])
                .map(|(x, w)| x * w)
                .sum::<f32>()
    }

    /// The confidence of evidence given as its features.
    pub fn of_features(&self, features: &[f32; FEATURES]) -> f64 {
        self.calibration.confidence(self.score(features))
    }

    pub fn of(&self, e: &Evidence) -> f64 {
        self.of_features(&e.features())
    }
}

/// Maps a score of the evidence to the precision measured at that score on labelled
/// questions (isotonic: a higher score is never less sure).
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    /// (score, precision), scores ascending, precisions non-decreasing.
    pub points: Vec<(f32, f64)>,
}

impl Calibration {
    /// Fits the map from (score, whether the first hit was right) pairs: sorts by score,
    /// pools adjacent violators, and keeps one point per block.
    pub fn fit(mut samples: Vec<(f32, bool)>) -> Calibration {
        samples.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Blocks of (sum of correct, count, last margin).
        let mut blocks: Vec<(f64, f64, f32)> = Vec::new();
        for (m, ok) in samples {
            blocks.push((f64::from(u8::from(ok)), 1.0, m));
            while blocks.len() > 1 {
                let n = blocks.len();
                let (a, b) = (blocks[n - 2], blocks[n - 1]);
                if a.0 / a.1 <= b.0 / b.1 {
                    break;
                }
                blocks.truncate(n - 2);
                blocks.push((a.0 + b.0, a.1 + b.1, b.2));
            }
        }
        let mut points: Vec<(f32, f64)> = Vec::new();
        for (s, n, m) in blocks {
            match points.last_mut() {
                // Neighbours with the same precision are one step: keep its upper end.
                Some(last) if (last.1 - s / n).abs() < 1e-9 => last.0 = m,
                _ => points.push((m, s / n)),
            }
        }
        Calibration { points }
    }

    /// The precision for a score: the value of the first block reaching it.
    pub fn confidence(&self, margin: f32) -> f64 {
        match self.points.iter().find(|(m, _)| margin <= *m) {
            Some((_, p)) => *p,
            None => self.points.last().map_or(0.0, |(_, p)| *p),
        }
    }
}

struct Fields {
    id: Field,
    /// Per language (de, en): asked (title and questions), keywords, body.
    words: HashMap<&'static str, [Field; 3]>,
    /// Per language: character n-grams of title, questions and keywords.
    grams: HashMap<&'static str, Field>,
    /// Per language: neighbouring word pairs of title and questions.
    pairs: HashMap<&'static str, Field>,
    /// Per language: everything as lower-cased words, for the plain BM25 baseline.
    plain: HashMap<&'static str, Field>,
}

/// The words of the articles, for the coverage of the evidence: per language in how many
/// articles each analyzed word stands (anywhere in it), and each article's words.
struct Vocabulary {
    df: HashMap<&'static str, HashMap<String, u32>>,
    articles: HashMap<&'static str, u32>,
    words: Vec<HashSet<String>>,
    /// Per article, the content terms of its title and of each question (ordered, so that
    /// sums over them come out the same in every run).
    asked: Vec<Vec<std::collections::BTreeSet<String>>>,
    /// Per language, how rare each word piece is among its articles (title and questions).
    rarity: HashMap<&'static str, PieceRarity>,
    /// Per article, the unit vectors of its title and of each question.
    meant: Vec<Vec<Vec<f32>>>,
    /// Per language, the mean vector of its articles' titles and questions, taken from
    /// every vector before it is compared: what all texts of a language share says nothing
    /// about which one a question means (German text in a model made for English shares a
    /// lot).
    centre: HashMap<&'static str, Vec<f32>>,
}

/// The language whose fields an article or a query uses: German, or English for anything
/// else.
fn index_language(language: &str) -> &'static str {
    if language == "de" {
        "de"
    } else {
        "en"
    }
}

/// The analyzed terms of a text's content words (no function words).
fn content_terms(analyzer: &mut TextAnalyzer, text: &str) -> std::collections::BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !is_function_word(w))
        .flat_map(|w| terms(analyzer, w))
        .collect()
}

impl Vocabulary {
    /// BM25's inverse document frequency: a word no article has weighs most.
    fn idf(&self, lang: &str, term: &str) -> f32 {
        let n = self.articles.get(lang).copied().unwrap_or(0) as f32;
        let df = self
            .df
            .get(lang)
            .and_then(|d| d.get(term))
            .copied()
            .unwrap_or(0) as f32;
        vectors::bm25_idf(n, df)
    }

    /// The share of the query's content words (given as surface word and its analyzed
    /// terms), weighed by rarity, that article `ord` has.
    fn coverage(&self, lang: &str, ord: usize, words: &[(&str, Vec<String>)]) -> f32 {
        let has = &self.words[ord];
        let (mut total, mut covered) = (0.0f32, 0.0f32);
        let mut seen = HashSet::new();
        for t in words.iter().flat_map(|(_, ts)| ts) {
            if seen.insert(t.as_str()) {
                let w = self.idf(lang, t);
                total += w;
                if has.contains(t) {
                    covered += w;
                }
            }
        }
        if total > 0.0 {
            covered / total
        } else {
            1.0
        }
    }

    /// How much of one of the article's questions (or its title) the query says: the best
    /// share, weighed by rarity, of a question's content terms that the query has.
    fn echo(&self, lang: &str, ord: usize, words: &[(&str, Vec<String>)]) -> f32 {
        let query: HashSet<&str> = words
            .iter()
            .flat_map(|(_, ts)| ts.iter().map(String::as_str))
            .collect();
        self.asked[ord]
            .iter()
            .map(|q| {
                let (mut total, mut said) = (0.0f32, 0.0f32);
                for t in q {
                    let w = self.idf(lang, t);
                    total += w;
                    if query.contains(t.as_str()) {
                        said += w;
                    }
                }
                if total > 0.0 {
                    said / total
                } else {
                    0.0
                }
            })
            .fold(0.0, f32::max)
    }

    /// The unit vector of a text's word pieces, each weighed by its rarity in `lang`.
    fn embed(&self, lang: &str, pieces: &[u32]) -> Vec<f32> {
        let rarity = self.rarity.get(lang);
        vectors::shipped().embed(pieces, |p| rarity.map_or(1.0, |r| r.weight(p)))
    }

    /// The meaning of a query: its vector less the language's centre.
    fn meaning(&self, lang: &str, text: &str) -> Vec<f32> {
        let v = self.embed(lang, &vectors::shipped().pieces(text));
        match self.centre.get(lang) {
            Some(c) => vectors::off_centre(&v, c),
            None => v,
        }
    }

    /// How near a meaning is to the nearest of article `ord`'s title and questions.
    fn likeness(&self, ord: usize, meaning: &[f32]) -> f32 {
        self.meant[ord]
            .iter()
            .map(|m| cosine(m, meaning))
            .fold(0.0, f32::max)
    }

    /// The evidence for article `ord`, with `rival` the second-best.
    fn evidence(
        &self,
        lang: &str,
        ord: usize,
        rival: Option<usize>,
        words: &[(&str, Vec<String>)],
        margin: f32,
        meaning: &[f32],
    ) -> Evidence {
        let has = &self.words[ord];
        let mut missing: Vec<(f32, &str)> = Vec::new();
        for (surface, ts) in words {
            if let Some(w) = ts
                .iter()
                .filter(|t| !has.contains(*t))
                .map(|t| self.idf(lang, t))
                .reduce(f32::max)
            {
                if !missing.iter().any(|(_, m)| m.eq_ignore_ascii_case(surface)) {
                    missing.push((w, surface));
                }
            }
        }
        missing.sort_by(|a, b| b.0.total_cmp(&a.0));
        let unseen = self.idf(lang, "");
        Evidence {
            margin,
            coverage: self.coverage(lang, ord, words),
            rival_coverage: rival.map_or(0.0, |r| self.coverage(lang, r, words)),
            rarest_missing: missing.first().map_or(0.0, |(w, _)| {
                if unseen > 0.0 {
                    w / unseen
                } else {
                    0.0
                }
            }),
            echo: self.echo(lang, ord, words),
            content_words: words.len(),
            alone: rival.is_none(),
            likeness: self.likeness(ord, meaning),
            rival_likeness: rival.map_or(0.0, |r| self.likeness(r, meaning)),
            missing: missing.iter().take(3).map(|(_, m)| m.to_string()).collect(),
        }
    }
}

/// Field weights (asked, keywords, body): the title and the questions say what an article
/// answers, the body says it at length in words of its own — it is searched only for the
/// words that no title, question or keyword has, because its long posting lists would
/// otherwise cost more than all the rest and change little. Word pairs ("cancel order"
/// against "change order") separate articles that share their words; character n-grams
/// catch compounds and typos. Chosen on the calibration half of the Bitext evaluation,
/// never on its test half (README).
const WEIGHTS: [f32; 3] = [2.0, 1.0, 0.1];
const GRAM_WEIGHT: f32 = 0.25;
const PAIR_WEIGHT: f32 = 0.5;

/// The searchable FAQ: one tantivy index over all articles.
pub struct FaqIndex {
    reader: IndexReader,
    fields: Fields,
    analyzers: HashMap<&'static str, TextAnalyzer>,
    confidence: Confidence,
    vocabulary: Vocabulary,
    mode: Mode,
    articles: Vec<Article>,
    by_id: HashMap<String, usize>,
}

fn text_field(sb: &mut tantivy::schema::SchemaBuilder, name: &str, analyzer: &str) -> Field {
    sb.add_text_field(
        name,
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(analyzer)
                .set_index_option(IndexRecordOption::WithFreqs),
        ),
    )
}

fn index_err(e: impl std::fmt::Display) -> FaqError {
    FaqError {
        file: "faq index".into(),
        line: 0,
        message: e.to_string(),
    }
}

impl FaqIndex {
    /// Builds the index over `articles`, on disk in `dir` (replacing what is there) or in
    /// memory.
    pub fn build(
        articles: &[Article],
        dir: Option<&Path>,
        mode: Mode,
        confidence: Confidence,
    ) -> Result<FaqIndex, FaqError> {
        let mut sb = Schema::builder();
        let id = sb.add_text_field("id", STRING);
        // The article's position in `articles`: read from a fast field instead of the
        // compressed document store, which would cost more than the search itself.
        let ord_field = sb.add_u64_field("ord", FAST);
        let mut words = HashMap::new();
        let mut pair_fields = HashMap::new();
        let mut gram_fields = HashMap::new();
        let mut plain_fields = HashMap::new();
        for (lang, analyzer) in [("de", analyzers::GERMAN), ("en", analyzers::ENGLISH)] {
            let f = ["asked", "keywords", "body"]
                .map(|part| text_field(&mut sb, &format!("{part}_{lang}"), analyzer));
            words.insert(lang, f);
            pair_fields.insert(lang, text_field(&mut sb, &format!("pairs_{lang}"), PAIRS));
            gram_fields.insert(lang, text_field(&mut sb, &format!("grams_{lang}"), GRAMS));
            plain_fields.insert(lang, text_field(&mut sb, &format!("plain_{lang}"), PLAIN));
        }
        let schema = sb.build();
        let index = match dir {
            Some(d) => {
                if d.exists() {
                    std::fs::remove_dir_all(d).map_err(index_err)?;
                }
                std::fs::create_dir_all(d).map_err(index_err)?;
                Index::create_in_dir(d, schema).map_err(index_err)?
            }
            None => Index::create_in_ram(schema),
        };
        let mut analyzer_map = HashMap::new();
        for (name, a) in analyzers::analyzers() {
            index.tokenizers().register(name, a.clone());
            analyzer_map.insert(name, a);
        }
        let fields = Fields {
            id,
            words,
            grams: gram_fields,
            pairs: pair_fields,
            plain: plain_fields,
        };
        let mut writer: tantivy::IndexWriter<TantivyDocument> = index
            .writer_with_num_threads(1, 50_000_000)
            .map_err(index_err)?;
        let mut vocabulary = Vocabulary {
            df: HashMap::new(),
            articles: HashMap::new(),
            words: Vec::with_capacity(articles.len()),
            asked: Vec::with_capacity(articles.len()),
            rarity: HashMap::new(),
            meant: Vec::with_capacity(articles.len()),
            centre: HashMap::new(),
        };
        // Each title's and question's word pieces; their rarity over all articles of a
        // language; then each text's vector weighed by it, and the language's centre taken
        // from every vector.
        let table = vectors::shipped();
        let pieces: Vec<Vec<Vec<u32>>> = articles
            .iter()
            .map(|a| {
                std::iter::once(&a.title)
                    .chain(&a.questions)
                    .filter(|q| !q.trim().is_empty())
                    .map(|q| table.pieces(q))
                    .collect()
            })
            .collect();
        for (a, texts) in articles.iter().zip(&pieces) {
            (vocabulary.rarity.entry(index_language(&a.language)))
                .or_default()
                .add(texts.iter().flatten().copied());
        }
        let mut sums: HashMap<&'static str, (Vec<f32>, usize)> = HashMap::new();
        for (a, texts) in articles.iter().zip(&pieces) {
            let lang = index_language(&a.language);
            let meant: Vec<Vec<f32>> = texts.iter().map(|p| vocabulary.embed(lang, p)).collect();
            let (sum, n) = sums
                .entry(lang)
                .or_insert_with(|| (vec![0.0; table.dims()], 0));
            for m in &meant {
                sum.iter_mut().zip(m).for_each(|(s, x)| *s += x);
                *n += 1;
            }
            vocabulary.meant.push(meant);
        }
        for (lang, (sum, n)) in sums {
            vocabulary
                .centre
                .insert(lang, sum.iter().map(|s| s / n.max(1) as f32).collect());
        }
        for (meant, a) in vocabulary.meant.iter_mut().zip(articles) {
            let centre = &vocabulary.centre[index_language(&a.language)];
            for m in meant {
                *m = vectors::off_centre(m, centre);
            }
        }
        for (ord, a) in articles.iter().enumerate() {
            let lang = index_language(&a.language);
            let [fa, fk, fb] = fields.words[lang];
            let questions = a.questions.join("\n");
            let keywords = a.keywords.join(" ");
            let all = format!("{}\n{questions}\n{keywords}\n{}", a.title, a.body);
            let vocabulary_analyzer = mode.word_analyzer(lang);
            let own: HashSet<String> = terms(&mut analyzer_map[vocabulary_analyzer].clone(), &all)
                .into_iter()
                .collect();
            let df = vocabulary.df.entry(lang).or_default();
            for t in &own {
                *df.entry(t.clone()).or_default() += 1;
            }
            *vocabulary.articles.entry(lang).or_default() += 1;
            vocabulary.words.push(own);
            let mut analyzer = analyzer_map[vocabulary_analyzer].clone();
            vocabulary.asked.push(
                std::iter::once(&a.title)
                    .chain(&a.questions)
                    .map(|q| content_terms(&mut analyzer, q))
                    .filter(|t| !t.is_empty())
                    .collect(),
            );
            let mut analyzer = analyzer_map[analyzers::for_language(lang)].clone();
            let pair_text = pairs(&mut analyzer, &format!("{}\n{questions}", a.title));
            writer
                .add_document(doc!(
                    fields.id => a.id.as_str(),
                    ord_field => ord as u64,
                    fa => format!("{}\n{questions}", a.title),
                    fk => keywords.as_str(),
                    fb => a.body.as_str(),
                    fields.grams[lang] => format!("{}\n{questions}\n{keywords}", a.title),
                    fields.pairs[lang] => pair_text,
                    fields.plain[lang] => all,
                ))
                .map_err(index_err)?;
        }
        writer.commit().map_err(index_err)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(index_err)?;
        Ok(FaqIndex {
            reader,
            fields,
            analyzers: analyzer_map,
            confidence,
            vocabulary,
            mode,
            by_id: articles
                .iter()
                .enumerate()
                .map(|(i, a)| (a.id.clone(), i))
                .collect(),
            articles: articles.to_vec(),
        })
    }

    /// An empty index: no article matches anything.
    pub fn empty() -> FaqIndex {
        // Building over no articles cannot fail: there is nothing to write.
        FaqIndex::build(
            &[],
            None,
            Mode::Full,
            Confidence::margin_only(Calibration { points: Vec::new() }),
        )
        .expect("an empty in-memory index")
    }

    pub fn len(&self) -> usize {
        self.articles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.articles.is_empty()
    }

    pub fn article(&self, id: &str) -> Option<&Article> {
        self.by_id.get(id).map(|&i| &self.articles[i])
    }

    /// The best `limit` articles in `language` for a text; the first carries the confidence.
    pub fn search(&self, language: &str, text: &str, limit: usize) -> Vec<Hit> {
        let lang = index_language(language);
        // Only term queries on the language's own fields, all optional: the language needs
        // no filter clause, and tantivy can skip whole blocks of documents that cannot reach
        // the top (block-max WAND), which any other clause would prevent.
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let searcher = self.reader.searcher();
        // (field, terms, weight, whether the terms are known to be in the field) of every
        // part of the query.
        let mut parts: Vec<(Field, Vec<String>, f32, bool)> = Vec::new();
        let analyze = |name: &str, text: &str| {
            let mut a = self.analyzers[name].clone();
            terms(&mut a, text)
        };
        // The query's words, each with its analyzed terms: for the query, the unknown-word
        // check and the coverage of the evidence.
        let mut words_analyzer = self.analyzers[self.mode.word_analyzer(lang)].clone();
        let per_word: Vec<(&str, Vec<String>)> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| (w, terms(&mut words_analyzer, w)))
            .collect();
        match self.mode {
            Mode::Full => {
                let words: Vec<String> = per_word.iter().flat_map(|(_, t)| t.clone()).collect();
                let [asked, keywords, body] = self.fields.words[lang];
                let has = |field: Field, term: &str| {
                    searcher
                        .doc_freq(&Term::from_field_text(field, term))
                        .is_ok_and(|n| n > 0)
                };
                // Each word is looked up where it stands; the words no title, question or
                // keyword has are looked up in the answer text; those it lacks as well no
                // article has at all.
                let (mut in_asked, mut in_keywords, mut rest) =
                    (Vec::new(), Vec::new(), Vec::new());
                for t in &words {
                    let (a, k) = (has(asked, t), has(keywords, t));
                    if a {
                        in_asked.push(t.clone());
                    }
                    if k {
                        in_keywords.push(t.clone());
                    }
                    if !a && !k {
                        rest.push(t.clone());
                    }
                }
                let (in_body, nowhere): (Vec<String>, Vec<String>) =
                    rest.into_iter().partition(|t| has(body, t));
                let nowhere: HashSet<&str> = nowhere.iter().map(String::as_str).collect();
                parts.push((asked, in_asked, WEIGHTS[0], true));
                parts.push((keywords, in_keywords, WEIGHTS[1], true));
                parts.push((body, in_body, WEIGHTS[2], true));
                // Character n-grams only for the words no article has as a word: compounds
                // and misspellings. Known words are matched as words; their n-grams would
                // only add cost (long posting lists) and noise.
                let mut unknown = String::new();
                for (word, t) in &per_word {
                    if t.iter().all(|t| nowhere.contains(t.as_str())) {
                        unknown.push_str(word);
                        unknown.push(' ');
                    }
                }
                parts.push((
                    self.fields.grams[lang],
                    analyze(GRAMS, &unknown),
                    GRAM_WEIGHT,
                    false,
                ));
                let query_pairs = pairs(&mut words_analyzer, text);
                parts.push((
                    self.fields.pairs[lang],
                    analyze(PAIRS, &query_pairs),
                    PAIR_WEIGHT,
                    false,
                ));
            }
            Mode::Plain => parts.push((self.fields.plain[lang], analyze(PLAIN, text), 1.0, false)),
        }
        // A term no article has adds nothing to any score, but would still cost a weight and
        // a scorer: a ticket's text has many such words, and they are left out (the word
        // fields' terms were looked up above already).
        for (field, list, weight, known) in parts {
            let mut seen = HashSet::new();
            for t in list {
                if weight > 0.0 && seen.insert(t.clone()) {
                    let term = Term::from_field_text(field, &t);
                    if !known && !searcher.doc_freq(&term).is_ok_and(|n| n > 0) {
                        continue;
                    }
                    let q = TermQuery::new(term, IndexRecordOption::WithFreqs);
                    clauses.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(Box::new(q), weight)),
                    ));
                }
            }
        }
        if clauses.is_empty() {
            return Vec::new();
        }
        let query = BooleanQuery::new(clauses);
        let Ok(top) = searcher.search(&query, &TopDocs::with_limit(limit.max(2))) else {
            return Vec::new();
        };
        let margin = score_margin(top.first().map(|t| t.0), top.get(1).map(|t| t.0));
        let content: Vec<(&str, Vec<String>)> = per_word
            .into_iter()
            .filter(|(w, t)| !t.is_empty() && !is_function_word(w))
            .collect();
        let found: Vec<(f32, usize)> = top
            .into_iter()
            .filter_map(|(score, addr)| {
                let ord = searcher
                    .segment_reader(addr.segment_ord)
                    .fast_fields()
                    .u64("ord")
                    .ok()
                    .and_then(|c| c.first(addr.doc_id))?;
                ((ord as usize) < self.articles.len()).then_some((score, ord as usize))
            })
            .collect();
        let top = found
            .first()
            .map_or(1.0, |&(s, _)| s.max(f32::MIN_POSITIVE));
        let mut evidence = found.first().map(|&(_, ord)| {
            let rival = found.get(1).map(|&(_, o)| o);
            // The plain baseline is measured on its margin alone, without the cost of a
            // meaning it does not weigh.
            let meaning = match self.mode {
                Mode::Full => self.vocabulary.meaning(lang, text),
                Mode::Plain => Vec::new(),
            };
            self.vocabulary
                .evidence(lang, ord, rival, &content, margin, &meaning)
        });
        found
            .into_iter()
            .take(limit)
            .map(|(score, ord)| {
                let a = &self.articles[ord];
                let evidence = evidence.take();
                Hit {
                    article: a.id.clone(),
                    category: a.category.clone(),
                    title: a.title.clone(),
                    score,
                    confidence: evidence.as_ref().map_or(0.0, |e| self.confidence.of(e)),
                    evidence,
                    relative_score: score / top,
                }
            })
            .collect()
    }
}

/// `(s1 - s2) / s1` of the two best scores: 1 for a single hit, 0 for none.
fn score_margin(first: Option<f32>, second: Option<f32>) -> f32 {
    match (first, second) {
        (Some(_), None) => 1.0,
        (Some(s1), Some(s2)) if s1 > 0.0 => (s1 - s2) / s1,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(id: &str, lang: &str, title: &str, questions: &[&str], body: &str) -> Article {
        Article {
            id: id.into(),
            language: lang.into(),
            category: id.into(),
            title: title.into(),
            questions: questions.iter().map(|s| s.to_string()).collect(),
            keywords: vec![],
            body: body.into(),
        }
    }

    fn index() -> FaqIndex {
        FaqIndex::build(
            &[
                article(
                    "pw",
                    "de",
                    "Passwort zurücksetzen",
                    &["Ich habe mein Passwort vergessen"],
                    "Öffnen Sie das Self-Service-Portal.",
                ),
                article(
                    "vpn",
                    "de",
                    "VPN-Client herunterladen",
                    &["Wo bekomme ich den VPN-Client?"],
                    "Der Client liegt im Softwarecenter.",
                ),
                article(
                    "pw-en",
                    "en",
                    "Reset your password",
                    &["I forgot my password"],
                    "Open the self-service portal.",
                ),
            ],
            None,
            Mode::Full,
            Confidence::margin_only(Calibration {
                points: vec![(0.1, 0.5), (1.0, 0.99)],
            }),
        )
        .unwrap()
    }

    #[test]
    fn compounds_find_the_article_in_its_language() {
        let idx = index();
        let hits = idx.search("de", "Kennwort: Passwortzurücksetzung nötig", 3);
        assert_eq!(hits[0].article, "pw");
        assert!(hits.iter().all(|h| h.article != "pw-en"));
        let en = idx.search("en", "forgot password", 3);
        assert_eq!(en[0].article, "pw-en");
        assert_eq!(en.len(), 1);
        assert!(idx.search("de", "!!!", 3).is_empty());
    }

    #[test]
    fn a_paraphrase_is_nearer_in_meaning_than_a_question_on_another_need() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/faq");
        let idx = FaqIndex::build(
            &crate::faq::load_dir(&dir).unwrap(),
            None,
            Mode::Full,
            crate::faq::default_confidence(),
        )
        .unwrap();
        let likeness = |lang: &str, q: &str| {
            let hits = idx.search(lang, q, 3);
            let e = hits[0].evidence.clone().unwrap();
            (hits[0].article.clone(), e.likeness)
        };
        for (lang, paraphrase, other) in [
            (
                "de",
                "Kennwort vergessen, wie kann ich es neu setzen?",
                "In Teams-Besprechungen höre ich die anderen nicht",
            ),
            (
                "en",
                "I can't remember my password, how do I set a new one?",
                "I cannot hear the others in Teams meetings",
            ),
        ] {
            let (article, near) = likeness(lang, paraphrase);
            assert_eq!(article, format!("password-reset-{lang}"));
            let (_, far) = likeness(lang, other);
            // Taken off the language's centre, unrelated text is not alike by its language.
            assert!(near > far + 0.2, "{lang}: {near} vs {far}");
            assert!(far < 0.3, "{lang}: {far}");
        }
    }

    #[test]
    fn calibration_is_monotone_in_the_margin() {
        let c = Calibration::fit(vec![
            (0.05, false),
            (0.1, true),
            (0.12, false),
            (0.3, true),
            (0.4, false),
            (0.6, true),
            (0.8, true),
        ]);
        let mut last = 0.0;
        for m in [0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.9, 1.0] {
            let p = c.confidence(m);
            assert!(p >= last, "{m}: {p} < {last}");
            last = p;
        }
        assert_eq!(c.confidence(0.9), 1.0);
    }
}
