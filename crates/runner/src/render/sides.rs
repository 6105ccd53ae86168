//! The report of a family judged by the retention of one figure (regression, ranking,
//! generation, detection): each model's figures side by side, the student's retention of the
//! headline figure, how closely the two models agree, warnings, the family's extra tables, and
//! the verdict with the rule that gave it, in text, Markdown and HTML. A family fills a
//! [`SideBySide`]; the three forms are drawn here, so they always say the same things.

use std::io::{self, Write};

use anstyle::{AnsiColor, Effects, Style};
use distill_eval_metrics::{Interval, RetentionBootstrap, Thresholds, Verdict};

use super::escape::html as esc;
use super::fmt::f4;
use super::html::{card, foot, head};
use super::table::{Align, Table};
use crate::report::SCHEMA_VERSION;

const RULE: &str = "============================================================";

/// A titled table shown after the headline figures (per-class AP, per-query figures...).
pub(crate) struct Section {
    /// Its heading.
    pub(crate) title: String,
    /// Its rows.
    pub(crate) table: Table,
}

/// The bootstrap intervals of a retention-judged report, named for display.
pub(crate) struct Intervals {
    /// `95% bootstrap intervals (1,000 paired resamples of 120 queries, seed 0)`.
    pub(crate) heading: String,
    /// (figure, interval): each model's retained figure, its retention, further figures.
    pub(crate) rows: Vec<(String, Interval)>,
    /// Verdict thresholds the retention interval straddles, one sentence each.
    pub(crate) borderline: Vec<String>,
}

/// The [`Intervals`] of `b`, the retained figure shown as `name` (`R²`) and further figures
/// named by `also` (`chrf` -> `chrF`).
pub(crate) fn intervals(
    b: &RetentionBootstrap,
    name: &str,
    also: &dyn Fn(&str) -> String,
) -> Intervals {
    let mut rows = Vec::new();
    let mut push = |label: String, i: Option<Interval>| {
        if let Some(i) = i {
            rows.push((label, i));
        }
    };
    push(format!("teacher {name}"), b.teacher);
    push(format!("student {name}"), b.student);
    push(format!("{name} retention"), b.retention);
    for f in &b.also {
        let n = also(f.figure);
        push(format!("teacher {n}"), f.teacher);
        push(format!("student {n}"), f.student);
    }
    Intervals {
        heading: format!(
            "{:.0}% bootstrap intervals ({} paired resamples of {} {}, seed {})",
            100.0 * b.level,
            super::fmt::int(b.resamples as u64),
            super::fmt::int(b.units as u64),
            b.unit,
            b.seed
        ),
        rows,
        borderline: b.borderline.clone(),
    }
}

impl Intervals {
    fn table(&self) -> Table {
        let mut t = Table::new(
            &["", "estimate", "interval"],
            &[Align::Left, Align::Right, Align::Left],
        );
        for (name, i) in &self.rows {
            t.row(vec![
                name.clone(),
                f4(i.estimate),
                format!("[{}, {}]", f4(i.lower), f4(i.upper)),
            ]);
        }
        t
    }
}

