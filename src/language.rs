//! Language detection for ticket text, limited to the languages the rules files name.
//!
//! Two stages. First a count of function words ("und", "the", "les", …), which settles the
//! clear cases — nearly all tickets — in about a microsecond. Only when that count is thin or
//! close does whatlang's trigram model decide, restricted to the allowed languages; it is
//! accurate but costs some 40 µs a ticket, which would dominate classification. Only a prefix
//! of the text is looked at: the first paragraph decides the language, quoted history and
//! signatures only add noise.

use rustc_hash::FxHashMap;
use std::sync::Arc;

use whatlang::{Detector as Whatlang, Lang};

/// Bytes of subject and body that detection looks at.
const SAMPLE: usize = 400;

/// ISO 639-1 codes the rules may name, with whatlang's language for each.
const SUPPORTED: &[(&str, Lang)] = &[
    ("de", Lang::Deu),
    ("en", Lang::Eng),
    ("fr", Lang::Fra),
    ("es", Lang::Spa),
    ("it", Lang::Ita),
    ("pt", Lang::Por),
    ("nl", Lang::Nld),
    ("pl", Lang::Pol),
    ("cs", Lang::Ces),
    ("hu", Lang::Hun),
    ("tr", Lang::Tur),
];

/// Frequent short words of each language, chosen so that no word appears in two lists
/// ("in", "was", "will", "an" are left out for that reason).
const FUNCTION_WORDS: &[(&str, &[&str])] = &[
    (
        "de",
        &[
            "der", "die", "das", "und", "ist", "sind", "nicht", "ich", "wir", "sie", "mit", "für",
            "von", "den", "dem", "ein", "eine", "einen", "bitte", "auf", "auch", "wie", "kann",
            "können", "mein", "meine", "unser", "unsere", "habe", "haben", "wird", "werden", "zu",
            "im", "bei", "nach", "noch", "danke", "hallo", "sehr", "geehrte", "geehrtes", "ihre",
            "uns", "oder", "aber", "seit", "keine", "mehr", "wurde", "möchte", "sich", "es",
        ],
    ),
    (
        "en",
        &[
            "the", "and", "is", "are", "not", "i", "we", "you", "with", "for", "of", "this",
            "that", "it", "have", "has", "my", "our", "please", "can", "could", "would", "be",
            "to", "on", "at", "from", "thanks", "hello", "dear", "there", "your", "been", "any",
            "since", "but", "or", "no", "they", "which", "should", "what", "when",
        ],
    ),
    (
        "fr",
        &[
            "le", "la", "les", "et", "est", "sont", "pas", "je", "nous", "vous", "avec", "pour",
            "une", "des", "du", "ce", "cette", "mon", "notre", "merci", "bonjour", "votre", "sur",
            "dans", "mais", "ou", "qui", "que", "depuis",
        ],
    ),
    (
        "es",
        &[
            "el", "los", "las", "y", "está", "son", "yo", "nosotros", "usted", "con", "para",
            "una", "del", "este", "esta", "mi", "nuestro", "gracias", "hola", "su", "pero", "por",
            "desde", "como", "muy", "hay",
        ],
    ),
    (
        "it",
        &[
            "il",
            "lo",
            "gli",
            "è",
            "sono",
            "non",
            "io",
            "noi",
            "voi",
            "per",
            "della",
            "questo",
            "questa",
            "grazie",
            "ciao",
            "buongiorno",
            "nostro",
            "ma",
            "che",
            "anche",
        ],
    ),
    (
        "pt",
        &[
            "o", "os", "as", "é", "são", "não", "eu", "nós", "você", "com", "uma", "do", "da",
            "meu", "nosso", "obrigado", "olá", "mas", "muito",
        ],
    ),
    (
        "nl",
        &[
            "het", "een", "en", "zijn", "niet", "ik", "wij", "jullie", "met", "voor", "van", "dit",
            "mijn", "onze", "bedankt", "maar", "sinds", "graag", "bij",
        ],
    ),
];

