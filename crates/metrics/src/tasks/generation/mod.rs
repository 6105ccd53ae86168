//! Text generation: corpus BLEU and chrF (sacrebleu defaults) and mean ROUGE-1/2/L F-measures
//! (rouge-score, no stemmer) for the teacher and the student against the references, the
//! student's BLEU retention, and the BLEU of the student's texts against the teacher's.
//!
//! Scales are the references': BLEU and chrF on 0-100, ROUGE on 0-1. Empty hypotheses are
//! scored, as sacrebleu and rouge-score score them (they match nothing and cost length or
//! recall), and counted in [`GenerationMetrics::empty_hypotheses`] so a report can flag them.

pub mod bleu;
pub mod chrf;
pub mod rouge;

use serde::Serialize;

use super::{check_parallel, retention};
use crate::bootstrap::{
    figure_intervals, retention_bootstrap, BootstrapConfig, RetentionBootstrap, RetentionResample,
};
use crate::{Error, Result, Thresholds};

/// Python's `str.isspace()`: Unicode White_Space plus the four ASCII information separators
/// U+001C..U+001F, which `str.split()` and `str.rstrip()` also treat as whitespace.
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's argument-less `str.split()`.
pub(crate) fn py_split(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_py_space).filter(|t| !t.is_empty())
}

/// Non-empty, parallel hypotheses and references.
fn validate<H, R>(hypotheses: &[H], what: &'static str, references: &[R]) -> Result<()> {
    if references.is_empty() {
        return Err(Error::NoInput {
            what: "generation rows",
            hint: "pass at least one reference and one hypothesis per model",
        });
    }
    check_parallel(hypotheses, what, references, "references")
}

/// One model's figures against the references.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct GenerationMetrics {
    /// Corpus BLEU, 0-100 (`sacrebleu.corpus_bleu`).
    pub bleu: f64,
    /// Corpus chrF, 0-100 (`sacrebleu.corpus_chrf`).
    pub chrf: f64,
    /// Mean ROUGE-1 F-measure, 0-1.
    pub rouge1: f64,
    /// Mean ROUGE-2 F-measure.
    pub rouge2: f64,
    /// Mean ROUGE-L F-measure.
    #[serde(rename = "rougeL")]
    pub rouge_l: f64,
    /// BLEU's brevity penalty (below 1 when the hypotheses are shorter than the references).
    pub bleu_brevity_penalty: f64,
    /// Hypotheses that are empty or all whitespace.
    pub empty_hypotheses: usize,
}

/// Teacher and student on one generation test set.
#[derive(Debug, Clone, Serialize)]
pub struct GenerationEvaluation {
    /// Number of rows (references).
    pub rows: usize,
    /// The teacher's figures.
    pub teacher: GenerationMetrics,
    /// The student's figures.
    pub student: GenerationMetrics,
    /// Student BLEU / teacher BLEU; `None` when the teacher's BLEU is 0.
    pub bleu_retention: Option<f64>,
    /// BLEU of the student's texts with the teacher's texts as references.
    pub teacher_student_bleu: f64,
}

/// BLEU, chrF and ROUGE of one model's hypotheses against the references.
///
/// Fails on empty or ragged input.
pub fn score<H: AsRef<str>, R: AsRef<str>>(
    hypotheses: &[H],
    references: &[R],
) -> Result<GenerationMetrics> {
    let bleu = bleu::corpus_bleu(hypotheses, references)?;
    let rouge = rouge::mean_rouge(hypotheses, references)?;
    Ok(GenerationMetrics {
        bleu: bleu.score,
        chrf: chrf::corpus_chrf(hypotheses, references)?,
        rouge1: rouge.rouge1,
        rouge2: rouge.rouge2,
        rouge_l: rouge.rouge_l,
        bleu_brevity_penalty: bleu.brevity_penalty,
        empty_hypotheses: hypotheses
            .iter()
            .filter(|h| py_split(h.as_ref()).next().is_none())
            .count(),
    })
}