/// Everything a retention-judged report shows, already formatted.
pub(crate) struct SideBySide {
    /// The family, capitalised (`Ranking`).
    pub(crate) family: &'static str,
    /// The input files: (role, path), e.g. `("Data", "rows.jsonl")`.
    pub(crate) sources: Vec<(&'static str, String)>,
    /// How much was evaluated, e.g. `120 queries, 4,086 documents`.
    pub(crate) size: String,
    /// Rows of (figure, teacher, student).
    pub(crate) figures: Vec<(String, String, String)>,
    /// The retained figure's name (`NDCG@10 retention`) and value (`95.8%` or why undefined).
    pub(crate) retention: (String, String),
    /// Teacher-student figures: (name, value).
    pub(crate) agreement: Vec<(String, String)>,
    /// Warnings about the input (empty hypotheses, queries without a relevant document...).
    pub(crate) warnings: Vec<String>,
    /// Extra tables.
    pub(crate) sections: Vec<Section>,
    /// The bootstrap intervals, when computed.
    pub(crate) intervals: Option<Intervals>,
    /// The verdict.
    pub(crate) verdict: Verdict,
    /// The thresholds it was decided by, in words ([`rule`]).
    pub(crate) rule: String,
}

/// The verdict rule of a family whose retained figure is `name`, with the thresholds' levels
/// (the KL terms of the classification rule do not apply).
/// The three human formats of a [`Findings`](crate::report::Findings) implementation whose
/// report is one [`SideBySide`], built by its `sides(&self, &Report)` method.
macro_rules! side_by_side_formats {
    () => {
        fn text(
            &self,
            report: &$crate::report::Report,
            out: &mut dyn std::io::Write,
            style: $crate::report::Style,
        ) -> std::io::Result<()> {
            self.sides(report).text(out, style.color)
        }

        fn markdown(
            &self,
            report: &$crate::report::Report,
            out: &mut dyn std::io::Write,
        ) -> std::io::Result<()> {
            self.sides(report).markdown(out)
        }

        fn html(
            &self,
            report: &$crate::report::Report,
            out: &mut dyn std::io::Write,
        ) -> std::io::Result<()> {
            self.sides(report).html(out)
        }
    };
}
pub(crate) use side_by_side_formats;

pub(crate) fn rule(name: &str, t: &Thresholds) -> String {
    format!(
        "EXCELLENT: {name} > {}; GOOD: > {}; ACCEPTABLE: > {}; otherwise WEAK \
         (undefined retention is WEAK; the KL terms do not apply)",
        t.excellent_retention, t.good_retention, t.acceptable_retention
    )
}

/// The verdict by the retention levels of `t` (no KL term: it is taken as 0 against a KL
/// threshold that is then never binding).
pub(crate) fn decide(retention: Option<f64>, t: &Thresholds) -> Verdict {
    let levels = Thresholds {
        excellent_kl: f64::INFINITY,
        good_kl: f64::INFINITY,
        ..t.clone()
    };
    Verdict::decide(retention, 0.0, &levels)
}

impl SideBySide {
    fn figure_table(&self) -> Table {
        let mut t = Table::new(
            &["", "Teacher", "Student"],
            &[Align::Left, Align::Right, Align::Right],
        );
        for (name, teacher, student) in &self.figures {
            t.row(vec![name.clone(), teacher.clone(), student.clone()]);
        }
        t
    }

    fn paint(color: bool, style: Style, s: &str) -> String {
        if color {
            format!("{}{s}{}", style.render(), style.render_reset())
        } else {
            s.to_owned()
        }
    }

    /// The terminal form.
    pub(crate) fn text(&self, out: &mut dyn Write, color: bool) -> io::Result<()> {
        let bold = Style::new().effects(Effects::BOLD);
        writeln!(out, "{RULE}")?;
        writeln!(
            out,
            "{}",
            Self::paint(
                color,
                bold,
                &format!("STUDENT vs. TEACHER: {}", self.family.to_ascii_uppercase())
            )
        )?;
        writeln!(out, "{RULE}")?;
        for (role, path) in &self.sources {
            writeln!(out, " {role:<8} {path}")?;
        }
        writeln!(out, " {}\n", self.size)?;
        out.write_all(self.figure_table().text("   ").as_bytes())?;
        writeln!(out, "   {}: {}", self.retention.0, self.retention.1)?;
        for (name, value) in &self.agreement {
            writeln!(out, "   {name}: {value}")?;
        }
        let warn = Style::new().fg_color(Some(AnsiColor::Yellow.into()));
        for w in &self.warnings {
            writeln!(
                out,
                "   {}",
                Self::paint(color, warn, &format!("Warning: {w}"))
            )?;
        }
        for s in &self.sections {
            writeln!(out, "\n   {}:", s.title)?;
            out.write_all(s.table.text("   ").as_bytes())?;
        }
        if let Some(b) = &self.intervals {
            writeln!(out, "\n   {}:", b.heading)?;
            out.write_all(b.table().text("   ").as_bytes())?;
            for line in &b.borderline {
                writeln!(
                    out,
                    "   {}",
                    Self::paint(color, warn, &format!("BORDERLINE: {line}"))
                )?;
            }
        }
        writeln!(out, "\n{RULE}")?;
        let vcolor = match self.verdict {
            Verdict::Excellent => AnsiColor::Green,
            Verdict::Good => AnsiColor::Cyan,
            Verdict::Acceptable => AnsiColor::Yellow,
            Verdict::Weak => AnsiColor::Red,
        };
        let v = Self::paint(
            color,
            Style::new()
                .fg_color(Some(vcolor.into()))
                .effects(Effects::BOLD),
            &self.verdict.to_string(),
        );
        writeln!(out, "STATUS: {v} - {}", self.verdict.headline())?;
        writeln!(out, "RECOMMENDATION: {}", self.verdict.recommendation())?;
        writeln!(out, "({})", self.rule)
    }