/// The ISO 639-1 codes detection can tell apart.
pub fn supported_codes() -> impl Iterator<Item = &'static str> {
    SUPPORTED.iter().map(|(code, _)| *code)
}

/// Detects which of a fixed set of languages a text is written in.
#[derive(Debug, Clone)]
pub struct LanguageDetector {
    detector: Whatlang,
    codes: Vec<(Lang, Arc<str>)>,
    /// Function word → index into `codes`; empty when an allowed language has no word list,
    /// because then a count could not speak for every candidate.
    words: FxHashMap<&'static [u8], usize>,
    filter: WordFilter,
}

/// A language code no detector knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("language \"{0}\" cannot be detected")]
pub struct UnknownLanguage(pub String);

impl LanguageDetector {
    /// A detector for the given ISO 639-1 codes; the first unknown code is the error.
    pub fn new<'a>(codes: impl IntoIterator<Item = &'a str>) -> Result<Self, UnknownLanguage> {
        let mut pairs = Vec::new();
        for code in codes {
            let lang = SUPPORTED
                .iter()
                .find(|(c, _)| *c == code)
                .map(|(_, l)| *l)
                .ok_or_else(|| UnknownLanguage(code.to_owned()))?;
            pairs.push((lang, Arc::from(code)));
        }
        let mut words = FxHashMap::default();
        for (i, (_, code)) in pairs.iter().enumerate() {
            match FUNCTION_WORDS.iter().find(|(c, _)| *c == &**code) {
                Some((_, list)) => words.extend(list.iter().map(|w| (w.as_bytes(), i))),
                None => {
                    words.clear();
                    break;
                }
            }
        }
        let mut filter = WordFilter::default();
        for w in words.keys() {
            filter.insert(w);
        }
        Ok(LanguageDetector {
            detector: Whatlang::with_allowlist(pairs.iter().map(|(l, _)| *l).collect()),
            codes: pairs,
            words,
            filter,
        })
    }

    /// The codes this detector chooses from.
    pub fn codes(&self) -> impl Iterator<Item = &Arc<str>> {
        self.codes.iter().map(|(_, c)| c)
    }

    /// The language of subject and body, or `None` when the text is too short to tell.
    pub fn detect(&self, subject: &str, body: &str) -> Option<&Arc<str>> {
        if self.codes.len() == 1 {
            return self.codes.first().map(|(_, c)| c);
        }
        let body = prefix(body, SAMPLE.saturating_sub(subject.len()));
        let subject = prefix(subject, SAMPLE);
        if let Some(i) = self.by_function_words(&[subject, body]) {
            return Some(&self.codes[i].1);
        }
        let mut sample = String::with_capacity(subject.len() + body.len() + 1);
        sample.push_str(subject);
        sample.push('\n');
        sample.push_str(body);
        if sample.chars().filter(|c| c.is_alphabetic()).count() < 8 {
            return None;
        }
        let lang = self.detector.detect_lang(&sample)?;
        self.codes.iter().find(|(l, _)| *l == lang).map(|(_, c)| c)
    }

    /// The language with clearly the most function words: two and no other language's, or
    /// at least three and twice as many as any other. Stops reading once one language has
    /// five and the others none, which is usually within the first sentence.
    fn by_function_words(&self, texts: &[&str]) -> Option<usize> {
        if self.words.is_empty() {
            return None;
        }
        let n = self.codes.len().min(16);
        let mut counts = [0u32; 16];
        let mut buf = [0u8; MAX_FUNCTION_WORD];
        for text in texts {
            let bytes = text.as_bytes();
            let mut start = 0;
            // Splitting on ASCII non-letters keeps words with umlauts or accents whole,
            // because every byte of a multi-byte UTF-8 character is >= 0x80.
            for end in 0..=bytes.len() {
                if end < bytes.len() && (bytes[end] >= 0x80 || bytes[end].is_ascii_alphabetic()) {
                    continue;
                }
                let word = &bytes[start..end];
                start = end + 1;
                if word.is_empty()
                    || word.len() > MAX_FUNCTION_WORD
                    || !self.filter.may_contain(word)
                {
                    continue;
                }
                let lower = &mut buf[..word.len()];
                lower.copy_from_slice(word);
                lower.make_ascii_lowercase();
                if let Some(&i) = self.words.get(&*lower) {
                    let i = i.min(15);
                    counts[i] += 1;
                    if counts[i] >= 5 && counts[..n].iter().filter(|c| **c > 0).count() == 1 {
                        return Some(i);
                    }
                }
            }
        }
        let (best, &top) = counts[..n].iter().enumerate().max_by_key(|(_, c)| **c)?;
        let second = counts[..n]
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != best)
            .map(|(_, c)| *c)
            .max()
            .unwrap_or(0);
        let clear = (top >= 2 && second == 0) || (top >= 3 && top >= 2 * second);
        clear.then_some(best)
    }
}

