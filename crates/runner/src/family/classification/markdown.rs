//! The Markdown report: the same sections as the terminal report, as GitHub-flavoured tables
//! (for pull requests, wikis and `GITHUB_STEP_SUMMARY`).

use std::io::{self, Write};

use super::{figures, ClassificationFindings};
use crate::render::fmt::{f4, int, opt_pct, params, pct, pval, rate};
use crate::render::interpret;
use crate::render::table::{Align, Table};
use crate::report::Report;

/// Writes the Markdown report.
pub(crate) fn render(
    f: &ClassificationFindings,
    report: &Report,
    out: &mut dyn Write,
) -> io::Result<()> {
    let e = &f.evaluation;
    let n = e.n_examples as u64;
    writeln!(out, "## Distillation report: {}", e.verdict)?;
    writeln!(out)?;
    writeln!(
        out,
        "**{}** - {}\n\n{}\n",
        e.verdict,
        e.verdict.headline(),
        e.recommendation
    )?;

    let mut t = Table::new(
        &["", "model", "architecture", "parameters", "speed"],
        &[
            Align::Left,
            Align::Left,
            Align::Left,
            Align::Right,
            Align::Right,
        ],
    );
    for (role, run) in [
        ("teacher", &report.teacher_model),
        ("student", &report.student_model),
    ] {
        if let Some(r) = run {
            t.row(vec![
                role.into(),
                format!("`{}`", r.info.id),
                r.info.architecture.clone(),
                params(r.info.parameters),
                rate(r.examples_per_second),
            ]);
        }
    }
    if report.teacher_model.is_some() || report.student_model.is_some() {
        out.write_all(t.markdown().as_bytes())?;
        writeln!(out)?;
    }
    if let Some(inputs) = &report.inputs {
        writeln!(
            out,
            "Logits: teacher `{}`, student `{}`",
            inputs.teacher_logits, inputs.student_logits
        )?;
        writeln!(out)?;
    }
    if let Some(d) = &report.dataset {
        writeln!(out, "Data: `{}`, {} rows", d.source, int(d.rows as u64))?;
        writeln!(out)?;
    }
    writeln!(
        out,
        "{} examples, {} classes, temperature {}, {} calibration bins.\n",
        int(n),
        e.num_classes,
        e.temperature,
        e.bins
    )?;

    writeln!(out, "### Headline\n")?;
    let mut t = Table::new(
        &["metric", "value", "reading"],
        &[Align::Left, Align::Right, Align::Left],
    );
    t.row(vec![
        "accuracy retention".into(),
        opt_pct(e.accuracy_retention),
        String::new(),
    ]);
    t.row(vec![
        "F1 retention".into(),
        opt_pct(e.f1_retention),
        String::new(),
    ]);
    t.row(vec![
        "KL(teacher ‖ student)".into(),
        f4(e.kl_divergence),
        interpret::kl(e.kl_divergence).into(),
    ]);
    t.row(vec![
        "top-1 agreement".into(),
        pct(e.agreement),
        String::new(),
    ]);
    t.row(vec![
        "Spearman (confidence)".into(),
        f4(e.ranking.spearman),
        interpret::ranking(e.ranking.spearman).into(),
    ]);
    out.write_all(t.markdown().as_bytes())?;

    writeln!(out, "\n### Accuracy and calibration\n")?;
    let mut t = Table::new(
        &["", "teacher", "student"],
        &[Align::Left, Align::Right, Align::Right],
    );
    for &(name, get) in figures::ACCURACY.iter().chain(&figures::CALIBRATION) {
        t.row(vec![name.into(), f4(get(&e.teacher)), f4(get(&e.student))]);
    }
    out.write_all(t.markdown().as_bytes())?;

    if let Some(c) = &f.calibration {
        writeln!(
            out,
            "\nTemperature scaling (fitted on one half, measured on the other):\n"
        )?;
        out.write_all(figures::scaling_table(c).markdown().as_bytes())?;
    }

    writeln!(out, "\n### Divergence and ranking\n")?;
    let q = &e.kl_percentiles;
    let mut t = Table::new(&["", "value"], &[Align::Left, Align::Right]);
    t.row(vec![
        "KL(student ‖ teacher)".into(),
        f4(e.reverse_kl_divergence),
    ]);
    t.row(vec!["Jensen-Shannon".into(), f4(e.js_divergence)]);
    t.row(vec![
        "Cosine distance (logits)".into(),
        f4(e.cosine_distance),
    ]);
    t.row(vec![
        "Wasserstein-1 (confidences)".into(),
        f4(e.wasserstein_confidence),
    ]);
    t.row(vec![
        "KL p50 / p90 / p95 / p99 / max".into(),
        format!(
            "{} / {} / {} / {} / {}",
            f4(q.p50),
            f4(q.p90),
            f4(q.p95),
            f4(q.p99),
            f4(q.max)
        ),
    ]);
    t.row(vec![
        "Spearman".into(),
        format!(
            "{} (p = {})",
            f4(e.ranking.spearman),
            pval(e.ranking.spearman_p)
        ),
    ]);
    t.row(vec![
        "Kendall tau-b".into(),
        format!(
            "{} (p = {})",
            f4(e.ranking.kendall),
            pval(e.ranking.kendall_p)
        ),
    ]);
    out.write_all(t.markdown().as_bytes())?;

    writeln!(out, "\n### Error analysis\n")?;
    let er = &e.errors;
    let mut t = Table::new(
        &["", "examples", "share"],
        &[Align::Left, Align::Right, Align::Right],
    );
    for (name, c) in [
        ("both correct", er.both_correct),
        ("both wrong", er.both_wrong),
        ("only student wrong", er.only_student_wrong),
        ("only teacher wrong", er.only_teacher_wrong),
    ] {
        let share = if n == 0 {
            "n/a".into()
        } else {
            pct(c as f64 / n as f64)
        };
        t.row(vec![name.into(), int(c), share]);
    }
    out.write_all(t.markdown().as_bytes())?;
    writeln!(
        out,
        "\nMcNemar: statistic {}, p = {}: {}.",
        f4(e.mcnemar.statistic),
        pval(e.mcnemar.p_value),
        interpret::mcnemar(&e.mcnemar, er.only_student_wrong, er.only_teacher_wrong)
    )?;
    if let Some(b) = &f.bootstrap {
        writeln!(
            out,
            "\n### {:.0}% bootstrap intervals ({} resamples, seed {})\n",
            100.0 * b.level,
            int(b.resamples as u64),
            b.seed
        )?;
        out.write_all(figures::intervals_table(b).markdown().as_bytes())?;
        for line in &b.borderline {
            writeln!(out, "\n> **Borderline:** {line}")?;
        }
    }
    if !e.warnings.is_empty() {
        writeln!(out)?;
        for w in &e.warnings {
            writeln!(out, "> **Warning:** {w}")?;
        }
    }
    Ok(())
}
