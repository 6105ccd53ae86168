//! Words for figures: the article's reading bands, shared by every renderer so that the terminal,
//! Markdown and HTML reports say the same thing about the same number.

use distill_eval_metrics::McNemar;

/// How close the student's predictive distribution is to the teacher's, by mean KL.
pub(crate) fn kl(kl: f64) -> &'static str {
    if !kl.is_finite() {
        "undefined"
    } else if kl < 0.05 {
        "nearly identical distributions"
    } else if kl < 0.1 {
        "closely matches the teacher"
    } else if kl < 0.5 {
        "noticeable divergence, usually acceptable"
    } else {
        "large divergence: revisit the distillation"
    }
}

/// How well the student preserves the teacher's ordering of examples by confidence.
pub(crate) fn ranking(spearman: f64) -> &'static str {
    if !spearman.is_finite() {
        "undefined (constant confidences)"
    } else if spearman > 0.9 {
        "strong agreement"
    } else if spearman > 0.8 {
        "good agreement"
    } else if spearman >= 0.7 {
        "moderate agreement"
    } else {
        "the models order examples differently"
    }
}

/// How well confidence matches accuracy, by ECE.
pub(crate) fn ece(ece: f64) -> &'static str {
    if !ece.is_finite() {
        "undefined"
    } else if ece < 0.05 {
        "well calibrated"
    } else if ece <= 0.1 {
        "moderately calibrated"
    } else {
        "poorly calibrated: consider temperature scaling"
    }
}

/// McNemar's test in words.
pub(crate) fn mcnemar(m: &McNemar, only_student_wrong: u64, only_teacher_wrong: u64) -> String {
    let test = if m.exact {
        "exact binomial test"
    } else {
        "chi-square with continuity correction"
    };
    if only_student_wrong + only_teacher_wrong == 0 {
        return "the models are never wrong on different examples: no evidence of a difference"
            .to_owned();
    }
    if m.p_value < 0.05 {
        let worse = if only_student_wrong > only_teacher_wrong {
            "the student"
        } else {
            "the teacher"
        };
        format!(
            "the error rates differ significantly ({test}, p < 0.05): {worse} makes more errors \
             the other model avoids"
        )
    } else {
        format!(
            "no significant difference between the error rates ({test}, p >= 0.05): the \
             disagreements could be chance"
        )
    }
}