    /// The Markdown form.
    pub(crate) fn markdown(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "## Distillation report ({}): {}\n",
            self.family.to_ascii_lowercase(),
            self.verdict
        )?;
        writeln!(
            out,
            "**{}** - {}\n\n{}\n",
            self.verdict,
            self.verdict.headline(),
            self.verdict.recommendation()
        )?;
        for (role, path) in &self.sources {
            writeln!(out, "{role}: `{path}`  ")?;
        }
        writeln!(out, "{}\n", self.size)?;
        out.write_all(self.figure_table().markdown().as_bytes())?;
        writeln!(out)?;
        writeln!(out, "- {}: **{}**", self.retention.0, self.retention.1)?;
        for (name, value) in &self.agreement {
            writeln!(out, "- {name}: {value}")?;
        }
        for w in &self.warnings {
            writeln!(out, "- Warning: {w}")?;
        }
        for s in &self.sections {
            writeln!(out, "\n### {}\n", s.title)?;
            out.write_all(s.table.markdown().as_bytes())?;
        }
        if let Some(b) = &self.intervals {
            writeln!(out, "\n### {}\n", b.heading)?;
            out.write_all(b.table().markdown().as_bytes())?;
            for line in &b.borderline {
                writeln!(out, "\n> **Borderline:** {line}")?;
            }
        }
        writeln!(out, "\n_{}_", self.rule)
    }

