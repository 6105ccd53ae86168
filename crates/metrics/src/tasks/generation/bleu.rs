//! Corpus BLEU as `sacrebleu.corpus_bleu` computes it with its defaults: the `13a` tokenizer,
//! mixed case, n-grams up to 4, `exp` smoothing, brevity penalty, no effective order.
//!
//! Read against sacrebleu 2.x: `metrics/bleu.py` (`compute_bleu`, `_compute_segment_statistics`)
//! and `tokenizers/tokenizer_13a.py` + `tokenizer_re.py` (the regular expressions, reproduced
//! here as character scans with the same left-to-right, non-overlapping semantics).
//!
//! Corner cases follow sacrebleu: an empty hypothesis is scored (it adds no n-grams and no
//! length, so it lowers the brevity penalty); no matching n-gram at all gives 0; an order with
//! no hypothesis n-gram (every hypothesis shorter than 4 tokens) gives 0, since sacrebleu's
//! floored log of the missing precision swamps the sum.

use std::collections::HashMap;

use serde::Serialize;

use super::{py_split, validate};
use crate::Result;

/// Largest n-gram order (sacrebleu's `MAX_NGRAM_ORDER`).
pub const MAX_ORDER: usize = 4;

/// sacrebleu's floor for `log(0)` (`utils.my_log`).
const LOG_ZERO: f64 = -9_999_999_999.0;

/// A corpus BLEU score and its sufficient statistics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bleu {
    /// BLEU on sacrebleu's 0-100 scale.
    pub score: f64,
    /// Matched (clipped) n-grams of each order 1..=4.
    pub counts: [u64; MAX_ORDER],
    /// Hypothesis n-grams of each order.
    pub totals: [u64; MAX_ORDER],
    /// Smoothed n-gram precisions, 0-100.
    pub precisions: [f64; MAX_ORDER],
    /// Brevity penalty.
    pub brevity_penalty: f64,
    /// Hypothesis tokens.
    pub sys_len: u64,
    /// Reference tokens.
    pub ref_len: u64,
}

/// ASCII symbols the first `13a` rule pads with spaces: `[{-~[-\` -&(-+:-@/]`, which is every
/// printable ASCII character except letters, digits, `'`, `,`, `-` and `.` (plus the space).
fn is_13a_symbol(c: char) -> bool {
    matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/')
}

/// Python's `re.sub` of a two-character pattern, scanning left to right without overlaps.
fn sub_pairs(
    chars: &[char],
    matches: impl Fn(char, char) -> bool,
    replace: impl Fn(char, char, &mut Vec<char>),
) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len() + chars.len() / 4);
    let mut i = 0;
    while i < chars.len() {
        if i + 1 < chars.len() && matches(chars[i], chars[i + 1]) {
            replace(chars[i], chars[i + 1], &mut out);
            i += 2;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// sacrebleu's `13a` tokenizer (mteval-v13a), returning tokens joined by single spaces.
///
/// ```
/// use distill_eval_metrics::tasks::generation::bleu::tokenize_13a;
/// assert_eq!(tokenize_13a("Hello, world! It costs $3.50 (1,000 days)."),
///            "Hello , world ! It costs $ 3.50 ( 1,000 days ) .");
/// ```
pub fn tokenize_13a(line: &str) -> String {
    let mut line = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let mut chars = Vec::with_capacity(line.len() + 2);
    chars.push(' ');
    for c in line.chars() {
        if is_13a_symbol(c) {
            chars.extend([' ', c, ' ']);
        } else {
            chars.push(c);
        }
    }
    chars.push(' ');
    let digit = |c: char| c.is_ascii_digit();
    let period_or_comma = |c: char| c == '.' || c == ',';
    // ([^0-9])([\.,]) -> '\1 \2 ': a period or comma not preceded by a digit
    let chars = sub_pairs(
        &chars,
        |a, b| !digit(a) && period_or_comma(b),
        |a, b, out| out.extend([a, ' ', b, ' ']),
    );
    // ([\.,])([^0-9]) -> ' \1 \2': a period or comma not followed by a digit
    let chars = sub_pairs(
        &chars,
        |a, b| period_or_comma(a) && !digit(b),
        |a, b, out| out.extend([' ', a, ' ', b]),
    );
    // ([0-9])(-) -> '\1 \2 ': a dash preceded by a digit
    let chars = sub_pairs(
        &chars,
        |a, b| digit(a) && b == '-',
        |a, b, out| out.extend([a, ' ', b, ' ']),
    );
    let line: String = chars.into_iter().collect();
    py_split(&line).collect::<Vec<_>>().join(" ")
}

/// What BLEU compares of one sentence: its token count and its n-gram counts by order.
struct Ngrams<'a> {
    len: u64,
    counts: [HashMap<&'a [&'a str], u64>; MAX_ORDER],
}

