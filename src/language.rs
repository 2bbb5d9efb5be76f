//! Language detection for ticket text, limited to the languages the rules files name.
//!
//! Restricting whatlang to an allowlist makes it both faster and more accurate for the
//! short, mixed texts tickets are; only a prefix of the text is looked at, because the
//! first paragraph decides the language and quoted history or signatures only add noise.

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

/// The ISO 639-1 codes detection can tell apart.
pub fn supported_codes() -> impl Iterator<Item = &'static str> {
    SUPPORTED.iter().map(|(code, _)| *code)
}

/// Detects which of a fixed set of languages a text is written in.
#[derive(Debug, Clone)]
pub struct LanguageDetector {
    detector: Whatlang,
    codes: Vec<(Lang, Arc<str>)>,
}

impl LanguageDetector {
    /// A detector for the given ISO 639-1 codes; unknown codes are returned as the error.
    pub fn new<'a>(codes: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut pairs = Vec::new();
        for code in codes {
            let lang = SUPPORTED
                .iter()
                .find(|(c, _)| *c == code)
                .map(|(_, l)| *l)
                .ok_or_else(|| code.to_owned())?;
            pairs.push((lang, Arc::from(code)));
        }
        Ok(LanguageDetector {
            detector: Whatlang::with_allowlist(pairs.iter().map(|(l, _)| *l).collect()),
            codes: pairs,
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
        let mut sample = String::with_capacity(SAMPLE + 1);
        sample.push_str(prefix(subject, SAMPLE));
        sample.push('\n');
        sample.push_str(prefix(body, SAMPLE - sample.len().min(SAMPLE)));
        if sample.chars().filter(|c| c.is_alphabetic()).count() < 8 {
            return None;
        }
        let lang = self.detector.detect_lang(&sample)?;
        self.codes.iter().find(|(l, _)| *l == lang).map(|(_, c)| c)
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
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
        assert_eq!(LanguageDetector::new(["de", "xx"]).unwrap_err(), "xx");
    }

    #[test]
    fn prefix_never_splits_a_character() {
        assert_eq!(prefix("aä", 2), "a");
    }
}
