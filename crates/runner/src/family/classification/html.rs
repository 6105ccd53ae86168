//! The HTML report of a classifier: the verdict and headline figures, reliability diagrams and
//! confidence histograms of both models, confusion matrices, per-class figures, the KL
//! distribution and the examples where the student diverges. The page frame and charts are
//! `crate::render::html`'s and `crate::render::svg`'s.

use std::io::{self, Write};

use distill_eval_metrics::{CalibrationBin, SideMetrics};

use super::{figures, ClassificationFindings, ExampleRow};
use crate::render::escape::html as esc;
use crate::render::fmt::{f4, int, opt_pct, pct, pval};
use crate::render::html::{card, foot, head, long_text, model_row};
use crate::render::{interpret, svg};
use crate::report::Report;

/// Largest class count drawn as confusion heat maps; larger ones are left to the JSON.
const MAX_HEATMAP_CLASSES: usize = 20;

fn bins(b: &[CalibrationBin]) -> Vec<svg::Bin> {
    b.iter()
        .map(|x| svg::Bin {
            lower: x.lower,
            upper: x.upper,
            count: x.count,
            accuracy: x.accuracy,
            confidence: x.confidence,
        })
        .collect()
}

fn example_table(out: &mut dyn Write, rows: &[ExampleRow]) -> io::Result<()> {
    writeln!(
        out,
        "<table><tr><th>#</th><th class=\"l\">input</th><th class=\"l\">true</th>\
         <th class=\"l\"><span class=\"t\">teacher</span></th><th class=\"l\"><span class=\"s\">student</span></th><th>KL</th></tr>"
    )?;
    for r in rows {
        let text = match (&r.text, &r.pair) {
            (Some(t), Some(p)) => format!(
                "{}<br><span class=\"muted\">{}</span>",
                long_text(t),
                long_text(p)
            ),
            (Some(t), None) => long_text(t),
            _ => "<span class=\"muted\">(row only)</span>".to_owned(),
        };
        let answer = |a: &super::Answer| {
            format!(
                "{} {}<br><span class=\"muted\">p(true) {}</span>",
                esc(&a.prediction),
                esc(&pct(a.confidence)),
                esc(&pct(a.p_true))
            )
        };
        writeln!(
            out,
            "<tr><td>{}</td><td class=\"text\">{text}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td></tr>",
            r.index,
            esc(&r.label),
            answer(&r.teacher),
            answer(&r.student),
            esc(&f4(r.kl))
        )?;
    }
    writeln!(out, "</table>")
}