impl<'a> Ngrams<'a> {
    fn new(tokens: &'a [&'a str]) -> Self {
        let counts = std::array::from_fn(|order| {
            let mut map: HashMap<&[&str], u64> = HashMap::new();
            for gram in tokens.windows(order + 1) {
                *map.entry(gram).or_default() += 1;
            }
            map
        });
        Self {
            len: tokens.len() as u64,
            counts,
        }
    }
}

/// sacrebleu's preprocessing of a segment: `rstrip()`, then `13a`.
fn tokens(segment: &str) -> String {
    tokenize_13a(segment.trim_end_matches(super::is_py_space))
}

/// `sacrebleu.corpus_bleu(hypotheses, [references])`: one reference per hypothesis.
///
/// Fails on empty or ragged input.
///
/// ```
/// use distill_eval_metrics::tasks::generation::bleu::corpus_bleu;
/// let bleu = corpus_bleu(&["the cat sat on the mat"], &["the cat sat on the mat"])?;
/// assert!((bleu.score - 100.0).abs() < 1e-9);
/// # Ok::<(), distill_eval_metrics::Error>(())
/// ```
pub fn corpus_bleu<H: AsRef<str>, R: AsRef<str>>(
    hypotheses: &[H],
    references: &[R],
) -> Result<Bleu> {
    validate(hypotheses, "hypotheses", references)?;
    let mut sum = BleuStats::default();
    for (hyp, reference) in hypotheses.iter().zip(references) {
        sum.add(&segment_stats(hyp.as_ref(), reference.as_ref()), 1);
    }
    Ok(sum.bleu())
}

/// BLEU's sufficient statistics of one segment (sacrebleu's `_compute_segment_statistics`):
/// corpus BLEU is [`BleuStats::bleu`] of their sum, so a resample of segments is scored from
/// these alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BleuStats {
    /// Matched (clipped) n-grams of each order.
    pub counts: [u64; MAX_ORDER],
    /// Hypothesis n-grams of each order.
    pub totals: [u64; MAX_ORDER],
    /// Hypothesis tokens.
    pub sys_len: u64,
    /// Reference tokens.
    pub ref_len: u64,
}

impl BleuStats {
    /// Adds `weight` copies of `other`.
    pub fn add(&mut self, other: &BleuStats, weight: u64) {
        for n in 0..MAX_ORDER {
            self.counts[n] += weight * other.counts[n];
            self.totals[n] += weight * other.totals[n];
        }
        self.sys_len += weight * other.sys_len;
        self.ref_len += weight * other.ref_len;
    }

    /// The BLEU of a corpus with these statistics.
    pub fn bleu(&self) -> Bleu {
        compute(self.counts, self.totals, self.sys_len, self.ref_len)
    }
}

/// The [`BleuStats`] of one hypothesis against its reference.
pub fn segment_stats(hypothesis: &str, reference: &str) -> BleuStats {
    let (hyp, reference) = (tokens(hypothesis), tokens(reference));
    let (hyp, reference): (Vec<&str>, Vec<&str>) =
        (py_split(&hyp).collect(), py_split(&reference).collect());
    let (h, r) = (Ngrams::new(&hyp), Ngrams::new(&reference));
    // With one reference, the "closest" reference length is its length.
    let mut stats = BleuStats {
        sys_len: h.len,
        ref_len: r.len,
        ..BleuStats::default()
    };
    for order in 0..MAX_ORDER {
        for (gram, &c) in &h.counts[order] {
            stats.totals[order] += c;
            if let Some(&rc) = r.counts[order].get(gram) {
                stats.counts[order] += c.min(rc);
            }
        }
    }
    stats
}

