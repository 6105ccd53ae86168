//! HTML pages: one self-contained file (inline CSS and SVG, no script, no network) to open in a
//! browser or attach to a pull request. The page frame and the parts every family shares are
//! here, with `compare`'s and `track`'s pages; each family draws its own report's sections.
//!
//! Every text that reaches the page goes through [`escape::html`](super::escape::html); charts
//! come from [`svg`]. Teacher and student keep the same colours everywhere ([`svg::TEACHER`],
//! [`svg::STUDENT`]).

use std::io::{self, Write};

use super::escape::html as esc;
use super::fmt::{int, params, rate};
use super::many::{columns, figure_cell};
use super::svg;
use crate::engine::ModelRun;
use crate::report::compare::Comparison;
use crate::report::track::Track;

const CSS: &str = r#"
:root { --teacher: #2563eb; --student: #f97316; --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb;
  --bg: #ffffff; --panel: #f9fafb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); background: var(--bg); }
main { max-width: 1040px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 16px 0 6px; }
p, li { max-width: 80ch; }
.muted { color: var(--muted); }
.verdict { display: flex; gap: 16px; align-items: center; padding: 16px 20px; border-radius: 10px;
  background: var(--panel); border: 1px solid var(--line); margin: 16px 0; }
.badge { font-weight: 700; font-size: 18px; padding: 6px 14px; border-radius: 8px; color: #fff; white-space: nowrap; }
.badge.EXCELLENT { background: #15803d; } .badge.GOOD { background: #0e7490; }
.badge.ACCEPTABLE { background: #b45309; } .badge.WEAK { background: #b91c1c; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; margin: 12px 0; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card .v { font-size: 20px; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .k { color: var(--muted); font-size: 12px; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
@media (max-width: 760px) { .pair { grid-template-columns: 1fr; } }
figure { margin: 0; }
figure > svg { display: block; max-width: 560px; }
.pair figure > svg { max-width: 100%; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 2px; }
table { border-collapse: collapse; margin: 8px 0; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: right; vertical-align: top; }
th { font-weight: 600; background: var(--panel); }
td.l, th.l { text-align: left; }
td.text { text-align: left; max-width: 420px; overflow-wrap: anywhere; }
.t { color: var(--teacher); font-weight: 600; } .s { color: var(--student); font-weight: 600; }
.warn { background: #fef3c7; border: 1px solid #f59e0b; border-radius: 6px; padding: 8px 12px; margin: 8px 0; }
.front { font-weight: 700; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"#;

pub(crate) fn head(out: &mut dyn Write, title: &str) -> io::Result<()> {
    writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>",
        esc(title)
    )
}

pub(crate) fn foot(out: &mut dyn Write, schema: u32) -> io::Result<()> {
    writeln!(
        out,
        "<footer>distill-eval {} · report schema {schema}</footer>\n</main>\n</body>\n</html>",
        esc(env!("CARGO_PKG_VERSION"))
    )
}

pub(crate) fn card(out: &mut dyn Write, key: &str, value: &str, sub: &str) -> io::Result<()> {
    writeln!(
        out,
        "<div class=\"card\"><div class=\"k\">{}</div><div class=\"v\">{}</div><div class=\"k\">{}</div></div>",
        esc(key),
        esc(value),
        esc(sub)
    )
}

pub(crate) fn model_row(
    out: &mut dyn Write,
    role: &str,
    class: &str,
    run: &ModelRun,
) -> io::Result<()> {
    let i = &run.info;
    writeln!(
        out,
        "<tr><td class=\"l\"><span class=\"{class}\">{}</span></td><td class=\"l\">{}</td><td class=\"l\">{}</td>\
         <td class=\"l\">{}</td><td>{}</td><td>{}</td><td class=\"l\">{} {}</td></tr>",
        esc(role),
        esc(&i.id),
        esc(i.revision.as_deref().unwrap_or("local")),
        esc(&i.architecture),
        esc(&params(i.parameters)),
        esc(&run
            .tokens_per_second
            .map_or_else(|| rate(run.examples_per_second), super::fmt::token_rate)),
        esc(&i.device),
        esc(&i.dtype)
    )
}

/// Characters of an input shown before the rest is folded away.
const TEXT_SHOWN: usize = 240;

/// An input text, escaped; long ones fold into a `<details>` element (no script needed).
pub(crate) fn long_text(t: &str) -> String {
    if t.is_empty() {
        return "<span class=\"muted\">(empty)</span>".to_owned();
    }
    let count = t.chars().count();
    if count <= TEXT_SHOWN {
        return esc(t);
    }
    let head: String = t.chars().take(TEXT_SHOWN).collect();
    format!(
        "<details><summary>{}… ({} characters)</summary>{}</details>",
        esc(&head),
        int(count as u64),
        esc(t)
    )
}

/// Writes the HTML comparison of several students.
pub fn compare(c: &Comparison, out: &mut dyn Write) -> io::Result<()> {
    let spec = c.spec;
    let first = &spec.teacher[0];
    head(out, "distill-eval: student comparison")?;
    writeln!(out, "<h1>Student comparison</h1>")?;
    writeln!(
        out,
        "<p class=\"muted\">Teacher {} ({} {}) · {} · {} examples</p>",
        esc(&c.teacher.id),
        esc(first.column),
        figure_cell(first, c.teacher.figures.get(first.key)),
        esc(&c.dataset.source),
        int(c.dataset.rows as u64)
    )?;
    if let Some(g) = &c.gate {
        if !g.passed {
            writeln!(
                out,
                "<div class=\"warn\">Quality gate failed: {}</div>",
                esc(&g.failures.join("; "))
            )?;
        }
    }
    let points: Vec<svg::Point> = c
        .students
        .iter()
        .map(|s| svg::Point {
            x: s.figures.value(spec.divergence),
            y: s.figures.value(spec.quality),
            label: s.id.clone(),
            highlight: s.pareto_optimal,
        })
        .collect();
    let (title, x_axis, y_axis) = spec.scatter;
    writeln!(
        out,
        "<figure>{}<figcaption>Filled points are on the Pareto frontier: {}.</figcaption></figure>",
        svg::scatter(title, x_axis, y_axis, &points, true),
        esc(spec.pareto_note)
    )?;
    let columns = columns(spec.figures, spec.compare_columns);
    let mut header = String::from("<table><tr><th class=\"l\">student</th>");
    for col in &columns {
        header.push_str(&format!("<th>{}</th>", esc(col.column)));
    }
    // Saved outputs of a task family: no model was run, so no size or speed to show.
    let runs = c.reports.iter().any(|r| r.student_model.is_some());
    header.push_str("<th class=\"l\">verdict</th>");
    if runs {
        header.push_str("<th>parameters</th><th>speed</th>");
    }
    header.push_str("</tr>");
    writeln!(out, "{header}")?;
    for s in &c.students {
        let class = if s.pareto_optimal {
            " class=\"front\""
        } else {
            ""
        };
        let mut cells = String::new();
        for col in &columns {
            cells.push_str(&format!(
                "<td>{}</td>",
                figure_cell(col, s.figures.get(col.key))
            ));
        }
        let sizes = if runs {
            format!(
                "<td>{}</td><td>{}</td>",
                esc(&params(s.parameters)),
                esc(&rate(s.examples_per_second))
            )
        } else {
            String::new()
        };
        writeln!(
            out,
            "<tr{class}><td class=\"l\">{}{}</td>{cells}<td class=\"l\"><span class=\"badge {v}\" style=\"font-size:12px;padding:2px 8px\">{v}</span></td>{sizes}</tr>",
            if s.pareto_optimal { "★ " } else { "" },
            esc(&s.id),
            v = s.verdict
        )?;
    }
    writeln!(out, "</table>")?;
    foot(out, c.schema_version)
}

/// Writes the HTML trend of a student's checkpoints.
pub fn track(t: &Track, out: &mut dyn Write) -> io::Result<()> {
    let spec = t.spec;
    let first = &spec.teacher[0];
    head(out, "distill-eval: distillation over training")?;
    writeln!(out, "<h1>Distillation over training</h1>")?;
    writeln!(
        out,
        "<p class=\"muted\">Teacher {} ({} {}) · {} · {} examples · best checkpoint: step {}</p>",
        esc(&t.teacher.id),
        esc(first.column),
        figure_cell(first, t.teacher.figures.get(first.key)),
        esc(&t.dataset.source),
        int(t.dataset.rows as u64),
        int(t.best_step)
    )?;
    for f in &t.flags {
        writeln!(out, "<div class=\"warn\">{}</div>", esc(&f.message))?;
    }
    let xs: Vec<f64> = t.points.iter().map(|p| p.step as f64).collect();
    let series: Vec<Vec<f64>> = spec
        .trend
        .iter()
        .map(|s| t.points.iter().map(|p| p.figures.value(s.key)).collect())
        .collect();
    let lines: Vec<svg::Line<'_>> = spec
        .trend
        .iter()
        .zip(&series)
        .map(|(s, ys)| svg::Line {
            name: s.legend,
            color: s.color,
            ys,
            right_axis: s.right_axis,
        })
        .collect();
    let rising = format!("{} rising", spec.names.1);
    let flags: Vec<(f64, String)> = t
        .flags
        .iter()
        .map(|f| (f.step as f64, rising.clone()))
        .collect();
    let names: Vec<&str> = spec.trend.iter().map(|s| s.name).collect();
    let title = format!("Student {} by training step", and_list(&names));
    writeln!(
        out,
        "<figure>{}</figure>",
        svg::lines(&title, "step", &xs, &lines, &flags)
    )?;
    let columns = columns(spec.figures, spec.track_columns);
    let mut header = String::from("<table><tr><th>step</th>");
    for col in &columns {
        header.push_str(&format!("<th>{}</th>", esc(col.column)));
    }
    header.push_str("<th class=\"l\">verdict</th><th class=\"l\">checkpoint</th></tr>");
    writeln!(out, "{header}")?;
    for p in &t.points {
        let mut cells = String::new();
        for col in &columns {
            cells.push_str(&format!(
                "<td>{}</td>",
                figure_cell(col, p.figures.get(col.key))
            ));
        }
        writeln!(
            out,
            "<tr><td>{}</td>{cells}<td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            int(p.step),
            p.verdict,
            esc(&p.path)
        )?;
    }
    writeln!(out, "</table>")?;
    foot(out, t.schema_version)
}

/// `a, b and c`.
fn and_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verdict_has_a_badge_style() {
        for v in distill_eval_metrics::Verdict::ALL {
            assert!(CSS.contains(&format!(".badge.{v}")), "{v}");
        }
    }
}
