//! TF-IDF features of word and character n-grams, as scikit-learn's
//! `TfidfVectorizer` computes them (smooth idf, optional sublinear tf, L2 rows).
//! Written here because no maintained crate fits a vocabulary and transforms
//! unseen text with it; the model directory stores the vocabulary so a served
//! version computes exactly the features it was evaluated with.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::sparse::Csr;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TfidfConfig {
    /// Word n-gram lengths, inclusive: `[1, 2]` is unigrams and bigrams.
    #[serde(default = "default_word_ngrams")]
    pub word_ngrams: [usize; 2],
    /// Character n-grams inside word boundaries (`char_wb`); `null` for none.
    #[serde(default = "default_char_ngrams")]
    pub char_ngrams: Option<[usize; 2]>,
    /// Terms seen in fewer training texts are dropped.
    #[serde(default = "default_min_df")]
    pub min_df: usize,
    /// `1 + ln(tf)` instead of raw counts.
    #[serde(default = "yes")]
    pub sublinear_tf: bool,
    /// Keep at most this many terms, the most frequent first.
    #[serde(default)]
    pub max_features: Option<usize>,
}

fn default_word_ngrams() -> [usize; 2] {
    [1, 2]
}
fn default_char_ngrams() -> Option<[usize; 2]> {
    Some([2, 5])
}
fn default_min_df() -> usize {
    2
}
fn yes() -> bool {
    true
}

impl Default for TfidfConfig {
    fn default() -> Self {
        TfidfConfig {
            word_ngrams: default_word_ngrams(),
            char_ngrams: default_char_ngrams(),
            min_df: default_min_df(),
            sublinear_tf: true,
            max_features: None,
        }
    }
}

/// A fitted vectorizer: the vocabulary and each term's idf.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tfidf {
    pub config: TfidfConfig,
    pub vocabulary: HashMap<String, u32>,
    pub idf: Vec<f32>,
}

/// Lowercased word tokens: runs of alphanumeric characters and apostrophes.
pub fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

impl TfidfConfig {
    /// Every term of one text, with repeats (its term frequencies).
    fn terms(&self, text: &str) -> Vec<String> {
        let words = words(text);
        let mut terms = Vec::with_capacity(words.len() * 8);
        let [lo, hi] = self.word_ngrams;
        for n in lo.max(1)..=hi {
            for w in words.windows(n) {
                terms.push(format!("w:{}", w.join(" ")));
            }
        }
        if let Some([lo, hi]) = self.char_ngrams {
            for w in &words {
                let padded: Vec<char> = format!(" {w} ").chars().collect();
                for n in lo.max(1)..=hi {
                    if n > padded.len() {
                        break;
                    }
                    for g in padded.windows(n) {
                        terms.push(format!("c:{}", g.iter().collect::<String>()));
                    }
                }
            }
        }
        terms
    }

    pub fn fit(&self, texts: &[String]) -> Tfidf {
        let mut df: HashMap<String, usize> = HashMap::new();
        for text in texts {
            let mut terms = self.terms(text);
            terms.sort_unstable();
            terms.dedup();
            for t in terms {
                *df.entry(t).or_default() += 1;
            }
        }
        let mut kept: Vec<(String, usize)> =
            df.into_iter().filter(|(_, d)| *d >= self.min_df).collect();
        // Most frequent first, ties by term, so the vocabulary is the same every run.
        kept.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        if let Some(max) = self.max_features {
            kept.truncate(max);
        }
        let n = texts.len() as f32;
        let mut vocabulary = HashMap::with_capacity(kept.len());
        let mut idf = Vec::with_capacity(kept.len());
        for (i, (term, d)) in kept.into_iter().enumerate() {
            vocabulary.insert(term, i as u32);
            idf.push(((1.0 + n) / (1.0 + d as f32)).ln() + 1.0);
        }
        Tfidf {
            config: self.clone(),
            vocabulary,
            idf,
        }
    }
}

impl Tfidf {
    pub fn n_features(&self) -> usize {
        self.idf.len()
    }

    pub fn transform(&self, texts: &[String]) -> Csr {
        let mut m = Csr::new(self.n_features());
        for text in texts {
            let mut counts: HashMap<u32, f32> = HashMap::new();
            for t in self.config.terms(text) {
                if let Some(&i) = self.vocabulary.get(&t) {
                    *counts.entry(i).or_default() += 1.0;
                }
            }
            let mut row: Vec<(u32, f32)> = counts
                .into_iter()
                .map(|(i, tf)| {
                    let tf = if self.config.sublinear_tf {
                        1.0 + tf.ln()
                    } else {
                        tf
                    };
                    (i, tf * self.idf[i as usize])
                })
                .collect();
            row.sort_unstable_by_key(|e| e.0);
            let norm = row.iter().map(|e| e.1 * e.1).sum::<f32>().sqrt();
            if norm > 0.0 {
                row.iter_mut().for_each(|e| e.1 /= norm);
            }
            m.push_row(row);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idf_and_rows_follow_scikit_learns_formulas() {
        let texts: Vec<String> = ["book a flight", "book a table", "flight status"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let config = TfidfConfig {
            word_ngrams: [1, 1],
            char_ngrams: None,
            min_df: 1,
            sublinear_tf: false,
            max_features: None,
        };
        let v = config.fit(&texts);
        // "book" is in 2 of 3 texts: ln(4/3) + 1.
        let book = v.vocabulary["w:book"] as usize;
        assert!((v.idf[book] - ((4.0f32 / 3.0).ln() + 1.0)).abs() < 1e-6);
        let m = v.transform(&["book book status unknown".to_string()]);
        let (idx, val) = m.row(0);
        assert_eq!(idx.len(), 2);
        let norm: f32 = val.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-6);
    }

    #[test]
    fn words_keep_apostrophes_inside() {
        assert_eq!(
            words("What's the 'time' in N.Y.?"),
            vec!["what's", "the", "time", "in", "n", "y"]
        );
    }
}
