//! Text analysis for the FAQ index: German and English word analyzers with stemming and
//! umlaut folding, a character n-gram analyzer that lets compounds meet their parts
//! ("Passwortzurücksetzung" ~ "Passwort zurücksetzen"), and the plain analyzer of the
//! baseline.

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    TextAnalyzer, Token, TokenStream, Tokenizer,
};

pub const GERMAN: &str = "faq_de";
pub const ENGLISH: &str = "faq_en";
pub const GRAMS: &str = "faq_grams";
pub const PLAIN: &str = "faq_plain";
/// Pairs of neighbouring analyzed words, already joined (`cancel_order`).
pub const PAIRS: &str = "faq_pairs";

/// The analyzer registered under each name.
pub fn analyzers() -> Vec<(&'static str, TextAnalyzer)> {
    let words = |lang| {
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .filter(Stemmer::new(lang))
            .filter(AsciiFoldingFilter)
            .build()
    };
    vec![
        (GERMAN, words(Language::German)),
        (ENGLISH, words(Language::English)),
        (GRAMS, TextAnalyzer::builder(GramTokenizer).build()),
        (
            PAIRS,
            TextAnalyzer::builder(tantivy::tokenizer::WhitespaceTokenizer::default()).build(),
        ),
        (
            PLAIN,
            TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(LowerCaser)
                .build(),
        ),
    ]
}

/// The analyzer for a ticket language; other languages fall back to English.
pub fn for_language(language: &str) -> &'static str {
    if language == "de" {
        GERMAN
    } else {
        ENGLISH
    }
}

/// Character 4-grams of each word, lower-cased and folded (`ä` → `a`, `ß` → `ss`), with `#`
/// marking the word's ends so that whole short words still count.
#[derive(Clone, Default)]
pub struct GramTokenizer;

pub struct GramStream {
    tokens: Vec<Token>,
    next: usize,
    empty: Token,
}

const N: usize = 4;

impl Tokenizer for GramTokenizer {
    type TokenStream<'a> = GramStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> GramStream {
        let mut tokens = Vec::new();
        let words = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty());
        for (position, word) in words.enumerate() {
            let mut folded = String::with_capacity(word.len() + 2);
            folded.push('#');
            for c in word.chars().flat_map(char::to_lowercase) {
                match c {
                    'ä' | 'à' | 'á' | 'â' => folded.push('a'),
                    'ö' | 'ó' | 'ò' | 'ô' => folded.push('o'),
                    'ü' | 'ú' | 'ù' | 'û' => folded.push('u'),
                    'é' | 'è' | 'ê' => folded.push('e'),
                    'ß' => folded.push_str("ss"),
                    c => folded.push(c),
                }
            }
            folded.push('#');
            let chars: Vec<char> = folded.chars().collect();
            if chars.len() <= N {
                tokens.push(token(folded, position));
            } else {
                for w in chars.windows(N) {
                    tokens.push(token(w.iter().collect(), position));
                }
            }
        }
        GramStream {
            tokens,
            next: 0,
            empty: Token::default(),
        }
    }
}

fn token(text: String, position: usize) -> Token {
    Token {
        offset_from: 0,
        offset_to: 0,
        position,
        text,
        position_length: 1,
    }
}

impl TokenStream for GramStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        self.tokens
            .get(self.next.wrapping_sub(1))
            .unwrap_or(&self.empty)
    }

    fn token_mut(&mut self) -> &mut Token {
        match self.tokens.get_mut(self.next.wrapping_sub(1)) {
            Some(t) => t,
            None => &mut self.empty,
        }
    }
}

/// Neighbouring content-word pairs of each line of a text, as analyzed by `analyzer`,
/// joined by `_` and separated by spaces: what the pairs field indexes and a query looks up.
/// Function words are left out first, so that "check my invoice" and "check the invoice"
/// both make `check_invoic` — the pair that tells it from "get an invoice".
pub fn pairs(analyzer: &mut TextAnalyzer, text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let content: Vec<&str> = line
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty() && !is_function_word(w))
            .collect();
        let words = terms(analyzer, &content.join(" "));
        for w in words.windows(2) {
            out.push_str(&w[0]);
            out.push('_');
            out.push_str(&w[1]);
            out.push(' ');
        }
    }
    out
}

/// Articles, pronouns, prepositions, auxiliaries and question words of English and German:
/// they join any two requests alike, so a pair with one of them separates nothing.
const FUNCTION_WORDS: &[&str] = &[
    "a", "an", "the", "my", "your", "our", "me", "i", "you", "we", "it", "this", "that", "these",
    "those", "to", "of", "for", "from", "in", "on", "at", "with", "by", "and", "or", "is", "are",
    "be", "am", "do", "does", "can", "could", "would", "should", "will", "how", "what", "where",
    "when", "please", "some", "ich", "du", "sie", "wir", "es", "mein", "meine", "meinen", "meinem",
    "meiner", "mir", "mich", "ihr", "ihre", "der", "die", "das", "den", "dem", "des", "ein",
    "eine", "einen", "einem", "einer", "ist", "sind", "bin", "zu", "und", "oder", "wie", "was",
    "wo", "wann", "bitte", "kann", "können", "könnte", "mit", "von", "für", "auf", "im", "in",
    "am", "an", "bei", "aus", "nach", "über", "um", "vom", "zum", "zur", "beim", "ins", "dass",
    "uns", "unser", "unsere", "ihnen", "habe", "haben", "wird", "werden", "ihn", "er", "sich",
];

pub fn is_function_word(word: &str) -> bool {
    let lower = word.to_lowercase();
    FUNCTION_WORDS.contains(&lower.as_str())
}

/// The terms an analyzer makes of a text.
pub fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyze(name: &str, text: &str) -> Vec<String> {
        let mut a = analyzers().into_iter().find(|(n, _)| *n == name).unwrap().1;
        terms(&mut a, text)
    }

    #[test]
    fn german_words_are_stemmed_and_folded() {
        assert_eq!(
            analyze(GERMAN, "Passwörter zurücksetzen"),
            analyze(GERMAN, "passwort Zurücksetzen")
        );
        assert_eq!(analyze(GERMAN, "Straße"), analyze(GERMAN, "strasse"));
    }

    #[test]
    fn compounds_share_grams_with_their_parts() {
        let compound: std::collections::HashSet<String> = analyze(GRAMS, "Passwortzurücksetzung")
            .into_iter()
            .collect();
        let parts = analyze(GRAMS, "Passwort zurücksetzen");
        let shared = parts.iter().filter(|g| compound.contains(*g)).count();
        assert!(
            shared * 10 >= parts.len() * 7,
            "{shared} of {}",
            parts.len()
        );
        let other = analyze(GRAMS, "Druckertreiber installieren");
        let unrelated = other.iter().filter(|g| compound.contains(*g)).count();
        assert!(
            unrelated * 10 < other.len(),
            "{unrelated} of {}",
            other.len()
        );
    }
}
