//! Corpus chrF as `sacrebleu.corpus_chrf` computes it with its defaults: character n-grams up to
//! 6, no word n-grams, beta 2, whitespace removed before extraction, no epsilon smoothing.
//!
//! Read against sacrebleu 2.x `metrics/chrf.py` (`_compute_f_score`, `_get_match_statistics`)
//! and `metrics/helpers.py` (`extract_all_char_ngrams`). Characters are Unicode scalar values,
//! as Python's `str` indexes them. Statistics are summed over the corpus first; the score then
//! averages precision and recall over the orders where both the hypotheses and the references
//! have n-grams (sacrebleu's "effective order"), and is 0 when no order does. An empty
//! hypothesis is scored (it adds reference n-grams only, lowering recall).

use std::collections::HashMap;

use super::{is_py_space, validate};
use crate::Result;

/// Largest character n-gram order (sacrebleu's `CHRF.CHAR_ORDER`).
pub const CHAR_ORDER: usize = 6;

/// Recall weight (sacrebleu's `CHRF.BETA`).
pub const BETA: f64 = 2.0;

fn char_ngrams(chars: &[char], n: usize) -> HashMap<&[char], u64> {
    let mut map: HashMap<&[char], u64> = HashMap::new();
    for gram in chars.windows(n) {
        *map.entry(gram).or_default() += 1;
    }
    map
}

/// `sacrebleu.corpus_chrf(hypotheses, [references]).score` (0-100): one reference per
/// hypothesis.
///
/// Fails on empty or ragged input.
///
/// ```
/// use distill_eval_metrics::tasks::generation::chrf::corpus_chrf;
/// assert!((corpus_chrf(&["a cat"], &["a cat"])? - 100.0).abs() < 1e-9);
/// # Ok::<(), distill_eval_metrics::Error>(())
/// ```
pub fn corpus_chrf<H: AsRef<str>, R: AsRef<str>>(
    hypotheses: &[H],
    references: &[R],
) -> Result<f64> {
    validate(hypotheses, "hypotheses", references)?;
    let mut sum = ChrfStats::default();
    for (hyp, reference) in hypotheses.iter().zip(references) {
        sum.add(&segment_stats(hyp.as_ref(), reference.as_ref()), 1);
    }
    Ok(sum.chrf())
}

/// chrF's sufficient statistics of one segment: per order, (hypothesis n-grams, reference
/// n-grams, matches). Corpus chrF is [`ChrfStats::chrf`] of their sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChrfStats(pub [[u64; 3]; CHAR_ORDER]);

impl ChrfStats {
    /// Adds `weight` copies of `other`.
    pub fn add(&mut self, other: &ChrfStats, weight: u64) {
        for (slot, o) in self.0.iter_mut().zip(&other.0) {
            for (a, b) in slot.iter_mut().zip(o) {
                *a += weight * b;
            }
        }
    }

    /// The chrF (0-100) of a corpus with these statistics.
    pub fn chrf(&self) -> f64 {
        f_score(&self.0)
    }
}

/// The [`ChrfStats`] of one hypothesis against its reference.
pub fn segment_stats(hypothesis: &str, reference: &str) -> ChrfStats {
    let strip = |s: &str| -> Vec<char> { s.chars().filter(|&c| !is_py_space(c)).collect() };
    let (hyp, reference) = (strip(hypothesis), strip(reference));
    let mut stats = ChrfStats::default();
    for (n, slot) in stats.0.iter_mut().enumerate() {
        let (h, r) = (char_ngrams(&hyp, n + 1), char_ngrams(&reference, n + 1));
        let mut hyp_count = 0;
        let mut matches = 0;
        for (gram, &c) in &h {
            hyp_count += c;
            if let Some(&rc) = r.get(gram) {
                matches += c.min(rc);
            }
        }
        // sacrebleu: "don't count hits if no reference exists for that n-gram" order.
        slot[0] += if r.is_empty() { 0 } else { hyp_count };
        slot[1] += r.values().sum::<u64>();
        slot[2] += matches;
    }
    stats
}

/// sacrebleu's `_compute_f_score` with `eps_smoothing=False`.
fn f_score(stats: &[[u64; 3]; CHAR_ORDER]) -> f64 {
    let factor = BETA * BETA;
    let (mut precision, mut recall, mut effective) = (0.0, 0.0, 0usize);
    for &[hyp, reference, matches] in stats {
        if hyp > 0 && reference > 0 {
            precision += matches as f64 / hyp as f64;
            recall += matches as f64 / reference as f64;
            effective += 1;
        }
    }
    if effective == 0 {
        return 0.0;
    }
    precision /= effective as f64;
    recall /= effective as f64;
    if precision + recall == 0.0 {
        return 0.0;
    }
    let score = (1.0 + factor) * precision * recall / (factor * precision + recall);
    100.0 * score
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r4(x: f64) -> f64 {
        (x * 1e4).round() / 1e4
    }

    #[test]
    fn chrf_by_hand() {
        // "ab" vs "abc" (spaces dropped): order 1: P 2/2, R 2/3; order 2: P 1/1, R 1/2;
        // order 3: no hypothesis trigram, left out. P = 1, R = 7/12:
        // F2 = 5 * 7/12 / (4 + 7/12) = 35/55 = 63.6364
        assert_eq!(r4(corpus_chrf(&["a b"], &["abc"]).unwrap()), 63.6364);
    }

    #[test]
    fn corpus_statistics_are_pooled_and_empty_hypotheses_count() {
        // "ab"/"ab" adds 2+1 matched n-grams; "" adds the reference "cd"'s 2 + 1 n-grams.
        // Pooled: order 1 P 2/2 R 2/4, order 2 P 1/1 R 1/2: P = 1, R = 1/2: F2 = 2.5/4.5
        let f = corpus_chrf(&["ab", ""], &["ab", "cd"]).unwrap();
        assert_eq!(r4(f), 55.5556);
        assert_eq!(corpus_chrf(&[""], &["abc"]).unwrap(), 0.0);
        // Unicode whitespace (ideographic space, no-break space) is removed like Python's.
        assert_eq!(
            r4(corpus_chrf(&["東\u{3000}京\u{a0}"], &["東京"]).unwrap()),
            100.0
        );
    }
}
