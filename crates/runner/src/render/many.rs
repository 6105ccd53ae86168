//! Terminal and Markdown renderers of `compare` (students side by side) and `track`
//! (checkpoints over training).

use std::io::{self, Write};

use super::fmt::{f4, int, opt_pct, params, pct, rate};
use super::table::{Align, Table};
use crate::compare::Comparison;
use crate::track::Track;

fn comparison_table(c: &Comparison) -> Table {
    let mut t = Table::new(
        &[
            "",
            "student",
            "accuracy",
            "retention",
            "KL",
            "agreement",
            "ECE",
            "verdict",
            "params",
            "speed",
        ],
        &[
            Align::Left,
            Align::Left,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Left,
            Align::Right,
            Align::Right,
        ],
    );
    for s in &c.students {
        t.row(vec![
            if s.pareto_optimal { "*" } else { "" }.into(),
            s.id.clone(),
            f4(s.accuracy),
            opt_pct(s.accuracy_retention),
            f4(s.kl_divergence),
            pct(s.agreement),
            f4(s.ece),
            s.verdict.to_string(),
            params(s.parameters),
            rate(s.examples_per_second),
        ]);
    }
    t
}

fn teacher_line(id: &str, accuracy: f64, parameters: Option<usize>, speed: Option<f64>) -> String {
    let mut line = format!("Teacher  {id} · accuracy {}", f4(accuracy));
    if let Some(p) = parameters {
        line.push_str(&format!(" · {} params", params(p)));
    }
    if let Some(s) = speed {
        line.push_str(&format!(" · {}", rate(s)));
    }
    line
}

/// The terminal table of a comparison.
pub fn compare_text(c: &Comparison, out: &mut dyn Write) -> io::Result<()> {
    let t = &c.teacher;
    writeln!(
        out,
        "{}",
        teacher_line(&t.id, t.accuracy, t.parameters, t.examples_per_second)
    )?;
    writeln!(
        out,
        "Data     {} · {} examples · temperature {}\n",
        c.dataset.source,
        int(c.dataset.rows as u64),
        c.temperature
    )?;
    out.write_all(comparison_table(c).text("").as_bytes())?;
    writeln!(
        out,
        "\n* on the Pareto frontier of accuracy and KL: no other student is at least as accurate \
         with at most the same KL"
    )
}

/// The Markdown table of a comparison.
pub fn compare_markdown(c: &Comparison, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "## Student comparison\n")?;
    let t = &c.teacher;
    writeln!(
        out,
        "{}; data `{}` ({} examples).\n",
        teacher_line(
            &format!("`{}`", t.id),
            t.accuracy,
            t.parameters,
            t.examples_per_second
        ),
        c.dataset.source,
        int(c.dataset.rows as u64)
    )?;
    out.write_all(comparison_table(c).markdown().as_bytes())?;
    writeln!(out, "\n\\* on the Pareto frontier of accuracy and KL.")
}

/// Unicode sparkline of a series (NaN shown as a space).
pub(crate) fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    values
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                ' '
            } else if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
                BARS[3]
            } else {
                BARS[(((v - lo) / (hi - lo)) * 7.0).round() as usize]
            }
        })
        .collect()
}

fn track_table(tr: &Track) -> Table {
    let mut t = Table::new(
        &[
            "step",
            "accuracy",
            "retention",
            "KL",
            "ECE",
            "agreement",
            "verdict",
            "",
        ],
        &[
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Left,
            Align::Left,
        ],
    );
    for p in &tr.points {
        let mut note = Vec::new();
        if p.step == tr.best_step {
            note.push("best");
        }
        if tr.flags.iter().any(|f| f.step == p.step) {
            note.push("KL rising");
        }
        t.row(vec![
            int(p.step),
            f4(p.accuracy),
            opt_pct(p.accuracy_retention),
            f4(p.kl_divergence),
            f4(p.ece),
            pct(p.agreement),
            p.verdict.to_string(),
            note.join(", "),
        ]);
    }
    t
}

/// The terminal trend of a training run.
pub fn track_text(tr: &Track, out: &mut dyn Write) -> io::Result<()> {
    let t = &tr.teacher;
    writeln!(
        out,
        "{}",
        teacher_line(&t.id, t.accuracy, t.parameters, t.examples_per_second)
    )?;
    writeln!(
        out,
        "Data     {} · {} examples · {} checkpoints\n",
        tr.dataset.source,
        int(tr.dataset.rows as u64),
        tr.points.len()
    )?;
    out.write_all(track_table(tr).text("").as_bytes())?;
    let series =
        |f: fn(&crate::track::TrackPoint) -> f64| -> Vec<f64> { tr.points.iter().map(f).collect() };
    writeln!(out)?;
    writeln!(out, "accuracy  {}", sparkline(&series(|p| p.accuracy)))?;
    writeln!(out, "KL        {}", sparkline(&series(|p| p.kl_divergence)))?;
    writeln!(out, "ECE       {}", sparkline(&series(|p| p.ece)))?;
    writeln!(out, "\nBest checkpoint: step {}", int(tr.best_step))?;
    for f in &tr.flags {
        writeln!(out, "FLAG: {}", f.message)?;
    }
    Ok(())
}

/// The Markdown trend of a training run.
pub fn track_markdown(tr: &Track, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "## Distillation over training\n")?;
    writeln!(
        out,
        "Teacher `{}` (accuracy {}); data `{}`. Best checkpoint: step {}.\n",
        tr.teacher.id,
        f4(tr.teacher.accuracy),
        tr.dataset.source,
        int(tr.best_step)
    )?;
    out.write_all(track_table(tr).markdown().as_bytes())?;
    for f in &tr.flags {
        writeln!(out, "\n> **KL rising:** {}", f.message)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_spans_the_range() {
        assert_eq!(sparkline(&[0.0, 0.5, 1.0]), "▁▅█");
        assert_eq!(sparkline(&[2.0, 2.0]), "▄▄");
        assert_eq!(sparkline(&[1.0, f64::NAN, 0.0]), "█ ▁");
    }
}