    /// The self-contained HTML form.
    pub(crate) fn html(&self, out: &mut dyn Write) -> io::Result<()> {
        head(
            out,
            &format!(
                "distill-eval: {} {}",
                self.family.to_ascii_lowercase(),
                self.verdict
            ),
        )?;
        writeln!(out, "<h1>Student vs. teacher: {}</h1>", esc(self.family))?;
        let sources: Vec<String> = self
            .sources
            .iter()
            .map(|(role, path)| format!("{} {}", esc(role), esc(path)))
            .collect();
        writeln!(
            out,
            "<p class=\"muted\">{} · {}</p>",
            sources.join(" · "),
            esc(&self.size)
        )?;
        writeln!(
            out,
            "<section class=\"verdict\"><span class=\"badge {v}\">{v}</span><div><strong>{}</strong><br>{}</div></section>",
            esc(self.verdict.headline()),
            esc(self.verdict.recommendation()),
            v = self.verdict
        )?;
        writeln!(out, "<div class=\"cards\">")?;
        card(
            out,
            &self.retention.0,
            &self.retention.1,
            "student / teacher",
        )?;
        for (name, value) in &self.agreement {
            card(out, name, value, "teacher vs. student")?;
        }
        writeln!(out, "</div>")?;
        for w in &self.warnings {
            writeln!(out, "<div class=\"warn\">{}</div>", esc(w))?;
        }
        writeln!(out, "<h2>Figures</h2>")?;
        out.write_all(self.figure_table().html().as_bytes())?;
        if let Some(b) = &self.intervals {
            writeln!(
                out,
                "<h2>Is the difference real?</h2><p class=\"muted\">{}.</p>",
                esc(&b.heading)
            )?;
            out.write_all(b.table().html().as_bytes())?;
            for line in &b.borderline {
                writeln!(out, "<div class=\"warn\">Borderline: {}</div>", esc(line))?;
            }
        }
        for s in &self.sections {
            writeln!(out, "<h2>{}</h2>", esc(&s.title))?;
            out.write_all(s.table.html().as_bytes())?;
        }
        writeln!(out, "<p class=\"muted\">{}</p>", esc(&self.rule))?;
        foot(out, SCHEMA_VERSION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SideBySide {
        SideBySide {
            family: "Ranking",
            sources: vec![("Data", "<rows>.jsonl".into())],
            size: "2 queries".into(),
            figures: vec![("NDCG@10".into(), "0.9000".into(), "0.8000".into())],
            retention: ("NDCG@10 retention".into(), "88.9%".into()),
            agreement: vec![("Kendall tau".into(), "0.5000".into())],
            warnings: vec!["1 query has no relevant document".into()],
            sections: Vec::new(),
            intervals: Some(Intervals {
                heading: "95% bootstrap intervals (10 paired resamples of 2 queries, seed 0)"
                    .into(),
                rows: vec![(
                    "NDCG@10 retention".into(),
                    Interval {
                        estimate: 0.889,
                        lower: 0.8,
                        upper: 0.95,
                    },
                )],
                borderline: vec!["ndcg@10 retention straddles <the GOOD threshold>".into()],
            }),
            verdict: Verdict::Weak,
            rule: rule("NDCG@10 retention", &Thresholds::default()),
        }
    }

    #[test]
    fn every_form_says_the_same_things() {
        let r = sample();
        let mut text = Vec::new();
        r.text(&mut text, false).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("NDCG@10 retention: 88.9%"), "{text}");
        assert!(text.contains("STATUS: WEAK"), "{text}");
        assert!(text.contains("Warning: 1 query"), "{text}");
        assert!(text.contains("seed 0):\n"), "{text}");
        assert!(text.contains("[0.8000, 0.9500]"), "{text}");
        assert!(text.contains("BORDERLINE: ndcg@10 retention"), "{text}");
        let mut md = Vec::new();
        r.markdown(&mut md).unwrap();
        let md = String::from_utf8(md).unwrap();
        assert!(md.contains("| NDCG@10 | 0.9000 | 0.8000 |"), "{md}");
        assert!(md.contains("**88.9%**"), "{md}");
        assert!(
            md.contains("| NDCG@10 retention | 0.8890 | [0.8000, 0.9500] |"),
            "{md}"
        );
        assert!(md.contains("> **Borderline:** ndcg@10"), "{md}");
        let mut html = Vec::new();
        r.html(&mut html).unwrap();
        let html = String::from_utf8(html).unwrap();
        assert!(html.contains("&lt;rows&gt;.jsonl") && !html.contains("<rows>"));
        assert!(html.contains("badge WEAK"), "{html}");
        assert!(
            html.contains("Borderline: ndcg@10 retention straddles &lt;the GOOD"),
            "{html}"
        );
    }

    #[test]
    fn the_verdict_ignores_kl_thresholds() {
        let t = Thresholds {
            excellent_kl: 0.0,
            good_kl: 0.0,
            ..Thresholds::default()
        };
        assert_eq!(decide(Some(0.96), &t), Verdict::Excellent);
        assert_eq!(decide(Some(0.93), &t), Verdict::Good);
        assert_eq!(decide(Some(0.91), &t), Verdict::Acceptable);
        assert_eq!(decide(Some(0.90), &t), Verdict::Weak);
        assert_eq!(decide(None, &t), Verdict::Weak);
    }
}
