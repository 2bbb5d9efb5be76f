//! FAQ search latency on an index of 10,000 articles made of real phrasing (Bitext's
//! customer-support questions and answers, `../shared/data/faq-bitext`), with 4 threads
//! querying at once; the plain BM25 index of the same articles is measured in the same run
//! as the baseline. Also the time to build each index.
//!
//! `cargo bench --bench faq`

mod common;

use common::percentile;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use triage::faq::{default_confidence, eval, Article, FaqIndex, Mode};

const ARTICLES: usize = 10_000;

fn articles(split: &eval::Split) -> Vec<Article> {
    // Every article takes five questions of its intent, in a rotating window, so no two
    // articles are alike and all the words are real customers' words.
    let mut by_intent: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for q in split.calibrate.iter().chain(&split.test) {
        by_intent.entry(&q.article).or_default().push(&q.text);
    }
    let intents: Vec<(&&str, &Vec<&str>)> = by_intent.iter().collect();
    (0..ARTICLES)
        .map(|i| {
            let (intent, qs) = intents[i % intents.len()];
            let base = split.articles.iter().find(|a| a.id == **intent).unwrap();
            let k = i / intents.len();
            Article {
                id: format!("{intent}-{i}"),
                language: "en".into(),
                category: base.category.clone(),
                title: qs[k % qs.len()].to_owned(),
                questions: (1..=5)
                    .map(|j| qs[(k * 5 + j) % qs.len()].to_owned())
                    .collect(),
                keywords: Vec::new(),
                body: base.body.clone(),
            }
        })
        .collect()
}

fn measure(
    index: Arc<FaqIndex>,
    queries: Arc<Vec<String>>,
    budget: Duration,
    threads: usize,
) -> (Vec<Duration>, f64) {
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (index, queries) = (index.clone(), queries.clone());
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                let mut i = t;
                let begin = Instant::now();
                while begin.elapsed() < budget {
                    let q = &queries[i % queries.len()];
                    let t0 = Instant::now();
                    std::hint::black_box(index.search("en", q, 3));
                    lat.push(t0.elapsed());
                    i += threads;
                }
                lat
            })
        })
        .collect();
    let mut all: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let secs = start.elapsed().as_secs_f64();
    all.sort();
    let rate = all.len() as f64 / secs;
    (all, rate)
}

/// The way `triage serve` runs them: `clients` callers each with one query in flight, served
/// by a pool of one thread per core (as tokio's workers are); latency from submission to
/// answer, so it includes the wait for a free core but no operating-system time slicing
/// between more busy threads than cores.
fn measure_pool(
    index: Arc<FaqIndex>,
    queries: Arc<Vec<String>>,
    budget: Duration,
    clients: usize,
    cores: usize,
) -> (Vec<Duration>, f64) {
    type Job = (usize, std::sync::mpsc::Sender<()>);
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    let rx = Arc::new(std::sync::Mutex::new(rx));
    let workers: Vec<_> = (0..cores)
        .map(|_| {
            let (index, queries, rx) = (index.clone(), queries.clone(), rx.clone());
            std::thread::spawn(move || loop {
                let job = rx.lock().unwrap().recv();
                let Ok((i, done)) = job else { break };
                std::hint::black_box(index.search("en", &queries[i % queries.len()], 3));
                let _ = done.send(());
            })
        })
        .collect();
    let start = Instant::now();
    let callers: Vec<_> = (0..clients)
        .map(|t| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                let mut i = t;
                let begin = Instant::now();
                while begin.elapsed() < budget {
                    let (done_tx, done_rx) = std::sync::mpsc::channel();
                    let t0 = Instant::now();
                    tx.send((i, done_tx)).unwrap();
                    done_rx.recv().unwrap();
                    lat.push(t0.elapsed());
                    i += clients;
                }
                lat
            })
        })
        .collect();
    drop(tx);
    let mut all: Vec<Duration> = callers
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let secs = start.elapsed().as_secs_f64();
    for w in workers {
        w.join().unwrap();
    }
    all.sort();
    let rate = all.len() as f64 / secs;
    (all, rate)
}

fn main() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/faq-bitext/bitext_customer_support_gpt35_6480.csv");
    let split = match eval::bitext_split(&data) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skipped: {e}");
            return;
        }
    };
    let articles = articles(&split);
    let queries: Arc<Vec<String>> = Arc::new(split.test.iter().map(|q| q.text.clone()).collect());
    let dir = tempfile::tempdir().unwrap();
    let budget = Duration::from_secs(if std::env::args().any(|a| a == "--test") {
        1
    } else {
        5
    });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{} articles, {} distinct queries, {cores} cores",
        articles.len(),
        queries.len()
    );
    let mut results = Vec::new();
    for (name, mode) in [("triage", Mode::Full), ("plain BM25", Mode::Plain)] {
        let path = dir.path().join(name.replace(' ', "-"));
        let t0 = Instant::now();
        let index = FaqIndex::build(&articles, Some(&path), mode, default_confidence()).unwrap();
        let build = t0.elapsed();
        println!("{name:>10}: build {:.2} s", build.as_secs_f64());
        let index = Arc::new(index);
        for threads in [4, cores] {
            let (lat, rate) = measure(index.clone(), queries.clone(), budget, threads);
            let (p50, p99) = (percentile(&lat, 0.5), percentile(&lat, 0.99));
            println!(
                "{name:>10}, {threads} threads querying: {:>7.0} queries/s, p50 {:>6.0} µs, p99 {:>6.0} µs",
                rate,
                p50.as_secs_f64() * 1e6,
                p99.as_secs_f64() * 1e6
            );
            results.push((threads, p50, p99));
        }
        let (lat, rate) = measure_pool(index.clone(), queries.clone(), budget, 4, cores);
        println!(
            "{name:>10}, 4 callers, {cores} search threads: {:>7.0} queries/s, p50 {:>6.0} µs, p99 {:>6.0} µs",
            rate,
            percentile(&lat, 0.5).as_secs_f64() * 1e6,
            percentile(&lat, 0.99).as_secs_f64() * 1e6
        );
    }
    let half = results.len() / 2;
    for (ours, plain) in results[..half].iter().zip(&results[half..]) {
        println!(
            "triage / plain BM25 at {} threads: p50 {:.2}x, p99 {:.2}x",
            ours.0,
            ours.1.as_secs_f64() / plain.1.as_secs_f64(),
            ours.2.as_secs_f64() / plain.2.as_secs_f64()
        );
    }
}
