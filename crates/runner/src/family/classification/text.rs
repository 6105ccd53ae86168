//! The terminal report, in the six sections of the evaluation: accuracy, distribution
//! similarity, ranking, calibration, error analysis and the overall assessment.

use std::io::{self, Write};

use anstyle::{AnsiColor, Effects, Style};
use distill_eval_metrics::Verdict;

use super::{figures, ClassificationFindings};
use crate::render::fmt::{f4, int, opt_pct, pct, pval};
use crate::render::table::{Align, Table};
use crate::render::{header, interpret};
use crate::report::{self, Report};

/// How the terminal report is drawn.
#[derive(Debug, Clone, Copy)]
struct TextOptions {
    /// Use ANSI colours and bold.
    color: bool,
    /// Per-class tables and confusion matrices are printed up to this many classes.
    max_classes: usize,
}

impl Default for TextOptions {
    fn default() -> Self {
        Self {
            color: false,
            max_classes: 20,
        }
    }
}

/// Confusions listed when there are too many classes for the matrices.
const TOP_CONFUSIONS: usize = 10;

const RULE: &str = "============================================================";

struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, style: Style, s: &str) -> String {
        if self.color {
            format!("{}{s}{}", style.render(), style.render_reset())
        } else {
            s.to_owned()
        }
    }

    fn heading(&self, s: &str) -> String {
        self.paint(Style::new().effects(Effects::BOLD), s)
    }

    fn verdict(&self, v: Verdict) -> String {
        let color = match v {
            Verdict::Excellent => AnsiColor::Green,
            Verdict::Good => AnsiColor::Cyan,
            Verdict::Acceptable => AnsiColor::Yellow,
            _ => AnsiColor::Red,
        };
        self.paint(
            Style::new()
                .fg_color(Some(color.into()))
                .effects(Effects::BOLD),
            &v.to_string(),
        )
    }

    fn warn(&self, s: &str) -> String {
        self.paint(Style::new().fg_color(Some(AnsiColor::Yellow.into())), s)
    }
}

