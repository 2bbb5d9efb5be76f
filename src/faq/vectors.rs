//! Static word-piece vectors distilled from the all-MiniLM-L6-v2 sentence model
//! (`examples/distill_vectors.py`): what a question *means*, where the words it shares with
//! an article say only what it is *about*. "How do I check my credit score" and "what is my
//! credit limit" share their rare words; their vectors stand apart.
//!
//! A text's vector is the mean of its word pieces' vectors, each weighed by how rare the
//! piece is among the articles of its language — a table look-up per word, far below the
//! cost of a transformer pass per question, which a search's millisecond does not allow.

use std::collections::HashMap;
use std::sync::OnceLock;

use unicode_normalization::UnicodeNormalization;

/// The shipped table: magic, piece count, dimensions, the pieces' texts, then per piece a
/// scale and one signed byte a dimension.
const SHIPPED: &[u8] = include_bytes!("vectors.bin");

/// Word pieces and their vectors, as the model's WordPiece tokenizer splits text.
pub struct Vectors {
    pieces: HashMap<String, u32>,
    dims: usize,
    /// `pieces × dims`, row-major.
    data: Vec<f32>,
    unknown: Option<u32>,
}

/// The vectors shipped with triage, read once.
pub fn shipped() -> &'static Vectors {
    static VECTORS: OnceLock<Vectors> = OnceLock::new();
    VECTORS.get_or_init(|| Vectors::read(SHIPPED).expect("the shipped word-piece vectors"))
}

/// Longer words are one unknown piece, as in the model's tokenizer.
const MAX_WORD_CHARS: usize = 100;

impl Vectors {
    /// Reads the table written by `examples/distill_vectors.py`.
    pub fn read(bytes: &[u8]) -> Result<Vectors, String> {
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8], String> {
            let s = bytes
                .get(at..at + n)
                .ok_or_else(|| format!("the vector table ends early at byte {at}"))?;
            at += n;
            Ok(s)
        };
        if take(4)? != b"TRV1" {
            return Err("not a word-piece vector table (magic TRV1)".into());
        }
        let u32_at = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        let count = u32_at(take(4)?);
        let dims = u32_at(take(4)?);
        let mut pieces = HashMap::with_capacity(count);
        for i in 0..count {
            let len = take(1)?[0] as usize;
            let text = std::str::from_utf8(take(len)?)
                .map_err(|e| format!("piece {i} is not UTF-8: {e}"))?;
            pieces.entry(text.to_owned()).or_insert(i as u32);
        }
        let mut data = Vec::with_capacity(count * dims);
        for _ in 0..count {
            let scale = f32::from_le_bytes(take(4)?.try_into().expect("four bytes"));
            data.extend(take(dims)?.iter().map(|&b| f32::from(b as i8) * scale));
        }
        let unknown = pieces.get("[UNK]").copied();
        Ok(Vectors {
            pieces,
            dims,
            data,
            unknown,
        })
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    fn row(&self, piece: u32) -> &[f32] {
        let start = piece as usize * self.dims;
        &self.data[start..start + self.dims]
    }

    /// The word pieces of a text, as the model's (uncased) tokenizer makes them: lower-cased,
    /// accents stripped, punctuation apart, each word split greedily into the longest
    /// pieces of the vocabulary ("##" continues a word).
    pub fn pieces(&self, text: &str) -> Vec<u32> {
        let folded: String = text
            .to_lowercase()
            .nfd()
            .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
            .collect();
        let mut out = Vec::new();
        let mut word = String::new();
        for c in folded.chars() {
            if c.is_whitespace() || c.is_control() {
                self.word_pieces(&word, &mut out);
                word.clear();
            } else if is_punctuation(c) {
                self.word_pieces(&word, &mut out);
                word.clear();
                let mut b = [0u8; 4];
                self.word_pieces(c.encode_utf8(&mut b), &mut out);
            } else {
                word.push(c);
            }
        }
        self.word_pieces(&word, &mut out);
        out
    }