/// A 1024-bit filter over (length, first letter, last letter) of the function words, so
/// that most other words are passed over without hashing.
#[derive(Debug, Clone, Default)]
struct WordFilter([u64; 16]);

impl WordFilter {
    fn slot(word: &[u8]) -> usize {
        let first = word[0].to_ascii_lowercase() as usize;
        let last = word[word.len() - 1].to_ascii_lowercase() as usize;
        (word.len() * 131 + first * 31 + last * 7) % 1024
    }

    fn insert(&mut self, word: &[u8]) {
        let s = Self::slot(word);
        self.0[s / 64] |= 1 << (s % 64);
    }

    fn may_contain(&self, word: &[u8]) -> bool {
        let s = Self::slot(word);
        self.0[s / 64] & (1 << (s % 64)) != 0
    }
}

/// Longest function word in bytes ("buongiorno"); longer words are not looked up.
const MAX_FUNCTION_WORD: usize = 10;

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    &s[..crate::model::floor_char_boundary(s, max)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn de_en() -> LanguageDetector {
        LanguageDetector::new(["de", "en"]).unwrap()
    }

    #[test]
    fn tells_german_from_english() {
        let d = de_en();
        assert_eq!(
            d.detect(
                "Passwort vergessen",
                "Ich kann mich seit heute Morgen nicht mehr anmelden."
            )
            .map(|c| &**c),
            Some("de")
        );
        assert_eq!(
            d.detect(
                "Forgot password",
                "I cannot log in since this morning, please help."
            )
            .map(|c| &**c),
            Some("en")
        );
    }

    #[test]
    fn too_little_text_is_undecided() {
        assert_eq!(de_en().detect("Hi", ""), None);
    }

    #[test]
    fn unknown_codes_are_refused() {
        assert_eq!(LanguageDetector::new(["de", "xx"]).unwrap_err().0, "xx");
    }

    #[test]
    fn function_word_lists_do_not_overlap() {
        let mut seen = std::collections::HashMap::new();
        for (code, words) in FUNCTION_WORDS {
            for w in *words {
                assert!(w.len() <= MAX_FUNCTION_WORD, "{w} is too long");
                assert_eq!(w.to_lowercase(), *w);
                if let Some(other) = seen.insert(*w, *code) {
                    panic!("\"{w}\" is listed for both {other} and {code}");
                }
            }
        }
    }

    #[test]
    fn close_calls_go_to_the_trigram_model() {
        let d = de_en();
        // One function word each: the count cannot decide, the model still answers.
        let sample = "Druckerpatrone the Tonerkassette und Papierstau";
        assert_eq!(d.by_function_words(&[sample]), None);
        assert!(d.detect(sample, "").is_some());
        // Clear German wins on the count alone.
        let sample = "Ich kann mich nicht anmelden und das ist dringend";
        assert_eq!(d.by_function_words(&["Ich kann mich", sample]), Some(0));
    }

    #[test]
    fn a_language_without_word_list_disables_the_count() {
        let d = LanguageDetector::new(["de", "pl"]).unwrap();
        assert!(d.words.is_empty());
    }

    #[test]
    fn prefix_never_splits_a_character() {
        assert_eq!(prefix("aä", 2), "a");
    }
}