/// Writes the terminal report.
pub(crate) fn render(
    f: &ClassificationFindings,
    report: &Report,
    out: &mut dyn Write,
    style: report::Style,
) -> io::Result<()> {
    let opts = TextOptions {
        color: style.color,
        ..Default::default()
    };
    let p = Painter { color: opts.color };
    let e = &f.evaluation;
    let n = e.n_examples as u64;

    writeln!(out, "{RULE}")?;
    writeln!(
        out,
        "{}",
        p.heading("STUDENT vs. TEACHER EVALUATION REPORT")
    )?;
    writeln!(out, "{RULE}")?;
    write_header(f, report, out)?;

    // 1. Accuracy
    writeln!(out, "\n{}", p.heading("1. ACCURACY"))?;
    let mut t = Table::new(
        &["", "Teacher", "Student"],
        &[Align::Left, Align::Right, Align::Right],
    );
    for (name, get) in figures::ACCURACY {
        t.row(vec![name.into(), f4(get(&e.teacher)), f4(get(&e.student))]);
    }
    out.write_all(t.text("   ").as_bytes())?;
    writeln!(
        out,
        "   Retention: {} of the teacher's accuracy, {} of its weighted F1",
        opt_pct(e.accuracy_retention),
        opt_pct(e.f1_retention)
    )?;
    if e.num_classes <= opts.max_classes {
        writeln!(out, "\n   Per class (precision / recall / F1):")?;
        let mut t = Table::new(
            &["class", "support", "teacher", "student"],
            &[Align::Left, Align::Right, Align::Right, Align::Right],
        );
        for (tc, sc) in e.teacher.per_class.iter().zip(&e.student.per_class) {
            t.row(vec![
                f.class_name(tc.class),
                int(tc.support),
                format!("{:.3} / {:.3} / {:.3}", tc.precision, tc.recall, tc.f1),
                format!("{:.3} / {:.3} / {:.3}", sc.precision, sc.recall, sc.f1),
            ]);
        }
        out.write_all(t.text("   ").as_bytes())?;
        writeln!(
            out,
            "\n   Confusion matrices (rows: true class, columns: predicted):"
        )?;
        for (who, side) in [("teacher", &e.teacher), ("student", &e.student)] {
            let Some(matrix) = side.confusion_matrix.as_ref() else {
                continue;
            };
            let names: Vec<String> = (0..e.num_classes).map(|c| f.class_name(c)).collect();
            let mut header: Vec<&str> = vec![who];
            header.extend(names.iter().map(String::as_str));
            let mut align = vec![Align::Left];
            align.extend(std::iter::repeat_n(Align::Right, e.num_classes));
            let mut t = Table::new(&header, &align);
            for (c, row) in matrix.iter().enumerate() {
                let mut cells = vec![names[c].clone()];
                cells.extend(row.iter().map(|&v| int(v)));
                t.row(cells);
            }
            out.write_all(t.text("   ").as_bytes())?;
        }
    } else {
        writeln!(
            out,
            "   ({} classes: see the JSON or HTML report for the per-class table)",
            e.num_classes
        )?;
        let mistakes = e.student.mistakes();
        if !mistakes.is_empty() {
            writeln!(out, "\n   The student's most frequent confusions:")?;
            let mut t = Table::new(
                &["true class", "predicted", "examples"],
                &[Align::Left, Align::Left, Align::Right],
            );
            for c in mistakes.iter().take(TOP_CONFUSIONS) {
                t.row(vec![
                    f.class_name(c.true_class as usize),
                    f.class_name(c.predicted as usize),
                    int(c.count),
                ]);
            }
            out.write_all(t.text("   ").as_bytes())?;
        }
    }

    // 2. KL divergence
    writeln!(
        out,
        "\n{}",
        p.heading("2. KL DIVERGENCE (distribution similarity)")
    )?;
    let mut t = Table::new(&["", "value"], &[Align::Left, Align::Right]);
    t.row(vec!["KL(teacher || student)".into(), f4(e.kl_divergence)]);
    t.row(vec![
        "KL(student || teacher)".into(),
        f4(e.reverse_kl_divergence),
    ]);
    t.row(vec!["Jensen-Shannon".into(), f4(e.js_divergence)]);
    t.row(vec!["Cosine distance (logits)".into(), f4(e.cosine_distance)]);
    t.row(vec![
        "Wasserstein-1 (confidences)".into(),
        f4(e.wasserstein_confidence),
    ]);
    t.row(vec!["Top-1 agreement".into(), pct(e.agreement)]);
    out.write_all(t.text("   ").as_bytes())?;
    let q = &e.kl_percentiles;
    writeln!(
        out,
        "   Per-example KL: p50 {}  p90 {}  p95 {}  p99 {}  max {}",
        f4(q.p50),
        f4(q.p90),
        f4(q.p95),
        f4(q.p99),
        f4(q.max)
    )?;
    writeln!(
        out,
        "   Reading: {} (T = {})",
        interpret::kl(e.kl_divergence),
        e.temperature
    )?;

    // 3. Ranking
    writeln!(
        out,
        "\n{}",
        p.heading("3. RANKING CORRELATION (student vs. teacher confidence)")
    )?;
    let r = &e.ranking;
    writeln!(
        out,
        "   Spearman  {:>7}  (p = {})",
        f4(r.spearman),
        pval(r.spearman_p)
    )?;
    writeln!(
        out,
        "   Kendall   {:>7}  (p = {})",
        f4(r.kendall),
        pval(r.kendall_p)
    )?;
    writeln!(out, "   Reading: {}", interpret::ranking(r.spearman))?;

    // 4. Calibration
    writeln!(
        out,
        "\n{}",
        p.heading(&format!("4. CALIBRATION ({} equal-width bins)", e.bins))
    )?;
    let mut t = Table::new(
        &["", "Teacher", "Student"],
        &[Align::Left, Align::Right, Align::Right],
    );
    for (name, get) in figures::CALIBRATION {
        t.row(vec![name.into(), f4(get(&e.teacher)), f4(get(&e.student))]);
    }
    out.write_all(t.text("   ").as_bytes())?;
    writeln!(
        out,
        "   Reading: teacher {}; student {}",
        interpret::ece(e.teacher.ece),
        interpret::ece(e.student.ece)
    )?;
    writeln!(
        out,
        "\n   Reliability (count, accuracy, mean confidence per bin):"
    )?;
    let mut t = Table::new(
        &[
            "bin",
            "teacher n",
            "acc",
            "conf",
            "student n",
            "acc",
            "conf",
        ],
        &[
            Align::Left,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
        ],
    );
    let opt = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), f4);
    for (tb, sb) in e.teacher.ece_bins.iter().zip(&e.student.ece_bins) {
        let close = if tb.upper >= 1.0 { "]" } else { ")" };
        t.row(vec![
            format!("[{:.2}, {:.2}{close}", tb.lower, tb.upper),
            int(tb.count),
            opt(tb.accuracy),
            opt(tb.confidence),
            int(sb.count),
            opt(sb.accuracy),
            opt(sb.confidence),
        ]);
    }
    out.write_all(t.text("   ").as_bytes())?;
    if let Some(c) = &f.calibration {
        writeln!(
            out,
            "\n   Temperature scaling (fitted on one half, measured on the other, then swapped):"
        )?;
        out.write_all(figures::scaling_table(c).text("   ").as_bytes())?;
    }

    // 5. Error analysis
    writeln!(out, "\n{}", p.heading("5. ERROR ANALYSIS"))?;
    let er = &e.errors;
    let share = |c: u64| {
        if n == 0 {
            "n/a".to_owned()
        } else {
            pct(c as f64 / n as f64)
        }
    };
    let mut t = Table::new(
        &["", "examples", "share"],
        &[Align::Left, Align::Right, Align::Right],
    );
    for (name, c) in [
        ("Both correct", er.both_correct),
        ("Both wrong", er.both_wrong),
        ("Only student wrong", er.only_student_wrong),
        ("Only teacher wrong", er.only_teacher_wrong),
    ] {
        t.row(vec![name.into(), int(c), share(c)]);
    }
    out.write_all(t.text("   ").as_bytes())?;
    let m = &e.mcnemar;
    writeln!(
        out,
        "   McNemar: statistic {}, p = {} ({})",
        f4(m.statistic),
        pval(m.p_value),
        if m.exact { "exact" } else { "chi-square" }
    )?;
    writeln!(
        out,
        "   Reading: {}",
        interpret::mcnemar(m, er.only_student_wrong, er.only_teacher_wrong)
    )?;
    for w in &e.warnings {
        writeln!(out, "   {}", p.warn(&format!("WARNING: {w}")))?;
    }

    // 6. Overall
    writeln!(out, "\n{RULE}")?;
    writeln!(out, "{}", p.heading("6. OVERALL ASSESSMENT"))?;
    writeln!(out, "{RULE}")?;
    if let Some(b) = &f.bootstrap {
        writeln!(
            out,
            "{:.0}% bootstrap intervals ({} paired resamples, seed {}):",
            100.0 * b.level,
            int(b.resamples as u64),
            b.seed
        )?;
        out.write_all(figures::intervals_table(b).text("   ").as_bytes())?;
        for line in &b.borderline {
            writeln!(out, "   {}", p.warn(&format!("BORDERLINE: {line}")))?;
        }
    }
    writeln!(
        out,
        "STATUS: {} - {}",
        p.verdict(e.verdict),
        e.verdict.headline()
    )?;
    writeln!(out, "RECOMMENDATION: {}", e.recommendation)?;
    let th = &f.thresholds;
    writeln!(
        out,
        "(EXCELLENT: retention > {} and KL < {}; GOOD: retention > {} and KL < {}; \
         ACCEPTABLE: retention > {})",
        th.excellent_retention,
        th.excellent_kl,
        th.good_retention,
        th.good_kl,
        th.acceptable_retention
    )?;
    Ok(())
}

fn write_header(f: &ClassificationFindings, report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let e = &f.evaluation;
    header::text(report, out)?;
    let classes = if e.num_classes <= 8 {
        format!(
            " ({})",
            (0..e.num_classes)
                .map(|c| f.class_name(c))
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        String::new()
    };
    writeln!(
        out,
        " {} examples, {} classes{classes}, temperature {}",
        int(e.n_examples as u64),
        e.num_classes,
        e.temperature
    )?;
    Ok(())
}

