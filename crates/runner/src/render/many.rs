//! Terminal and Markdown renderers of `compare` (students side by side) and `track`
//! (checkpoints over training).

use std::io::{self, Write};

use super::fmt::{f4, int, params, pct, rate};
use super::table::{Align, Table};
use crate::report::compare::{Comparison, Figures, TeacherSummary};
use crate::report::track::Track;
use crate::report::{FigureFormat, FigureSpec, SummarySpec};

/// The specs of `keys`, in that order (keys a family does not declare are skipped).
pub(crate) fn columns<'a>(figures: &'a [FigureSpec], keys: &[&str]) -> Vec<&'a FigureSpec> {
    keys.iter()
        .filter_map(|k| figures.iter().find(|f| f.key == *k))
        .collect()
}

/// A figure as tables print it (`n/a` when undefined).
pub(crate) fn figure_cell(spec: &FigureSpec, value: Option<f64>) -> String {
    let v = value.unwrap_or(f64::NAN);
    match spec.format {
        FigureFormat::Decimal => f4(v),
        FigureFormat::Percent => pct(v),
    }
}

fn cells(columns: &[&FigureSpec], figures: &Figures) -> Vec<String> {
    columns
        .iter()
        .map(|c| figure_cell(c, figures.get(c.key)))
        .collect()
}

/// Whether every student was read from saved outputs (no model was run: no sizes, speeds or
/// temperature to show).
fn saved_only(c: &Comparison) -> bool {
    c.reports.iter().all(|r| r.student_model.is_none())
}

fn comparison_table(c: &Comparison) -> Table {
    let columns = columns(c.spec.figures, c.spec.compare_columns);
    let runs = !saved_only(c);
    let mut header = vec!["", "student"];
    header.extend(columns.iter().map(|c| c.column));
    header.push("verdict");
    let mut align = vec![Align::Left, Align::Left];
    align.extend(std::iter::repeat_n(Align::Right, columns.len()));
    align.push(Align::Left);
    if runs {
        header.extend(["params", "speed"]);
        align.extend([Align::Right, Align::Right]);
    }
    let mut t = Table::new(&header, &align);
    for s in &c.students {
        let mut row = vec![if s.pareto_optimal { "*" } else { "" }.into(), s.id.clone()];
        row.extend(cells(&columns, &s.figures));
        row.push(s.verdict.to_string());
        if runs {
            row.extend([params(s.parameters), rate(s.examples_per_second)]);
        }
        t.row(row);
    }
    t
}

fn teacher_line(id: &str, t: &TeacherSummary, spec: &SummarySpec) -> String {
    let first = &spec.teacher[0];
    let mut line = format!(
        "Teacher  {id} · {} {}",
        first.column,
        figure_cell(first, t.figures.get(first.key))
    );
    if let Some(p) = t.parameters {
        line.push_str(&format!(" · {} params", params(p)));
    }
    if let Some(s) = t.examples_per_second {
        line.push_str(&format!(" · {}", rate(s)));
    }
    line
}

/// The terminal table of a comparison.
pub fn compare_text(c: &Comparison, out: &mut dyn Write) -> io::Result<()> {
    let t = &c.teacher;
    writeln!(out, "{}", teacher_line(&t.id, t, c.spec))?;
    if saved_only(c) {
        writeln!(
            out,
            "Data     {} · {} rows\n",
            c.dataset.source,
            int(c.dataset.rows as u64)
        )?;
    } else {
        writeln!(
            out,
            "Data     {} · {} examples · temperature {}\n",
            c.dataset.source,
            int(c.dataset.rows as u64),
            c.temperature
        )?;
    }
    out.write_all(comparison_table(c).text("").as_bytes())?;
    let (quality, divergence) = c.spec.names;
    writeln!(
        out,
        "\n* on the Pareto frontier of {quality} and {divergence}: {}",
        c.spec.pareto_note
    )
}

/// The Markdown table of a comparison.
pub fn compare_markdown(c: &Comparison, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "## Student comparison\n")?;
    let t = &c.teacher;
    writeln!(
        out,
        "{}; data `{}` ({} examples).\n",
        teacher_line(&format!("`{}`", t.id), t, c.spec),
        c.dataset.source,
        int(c.dataset.rows as u64)
    )?;
    out.write_all(comparison_table(c).markdown().as_bytes())?;
    let (quality, divergence) = c.spec.names;
    writeln!(
        out,
        "\n\\* on the Pareto frontier of {quality} and {divergence}."
    )
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
    let columns = columns(tr.spec.figures, tr.spec.track_columns);
    let mut header = vec!["step"];
    header.extend(columns.iter().map(|c| c.column));
    header.extend(["verdict", ""]);
    let mut align = vec![Align::Right];
    align.extend(std::iter::repeat_n(Align::Right, columns.len()));
    align.extend([Align::Left, Align::Left]);
    let mut t = Table::new(&header, &align);
    let rising = format!("{} rising", tr.spec.names.1);
    for p in &tr.points {
        let mut note = Vec::new();
        if p.step == tr.best_step {
            note.push("best");
        }
        if tr.flags.iter().any(|f| f.step == p.step) {
            note.push(rising.as_str());
        }
        let mut row = vec![int(p.step)];
        row.extend(cells(&columns, &p.figures));
        row.extend([p.verdict.to_string(), note.join(", ")]);
        t.row(row);
    }
    t
}

/// The terminal trend of a training run.
pub fn track_text(tr: &Track, out: &mut dyn Write) -> io::Result<()> {
    let t = &tr.teacher;
    writeln!(out, "{}", teacher_line(&t.id, t, tr.spec))?;
    writeln!(
        out,
        "Data     {} · {} examples · {} checkpoints\n",
        tr.dataset.source,
        int(tr.dataset.rows as u64),
        tr.points.len()
    )?;
    out.write_all(track_table(tr).text("").as_bytes())?;
    writeln!(out)?;
    for s in tr.spec.trend {
        let series: Vec<f64> = tr.points.iter().map(|p| p.figures.value(s.key)).collect();
        writeln!(out, "{:<9} {}", s.name, sparkline(&series))?;
    }
    writeln!(out, "\nBest checkpoint: step {}", int(tr.best_step))?;
    for f in &tr.flags {
        writeln!(out, "FLAG: {}", f.message)?;
    }
    Ok(())
}

/// The Markdown trend of a training run.
pub fn track_markdown(tr: &Track, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "## Distillation over training\n")?;
    let first = &tr.spec.teacher[0];
    writeln!(
        out,
        "Teacher `{}` ({} {}); data `{}`. Best checkpoint: step {}.\n",
        tr.teacher.id,
        first.column,
        figure_cell(first, tr.teacher.figures.get(first.key)),
        tr.dataset.source,
        int(tr.best_step)
    )?;
    out.write_all(track_table(tr).markdown().as_bytes())?;
    let rising = format!("{} rising", tr.spec.names.1);
    for f in &tr.flags {
        writeln!(out, "\n> **{rising}:** {}", f.message)?;
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