/// Scores the teacher's and the student's texts against the references and each other.
///
/// ```
/// use distill_eval_metrics::tasks::generation::evaluate_generation;
///
/// let refs = ["the plot was great", "a very long film"];
/// let teacher = ["the plot was great", "a very long film"];
/// let student = ["the plot was good", "a long film"];
/// let eval = evaluate_generation(&refs, &teacher, &student)?;
/// assert!((eval.teacher.bleu - 100.0).abs() < 1e-9);
/// assert!(eval.bleu_retention.unwrap() < 1.0);
/// assert_eq!(eval.teacher_student_bleu, eval.student.bleu); // the teacher is the reference
/// # Ok::<(), distill_eval_metrics::Error>(())
/// ```
pub fn evaluate_generation<R: AsRef<str>, T: AsRef<str>, S: AsRef<str>>(
    references: &[R],
    teacher: &[T],
    student: &[S],
) -> Result<GenerationEvaluation> {
    validate(teacher, "teacher texts", references)?;
    validate(student, "student texts", references)?;
    let t = score(teacher, references)?;
    let s = score(student, references)?;
    Ok(GenerationEvaluation {
        rows: references.len(),
        bleu_retention: retention(s.bleu, t.bleu),
        teacher_student_bleu: bleu::corpus_bleu(student, teacher)?.score,
        teacher: t,
        student: s,
    })
}