/// sacrebleu's `BLEU.compute_bleu` with `smooth_method='exp'`, `effective_order=False`.
fn compute(counts: [u64; MAX_ORDER], totals: [u64; MAX_ORDER], sys_len: u64, ref_len: u64) -> Bleu {
    let brevity_penalty = if sys_len < ref_len {
        if sys_len > 0 {
            (1.0 - ref_len as f64 / sys_len as f64).exp()
        } else {
            0.0
        }
    } else {
        1.0
    };
    let mut precisions = [0.0; MAX_ORDER];
    let mut bleu = Bleu {
        score: 0.0,
        counts,
        totals,
        precisions,
        brevity_penalty,
        sys_len,
        ref_len,
    };
    if counts.iter().all(|&c| c == 0) {
        return bleu;
    }
    let mut smooth = 1.0;
    for n in 0..MAX_ORDER {
        if totals[n] == 0 {
            // Later precisions stay 0 and their floored log drives the score to 0.
            break;
        }
        precisions[n] = if counts[n] == 0 {
            smooth *= 2.0;
            100.0 / (smooth * totals[n] as f64)
        } else {
            100.0 * counts[n] as f64 / totals[n] as f64
        };
    }
    let log_sum: f64 = precisions
        .iter()
        .map(|&p| if p == 0.0 { LOG_ZERO } else { p.ln() })
        .sum();
    bleu.precisions = precisions;
    bleu.score = brevity_penalty * (log_sum / MAX_ORDER as f64).exp();
    bleu
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r4(x: f64) -> f64 {
        (x * 1e4).round() / 1e4
    }

    #[test]
    fn tokenizer_13a_rules() {
        // Periods and commas split unless between digits; dashes split after a digit.
        assert_eq!(tokenize_13a("3.14, 1,000. a.b"), "3.14 , 1,000 . a . b");
        assert_eq!(
            tokenize_13a("pages 3-4 and well-known"),
            "pages 3 - 4 and well-known"
        );
        assert_eq!(tokenize_13a("it's \"fine\""), "it's \" fine \"");
        // HTML entities are unescaped, <skipped> dropped, hyphenated line breaks joined.
        assert_eq!(tokenize_13a("a &amp; b &lt;c&gt;"), "a & b < c >");
        assert_eq!(
            tokenize_13a("<skipped>well-\nknown\nfact"),
            "wellknown fact"
        );
        // Non-ASCII text passes through, split only on (Unicode) whitespace.
        assert_eq!(
            tokenize_13a("naïve café\u{3000}東京。"),
            "naïve café 東京。"
        );
        assert_eq!(tokenize_13a(""), "");
    }

    #[test]
    fn bleu_by_hand() {
        // hyp "a b c d e", ref "a b c d f": p1 4/5, p2 3/4, p3 2/3, p4 1/2, BP 1
        // BLEU = 100 (4/5 * 3/4 * 2/3 * 1/2)^(1/4) = 100 * 0.2^(1/4) = 66.8740
        let b = corpus_bleu(&["a b c d e"], &["a b c d f"]).unwrap();
        assert_eq!(r4(b.score), 66.874);
        assert_eq!((b.counts, b.totals), ([4, 3, 2, 1], [5, 4, 3, 2]));
    }

    #[test]
    fn smoothing_and_brevity() {
        // hyp "a b c x y", ref "a b c d e f": counts 3 2 1 0 of 5 4 3 2.
        // exp smoothing: p4 = 100 / (2 * 2) = 25; BP = exp(1 - 6/5) = 0.8187
        // BLEU = 0.8187 * (60 * 50 * 33.33 * 25)^(1/4) = 0.8187 * 39.7635 = 32.5556
        let b = corpus_bleu(&["a b c x y"], &["a b c d e f"]).unwrap();
        assert_eq!(r4(b.precisions[3]), 25.0);
        assert_eq!(r4(b.brevity_penalty), 0.8187);
        assert_eq!(r4(b.score), 32.5556);
    }

    #[test]
    fn short_and_empty_hypotheses_follow_sacrebleu() {
        // Three tokens: no 4-gram in the corpus, so the score is 0 even with matches.
        let b = corpus_bleu(&["a b c"], &["a b c"]).unwrap();
        assert_eq!((b.score, b.counts[0]), (0.0, 3));
        // An empty hypothesis is scored: BLEU 0, sys_len 0, BP 0.
        let b = corpus_bleu(&[""], &["a b c d"]).unwrap();
        assert_eq!(
            (b.score, b.sys_len, b.ref_len, b.brevity_penalty),
            (0.0, 0, 4, 0.0)
        );
        // ... and in a corpus it only costs length.
        let one = corpus_bleu(&["a b c d e"], &["a b c d e"]).unwrap();
        let with_empty = corpus_bleu(&["a b c d e", ""], &["a b c d e", "f g"]).unwrap();
        assert_eq!(r4(one.score), 100.0);
        assert_eq!(r4(with_empty.score), r4(100.0 * (1.0f64 - 7.0 / 5.0).exp()));
    }
}