/// Writes the HTML report of a teacher/student evaluation.
pub(crate) fn report(f: &ClassificationFindings, r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let e = &f.evaluation;
    let n = e.n_examples as u64;
    head(out, &format!("distill-eval: {}", e.verdict))?;
    writeln!(out, "<h1>Student vs. teacher</h1>")?;
    let who = match (&r.teacher_model, &r.student_model, &r.inputs) {
        (Some(t), Some(s), _) => format!("{} → {}", t.info.id, s.info.id),
        (None, Some(s), Some(i)) => format!("{} → {}", i.teacher_logits, s.info.id),
        (_, _, Some(i)) => format!("{} → {}", i.teacher_logits, i.student_logits),
        _ => String::new(),
    };
    writeln!(
        out,
        "<p class=\"muted\">{} · {} examples · {} classes · temperature {}</p>",
        esc(&who),
        int(n),
        e.num_classes,
        e.temperature
    )?;

    // Verdict and headline figures.
    writeln!(
        out,
        "<section class=\"verdict\"><span class=\"badge {v}\">{v}</span><div><strong>{}</strong><br>{}</div></section>",
        esc(e.verdict.headline()),
        esc(&e.recommendation),
        v = e.verdict
    )?;
    writeln!(out, "<div class=\"cards\">")?;
    card(
        out,
        "accuracy retention",
        &opt_pct(e.accuracy_retention),
        &format!(
            "student {} / teacher {}",
            f4(e.student.accuracy),
            f4(e.teacher.accuracy)
        ),
    )?;
    card(
        out,
        "KL(teacher ‖ student)",
        &f4(e.kl_divergence),
        interpret::kl(e.kl_divergence),
    )?;
    card(
        out,
        "top-1 agreement",
        &pct(e.agreement),
        &format!("F1 retention {}", opt_pct(e.f1_retention)),
    )?;
    card(
        out,
        "ECE student / teacher",
        &format!("{} / {}", f4(e.student.ece), f4(e.teacher.ece)),
        interpret::ece(e.student.ece),
    )?;
    card(
        out,
        "Spearman (confidence)",
        &f4(e.ranking.spearman),
        interpret::ranking(e.ranking.spearman),
    )?;
    card(
        out,
        "only student wrong",
        &int(e.errors.only_student_wrong),
        &pct(e.errors.only_student_wrong as f64 / n.max(1) as f64),
    )?;
    writeln!(out, "</div>")?;
    for w in &e.warnings {
        writeln!(out, "<div class=\"warn\">{}</div>", esc(w))?;
    }
    if let Some(g) = &r.gate {
        if g.passed {
            writeln!(out, "<p>Quality gates: passed.</p>")?;
        } else {
            writeln!(
                out,
                "<div class=\"warn\">Quality gate failed: {}</div>",
                esc(&g.failures.join("; "))
            )?;
        }
    }

    if let Some(b) = &f.bootstrap {
        writeln!(
            out,
            "<h2>Is the difference real?</h2><p class=\"muted\">{:.0}% paired bootstrap intervals, {} resamples, seed {}.</p>",
            100.0 * b.level,
            int(b.resamples as u64),
            b.seed
        )?;
        writeln!(
            out,
            "<table><tr><th class=\"l\"></th><th>estimate</th><th>interval</th></tr>"
        )?;
        for (name, i) in figures::intervals(b) {
            writeln!(
                out,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>[{}, {}]</td></tr>",
                esc(name),
                f4(i.estimate),
                f4(i.lower),
                f4(i.upper)
            )?;
        }
        writeln!(out, "</table>")?;
        for line in &b.borderline {
            writeln!(out, "<div class=\"warn\">Borderline: {}</div>", esc(line))?;
        }
    }

    // What was evaluated.
    if r.teacher_model.is_some() || r.student_model.is_some() {
        writeln!(out, "<h2>Models</h2><table><tr><th class=\"l\"></th><th class=\"l\">model</th><th class=\"l\">revision</th><th class=\"l\">architecture</th><th>parameters</th><th>speed</th><th class=\"l\">device</th></tr>")?;
        if let Some(t) = &r.teacher_model {
            model_row(out, "teacher", "t", t)?;
        }
        if let Some(s) = &r.student_model {
            model_row(out, "student", "s", s)?;
        }
        writeln!(out, "</table>")?;
        if let (Some(t), Some(s)) = (&r.teacher_model, &r.student_model) {
            writeln!(
                out,
                "<p>The student has {} of the teacher's parameters and runs {:.1}× as fast.</p>",
                pct(s.info.parameters as f64 / t.info.parameters.max(1) as f64),
                s.examples_per_second / t.examples_per_second
            )?;
        }
    }
    if let Some(d) = &r.dataset {
        writeln!(out, "<p class=\"muted\">Data: {} ({} rows; text field <code>{}</code>, label field <code>{}</code>)</p>", esc(&d.source), int(d.rows as u64), esc(&d.text_field), esc(&d.label_field))?;
    }

    // Calibration.
    writeln!(out, "<h2>Calibration</h2>")?;
    writeln!(
        out,
        "<p>ECE gap (student − teacher): <strong>{}</strong>. A bar below the diagonal is over-confident.</p>",
        esc(&f4(e.student.ece - e.teacher.ece))
    )?;
    writeln!(
        out,
        "<div class=\"pair\"><figure>{}</figure><figure>{}</figure></div>",
        svg::reliability(
            "Teacher reliability",
            &bins(&e.teacher.ece_bins),
            svg::TEACHER,
            e.teacher.ece
        ),
        svg::reliability(
            "Student reliability",
            &bins(&e.student.ece_bins),
            svg::STUDENT,
            e.student.ece
        )
    )?;
    {
        let h = &f.histograms;
        writeln!(
            out,
            "<figure>{}</figure>",
            svg::histogram(
                "Confidence (largest probability)",
                "confidence",
                &h.confidence_edges,
                &[
                    ("teacher", svg::TEACHER, &h.teacher_confidence),
                    ("student", svg::STUDENT, &h.student_confidence)
                ],
                false,
            )
        )?;
    }
    side_table(out, &figures::CALIBRATION, &e.teacher, &e.student)?;
    if let Some(c) = &f.calibration {
        writeln!(out, "<h3>Temperature scaling</h3><p>A temperature fitted by minimising NLL on one half of the data and measured on the other half (then the halves swap), so no figure comes from the data it was fitted to.</p>")?;
        writeln!(out, "<table><tr><th class=\"l\"></th><th>fitted T</th><th>ECE before</th><th>ECE after</th><th>NLL before</th><th>NLL after</th></tr>")?;
        for (who, s) in figures::scaling(c) {
            writeln!(
                out,
                "<tr><td class=\"l\"><span class=\"{}\">{who}</span></td><td>{:.3}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                &who[..1],
                s.temperature,
                f4(s.ece_before),
                f4(s.ece_after),
                f4(s.nll_before),
                f4(s.nll_after)
            )?;
        }
        writeln!(out, "</table>")?;
    }

    // Accuracy.
    writeln!(out, "<h2>Accuracy</h2>")?;
    side_table(out, &figures::ACCURACY, &e.teacher, &e.student)?;
    writeln!(out, "<h3>Per class</h3><table><tr><th class=\"l\">class</th><th>support</th><th colspan=\"3\"><span class=\"t\">teacher</span> P / R / F1</th><th colspan=\"3\"><span class=\"s\">student</span> P / R / F1</th></tr>")?;
    for (t, s) in e.teacher.per_class.iter().zip(&e.student.per_class) {
        writeln!(
            out,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td></tr>",
            esc(&f.class_name(t.class)),
            int(t.support),
            t.precision, t.recall, t.f1, s.precision, s.recall, s.f1
        )?;
    }
    writeln!(out, "</table>")?;
    if let (true, Some(teacher), Some(student)) = (
        e.num_classes <= MAX_HEATMAP_CLASSES,
        e.teacher.confusion_matrix.as_ref(),
        e.student.confusion_matrix.as_ref(),
    ) {
        let names: Vec<String> = (0..e.num_classes).map(|c| f.class_name(c)).collect();
        writeln!(
            out,
            "<div class=\"pair\"><figure>{}</figure><figure>{}</figure></div>",
            svg::heatmap(
                "Teacher confusion",
                &names,
                teacher,
                svg::TEACHER
            ),
            svg::heatmap(
                "Student confusion",
                &names,
                student,
                svg::STUDENT
            )
        )?;
    } else {
        writeln!(
            out,
            "<p class=\"muted\">{} classes: the confusion counts are in the JSON report \
             (as a matrix up to {} classes, else their non-zero cells).</p>",
            e.num_classes,
            distill_eval_metrics::classification::DENSE_CONFUSION_MAX_CLASSES
        )?;
    }

    // Divergence.
    writeln!(out, "<h2>Divergence from the teacher</h2>")?;
    let q = &e.kl_percentiles;
    {
        let h = &f.histograms;
        writeln!(
            out,
            "<figure>{}</figure>",
            svg::histogram_with_markers(
                "Per-example KL(teacher ‖ student)",
                "KL (nats)",
                &h.kl_edges,
                &[("examples", svg::STUDENT, &h.kl)],
                true,
                &[("p50", q.p50), ("p90", q.p90), ("p99", q.p99)],
            )
        )?;
    }
    writeln!(
        out,
        "<table><tr><th class=\"l\">mean KL(t‖s)</th><th>KL(s‖t)</th><th>Jensen-Shannon</th><th>cosine distance</th><th>Wasserstein-1 (conf.)</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max</th></tr>\
         <tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>",
        f4(e.kl_divergence), f4(e.reverse_kl_divergence), f4(e.js_divergence), f4(e.cosine_distance), f4(e.wasserstein_confidence), f4(q.p50), f4(q.p90), f4(q.p95), f4(q.p99), f4(q.max)
    )?;
    writeln!(
        out,
        "<p>Rank correlation of confidences: Spearman {} (p = {}), Kendall τ-b {} (p = {}): {}.</p>",
        f4(e.ranking.spearman), esc(&pval(e.ranking.spearman_p)), f4(e.ranking.kendall), esc(&pval(e.ranking.kendall_p)),
        esc(interpret::ranking(e.ranking.spearman))
    )?;

    // Where the student diverges.
    {
        let d = &f.divergent_examples;
        writeln!(out, "<h2>Where the student diverges</h2>")?;
        writeln!(out, "<h3>Largest KL</h3>")?;
        example_table(out, &d.largest_kl)?;
        writeln!(
            out,
            "<h3>Only the student is wrong ({} of {} examples{})</h3>",
            int(d.only_student_wrong_total as u64),
            int(n),
            if d.only_student_wrong.len() < d.only_student_wrong_total {
                ", largest KL first"
            } else {
                ""
            }
        )?;
        if d.only_student_wrong.is_empty() {
            writeln!(
                out,
                "<p>None: wherever the teacher is right, so is the student.</p>"
            )?;
        } else {
            example_table(out, &d.only_student_wrong)?;
        }
    }

    // Error analysis.
    writeln!(out, "<h2>Error analysis</h2><table><tr><th class=\"l\"></th><th>examples</th><th>share</th></tr>")?;
    let er = &e.errors;
    for (name, c) in [
        ("both correct", er.both_correct),
        ("both wrong", er.both_wrong),
        ("only student wrong", er.only_student_wrong),
        ("only teacher wrong", er.only_teacher_wrong),
    ] {
        writeln!(
            out,
            "<tr><td class=\"l\">{name}</td><td>{}</td><td>{}</td></tr>",
            int(c),
            pct(c as f64 / n.max(1) as f64)
        )?;
    }
    writeln!(out, "</table>")?;
    writeln!(
        out,
        "<p>McNemar: statistic {}, p = {}: {}.</p>",
        f4(e.mcnemar.statistic),
        esc(&pval(e.mcnemar.p_value)),
        esc(&interpret::mcnemar(
            &e.mcnemar,
            er.only_student_wrong,
            er.only_teacher_wrong
        ))
    )?;
    let th = &f.thresholds;
    writeln!(
        out,
        "<p class=\"muted\">Verdict thresholds: EXCELLENT retention &gt; {} and KL &lt; {}; GOOD retention &gt; {} and KL &lt; {}; ACCEPTABLE retention &gt; {}.</p>",
        th.excellent_retention, th.excellent_kl, th.good_retention, th.good_kl, th.acceptable_retention
    )?;
    foot(out, r.schema_version)
}

fn side_table(
    out: &mut dyn Write,
    rows: &[figures::SideFigure],
    t: &SideMetrics,
    s: &SideMetrics,
) -> io::Result<()> {
    writeln!(out, "<table><tr><th class=\"l\"></th><th><span class=\"t\">teacher</span></th><th><span class=\"s\">student</span></th></tr>")?;
    for (name, get) in rows {
        writeln!(
            out,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            f4(get(t)),
            f4(get(s))
        )?;
    }
    writeln!(out, "</table>")
}