    fn word_pieces(&self, word: &str, out: &mut Vec<u32>) {
        if word.is_empty() {
            return;
        }
        if word.chars().count() > MAX_WORD_CHARS {
            out.extend(self.unknown);
            return;
        }
        let mut found = Vec::new();
        let mut start = 0;
        let mut piece = String::new();
        while start < word.len() {
            let mut end = word.len();
            let mut hit = None;
            while end > start {
                if !word.is_char_boundary(end) {
                    end -= 1;
                    continue;
                }
                piece.clear();
                if start > 0 {
                    piece.push_str("##");
                }
                piece.push_str(&word[start..end]);
                if let Some(&id) = self.pieces.get(piece.as_str()) {
                    hit = Some(id);
                    break;
                }
                end -= 1;
            }
            match hit {
                Some(id) => {
                    found.push(id);
                    start = end;
                }
                None => {
                    out.extend(self.unknown);
                    return;
                }
            }
        }
        out.extend(found);
    }

    /// The unit vector of a text's [`Vectors::pieces`], each weighed by `weight` (none: the
    /// zero vector).
    pub fn embed(&self, pieces: &[u32], weight: impl Fn(u32) -> f32) -> Vec<f32> {
        let mut v = vec![0.0f32; self.dims];
        for &p in pieces {
            let w = weight(p);
            for (x, y) in v.iter_mut().zip(self.row(p)) {
                *x += w * y;
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
        v
    }
}

/// Punctuation as BERT's tokenizer has it: every non-alphanumeric ASCII symbol, and
/// Unicode punctuation.
fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || (!c.is_alphanumeric() && !c.is_whitespace() && !c.is_ascii() && !c.is_control())
}

/// `v` less `centre`, as a unit vector (the zero vector stays zero).
pub fn off_centre(v: &[f32], centre: &[f32]) -> Vec<f32> {
    if v.iter().all(|x| *x == 0.0) {
        return v.to_vec();
    }
    let mut out: Vec<f32> = v.iter().zip(centre).map(|(x, c)| x - c).collect();
    let norm = out.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        out.iter_mut().for_each(|x| *x /= norm);
    }
    out
}

/// The cosine of two unit vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// How rare each word piece is among a language's articles, as BM25 weighs a word: the
/// question's distinctive pieces carry its vector, not "the", "my" and "?".
#[derive(Default)]
pub struct PieceRarity {
    df: HashMap<u32, u32>,
    articles: u32,
}

impl PieceRarity {
    /// Counts one article's pieces.
    pub fn add(&mut self, pieces: impl IntoIterator<Item = u32>) {
        let own: std::collections::HashSet<u32> = pieces.into_iter().collect();
        for p in own {
            *self.df.entry(p).or_default() += 1;
        }
        self.articles += 1;
    }

    pub fn weight(&self, piece: u32) -> f32 {
        let df = self.df.get(&piece).copied().unwrap_or(0);
        bm25_idf(self.articles as f32, df as f32)
    }
}

/// BM25's inverse document frequency of something in `df` of `n` documents: what no
/// document has weighs most.
pub fn bm25_idf(n: f32, df: f32) -> f32 {
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_splits_into_the_models_word_pieces() {
        let v = shipped();
        assert_eq!(v.dims(), 128);
        let names = |t: &str| -> Vec<String> {
            let by_id: HashMap<u32, &String> = v.pieces.iter().map(|(k, i)| (*i, k)).collect();
            v.pieces(t).iter().map(|i| by_id[i].to_string()).collect()
        };
        assert_eq!(
            names("Reset my PASSWORD?"),
            ["reset", "my", "password", "?"]
        );
        // Accents stripped, unknown words in pieces.
        assert_eq!(names("Café"), ["cafe"]);
        assert!(names("Passwortzurücksetzung").len() > 1);
        assert!(names("  ").is_empty());
    }

    #[test]
    fn like_questions_are_nearer_than_unlike_ones() {
        let v = shipped();
        let e = |t| v.embed(&v.pieces(t), |_| 1.0);
        let reset = e("how can I reset my password");
        let forgot = e("I forgot my password and cannot log in");
        let weather = e("what is the weather like in Berlin tomorrow");
        assert!((cosine(&reset, &reset) - 1.0).abs() < 1e-4);
        assert!(cosine(&reset, &forgot) > cosine(&reset, &weather) + 0.1);
        assert_eq!(e("").iter().filter(|x| **x != 0.0).count(), 0);
    }

    #[test]
    fn a_cut_table_is_refused() {
        assert!(Vectors::read(&SHIPPED[..100]).is_err());
        assert!(Vectors::read(b"XXXX").is_err());
    }
}
