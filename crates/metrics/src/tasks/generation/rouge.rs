//! ROUGE-1, ROUGE-2 and ROUGE-L as `rouge_score.rouge_scorer.RougeScorer(use_stemmer=False)`
//! computes them, and their F-measures averaged over rows.
//!
//! Read against rouge-score 0.1 `rouge_scorer.py` (`_score_ngrams`, `_score_lcs`) and
//! `tokenize.py`: lowercase (Unicode), every run of characters outside `[a-z0-9]` is a
//! separator, so accented letters, CJK and punctuation never form tokens (`"İ"` lowercases to
//! `i` plus a combining dot, and the Kelvin sign to `k`, exactly as in Python). An empty
//! hypothesis or reference (after tokenizing) scores 0.

use std::collections::HashMap;

use serde::Serialize;

use super::validate;
use crate::Result;

/// Precision, recall and F-measure of one hypothesis against one reference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RougeScore {
    /// Matches / hypothesis units.
    pub precision: f64,
    /// Matches / reference units.
    pub recall: f64,
    /// Harmonic mean of the two; 0 when both are 0.
    pub fmeasure: f64,
}

impl RougeScore {
    fn new(precision: f64, recall: f64) -> Self {
        let fmeasure = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        Self {
            precision,
            recall,
            fmeasure,
        }
    }
}

/// ROUGE-1, ROUGE-2 and ROUGE-L of one hypothesis.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RougeScores {
    /// Unigram overlap.
    pub rouge1: RougeScore,
    /// Bigram overlap.
    pub rouge2: RougeScore,
    /// Longest common subsequence.
    #[serde(rename = "rougeL")]
    pub rouge_l: RougeScore,
}

/// Mean F-measures over rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeanRouge {
    /// Mean ROUGE-1 F-measure.
    pub rouge1: f64,
    /// Mean ROUGE-2 F-measure.
    pub rouge2: f64,
    /// Mean ROUGE-L F-measure.
    #[serde(rename = "rougeL")]
    pub rouge_l: f64,
}

/// rouge-score's default tokenizer without stemming.
///
/// ```
/// use distill_eval_metrics::tasks::generation::rouge::tokenize;
/// assert_eq!(tokenize("The cat's 2nd nap—naïve!"), ["the", "cat", "s", "2nd", "nap", "na", "ve"]);
/// ```
pub fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            current.push(c);
        } else if !current.is_empty() {
            tokens.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

fn ngram_counts(tokens: &[String], n: usize) -> HashMap<&[String], u64> {
    let mut map: HashMap<&[String], u64> = HashMap::new();
    for gram in tokens.windows(n) {
        *map.entry(gram).or_default() += 1;
    }
    map
}

fn ngram_score(reference: &[String], hypothesis: &[String], n: usize) -> RougeScore {
    let (r, h) = (ngram_counts(reference, n), ngram_counts(hypothesis, n));
    let overlap: u64 = r
        .iter()
        .map(|(gram, &c)| c.min(h.get(gram).copied().unwrap_or(0)))
        .sum();
    let total = |m: &HashMap<&[String], u64>| m.values().sum::<u64>().max(1) as f64;
    RougeScore::new(overlap as f64 / total(&h), overlap as f64 / total(&r))
}

fn lcs_score(reference: &[String], hypothesis: &[String]) -> RougeScore {
    if reference.is_empty() || hypothesis.is_empty() {
        return RougeScore::new(0.0, 0.0);
    }
    // One row of the LCS table at a time.
    let mut prev = vec![0usize; hypothesis.len() + 1];
    let mut row = prev.clone();
    for r in reference {
        for (j, h) in hypothesis.iter().enumerate() {
            row[j + 1] = if r == h {
                prev[j] + 1
            } else {
                prev[j + 1].max(row[j])
            };
        }
        std::mem::swap(&mut prev, &mut row);
    }
    let lcs = prev[hypothesis.len()] as f64;
    RougeScore::new(lcs / hypothesis.len() as f64, lcs / reference.len() as f64)
}

/// `RougeScorer(["rouge1", "rouge2", "rougeL"]).score(reference, hypothesis)`.
pub fn score(reference: &str, hypothesis: &str) -> RougeScores {
    let (r, h) = (tokenize(reference), tokenize(hypothesis));
    RougeScores {
        rouge1: ngram_score(&r, &h, 1),
        rouge2: ngram_score(&r, &h, 2),
        rouge_l: lcs_score(&r, &h),
    }
}

/// Mean F-measures of [`score`] over rows (one reference per hypothesis).
///
/// Fails on empty or ragged input.
pub fn mean_rouge<H: AsRef<str>, R: AsRef<str>>(
    hypotheses: &[H],
    references: &[R],
) -> Result<MeanRouge> {
    validate(hypotheses, "hypotheses", references)?;
    let (mut r1, mut r2, mut rl) = (0.0, 0.0, 0.0);
    for (hyp, reference) in hypotheses.iter().zip(references) {
        let s = score(reference.as_ref(), hyp.as_ref());
        r1 += s.rouge1.fmeasure;
        r2 += s.rouge2.fmeasure;
        rl += s.rouge_l.fmeasure;
    }
    let n = hypotheses.len() as f64;
    Ok(MeanRouge {
        rouge1: r1 / n,
        rouge2: r2 / n,
        rouge_l: rl / n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r4(x: f64) -> f64 {
        (x * 1e4).round() / 1e4
    }

    #[test]
    fn rouge_by_hand() {
        // ref "the cat sat on the mat" (6), hyp "the cat lay on a mat" (6)
        let s = score("The cat sat on the mat.", "the cat lay on a mat");
        // unigrams: the (min(2, 1)) cat on mat = 4: P = R = F = 4/6
        assert_eq!(r4(s.rouge1.fmeasure), 0.6667);
        // bigrams: "the cat" only: 1/5
        assert_eq!(r4(s.rouge2.fmeasure), 0.2);
        // LCS: the cat on mat = 4: 4/6
        assert_eq!(r4(s.rouge_l.fmeasure), 0.6667);
        // Different lengths: ref 3 tokens, hyp 1 token matching: P 1, R 1/3, F 1/2
        let s = score("a b c", "b");
        assert_eq!(
            (
                r4(s.rouge1.precision),
                r4(s.rouge1.recall),
                r4(s.rouge1.fmeasure)
            ),
            (1.0, 0.3333, 0.5)
        );
        assert_eq!(s.rouge2.fmeasure, 0.0);
    }

    #[test]
    fn tokenizer_is_ascii_alphanumeric_after_lowercasing() {
        assert_eq!(
            tokenize("İstanbul \u{212A}elvin Ünïcödé 東京 42"),
            ["i", "stanbul", "kelvin", "n", "c", "d", "42"]
        );
        assert!(tokenize("—…!").is_empty());
    }

    #[test]
    fn empty_texts_score_zero() {
        let s = score("a b", "");
        assert_eq!((s.rouge1.fmeasure, s.rouge_l.fmeasure), (0.0, 0.0));
        let m = mean_rouge(&["a b", ""], &["a b", "c"]).unwrap();
        assert_eq!((r4(m.rouge1), r4(m.rouge2), r4(m.rouge_l)), (0.5, 0.5, 0.5));
    }
}