/// Paired bootstrap of the segments (rows): each resample draws as many rows with
/// replacement and recomputes both models' corpus BLEU, and chrF, from the per-segment
/// sufficient statistics (what sacrebleu's own `--confidence` resampling does), giving
/// intervals of each model's BLEU, of `bleu_retention` and of each model's chrF.
pub fn bootstrap_bleu<R: AsRef<str>, T: AsRef<str>, S: AsRef<str>>(
    references: &[R],
    teacher: &[T],
    student: &[S],
    thresholds: &Thresholds,
    cfg: &BootstrapConfig,
) -> Result<RetentionBootstrap> {
    validate(teacher, "teacher texts", references)?;
    validate(student, "student texts", references)?;
    let stats = |hyps: &[&str]| -> (Vec<bleu::BleuStats>, Vec<chrf::ChrfStats>) {
        hyps.iter()
            .zip(references)
            .map(|(h, r)| {
                (
                    bleu::segment_stats(h, r.as_ref()),
                    chrf::segment_stats(h, r.as_ref()),
                )
            })
            .unzip()
    };
    let t: Vec<&str> = teacher.iter().map(AsRef::as_ref).collect();
    let s: Vec<&str> = student.iter().map(AsRef::as_ref).collect();
    let ((t_bleu, t_chrf), (s_bleu, s_chrf)) = (stats(&t), stats(&s));
    let bleu_of = |segments: &[bleu::BleuStats], w: &[u32]| {
        let mut sum = bleu::BleuStats::default();
        for (x, &w) in segments.iter().zip(w) {
            sum.add(x, u64::from(w));
        }
        sum.bleu().score
    };
    let chrf_of = |segments: &[chrf::ChrfStats], w: &[u32]| {
        let mut sum = chrf::ChrfStats::default();
        for (x, &w) in segments.iter().zip(w) {
            sum.add(x, u64::from(w));
        }
        sum.chrf()
    };
    let bleu_figures = |w: &[u32]| (bleu_of(&t_bleu, w), bleu_of(&s_bleu, w));
    let chrf_figures = |w: &[u32]| (chrf_of(&t_chrf, w), chrf_of(&s_chrf, w));
    let resample = RetentionResample {
        unit: "segments",
        units: references.len(),
        figure: "bleu",
        figures: &bleu_figures,
    };
    let mut b = retention_bootstrap(&resample, thresholds, cfg)?;
    b.also.push(figure_intervals(
        &RetentionResample {
            figure: "chrf",
            figures: &chrf_figures,
            ..resample
        },
        cfg,
    )?);
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_whitespace() {
        for c in [
            '\t', '\n', '\u{b}', '\u{c}', '\r', '\u{1c}', '\u{1f}', ' ', '\u{85}',
        ] {
            assert!(is_py_space(c), "{c:?}");
        }
        for c in [
            '\u{a0}', '\u{1680}', '\u{2000}', '\u{200a}', '\u{2028}', '\u{2029}',
        ] {
            assert!(is_py_space(c), "{c:?}");
        }
        for c in ['\u{202f}', '\u{205f}', '\u{3000}'] {
            assert!(is_py_space(c), "{c:?}");
        }
        // Not whitespace for Python: zero-width space, BOM, Mongolian vowel separator.
        for c in ['\u{200b}', '\u{feff}', '\u{180e}', 'a', '\u{0}'] {
            assert!(!is_py_space(c), "{c:?}");
        }
        assert_eq!(
            py_split(" a\u{1c}b\u{3000} c ").collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        let none: [&str; 0] = [];
        assert!(matches!(
            evaluate_generation(&none, &none, &none),
            Err(Error::NoInput { .. })
        ));
        assert!(matches!(
            evaluate_generation(&["a", "b"], &["a", "b"], &["a"]),
            Err(Error::Ragged {
                what: "student texts",
                found: 1,
                expected: 2,
                ..
            })
        ));
    }

    #[test]
    fn empty_hypotheses_are_scored_and_counted() {
        let e = evaluate_generation(&["a b c d", "e f"], &["a b c d", "e f"], &["a b c d", " "])
            .unwrap();
        assert_eq!(
            (e.teacher.empty_hypotheses, e.student.empty_hypotheses),
            (0, 1)
        );
        // Student: all 4-grams match, hyp 4 tokens vs ref 6: BLEU = 100 exp(1 - 6/4) = 60.6531
        assert_eq!((e.student.bleu * 1e4).round() / 1e4, 60.6531);
        assert_eq!(e.student.rouge1, 0.5);
    }

    #[test]
    fn segment_bootstrap_matches_corpus_scores_of_the_drawn_rows() {
        let refs = [
            "the cat sat on the mat",
            "a quick brown fox jumps over the dog",
            "it rained all day in the city",
            "she reads a book every night",
            "we walked to the old bridge",
        ];
        let teacher = [
            "the cat sat on the mat",
            "a quick brown fox jumps over a dog",
            "it rained all day in town",
            "she reads a book each night",
            "we walked to the old bridge",
        ];
        let student = [
            "the cat is on the mat",
            "the quick fox jumps over the dog",
            "it rained the whole day in the city",
            "she reads books every night",
            "we went to a bridge",
        ];
        let cfg = BootstrapConfig {
            resamples: 40,
            seed: 6,
            level: 0.95,
        };
        let b = bootstrap_bleu(&refs, &teacher, &student, &Thresholds::default(), &cfg).unwrap();
        let e = evaluate_generation(&refs, &teacher, &student).unwrap();
        let (t, r) = (b.teacher.unwrap(), b.retention.unwrap());
        assert!((t.estimate - e.teacher.bleu).abs() < 1e-9);
        assert!((r.estimate - e.bleu_retention.unwrap()).abs() < 1e-12);
        let chrf = &b.also[0];
        assert_eq!(chrf.figure, "chrf");
        assert!((chrf.student.unwrap().estimate - e.student.chrf).abs() < 1e-9);
        // Independently: every resample's rows written out and scored as a corpus.
        let mut student_bleu: Vec<f64> = (0..40)
            .map(|i| {
                let w = crate::bootstrap::resample_weights(6, i, refs.len());
                let (mut rr, mut ss) = (Vec::new(), Vec::new());
                for (j, &k) in w.iter().enumerate() {
                    for _ in 0..k {
                        rr.push(refs[j]);
                        ss.push(student[j]);
                    }
                }
                bleu::corpus_bleu(&ss, &rr).unwrap().score
            })
            .collect();
        student_bleu.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let h = 39.0 * q;
            let lo = h.floor() as usize;
            student_bleu[lo] + (student_bleu[lo + 1] - student_bleu[lo]) * (h - lo as f64)
        };
        let s = b.student.unwrap();
        assert!((s.lower - at(0.025)).abs() < 1e-9, "{s:?}");
        assert!((s.upper - at(0.975)).abs() < 1e-9, "{s:?}");
        assert!(s.lower <= s.estimate && s.estimate <= s.upper);
    }
}
