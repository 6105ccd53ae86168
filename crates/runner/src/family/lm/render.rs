//! The causal-LM report in the terminal, in Markdown and in HTML. Every format shows every
//! figure: the token distributions (KL with its percentiles, reverse KL, Jensen-Shannon),
//! agreement, likelihood (perplexities, their ratio and its uncertainty), Δp, multiple choice,
//! throughput and the verdict. The HTML adds the KL histogram and the documents where the
//! student diverges most, each token shaded by its KL, with both models' top tokens on hover.

use std::io::{self, Write};

use anstyle::{Effects, Style};
use distill_eval_metrics::bootstrap::Interval;

use super::{DivergentDocument, LmFindings};
use crate::render::escape::html as esc;
use crate::render::fmt::{f4, int, opt_pct, pct, pval, token_rate};
use crate::render::html::{card, foot, head, long_text, model_row};
use crate::render::table::{Align, Table};
use crate::render::{header, interpret, svg};
use crate::report::{self, Report};

const RULE: &str = "============================================================";

fn ci(i: Option<&Interval>, percent: bool) -> String {
    let Some(i) = i else {
        return String::new();
    };
    let f = |x: f64| if percent { pct(x) } else { f4(x) };
    format!("  [95% CI {} – {}]", f(i.lower), f(i.upper))
}

/// Rows of (section, rows of (figure, value)) every format prints.
fn sections(f: &LmFindings) -> Vec<(&'static str, Vec<(String, String)>)> {
    let s = &f.summary;
    let b = f.bootstrap.as_ref();
    let mut out = Vec::new();
    out.push((
        "Token distributions",
        vec![
            (
                "KL(teacher ‖ student)".to_owned(),
                format!(
                    "{} ± {}{}  ({})",
                    f4(s.kl_divergence),
                    f4(s.kl_divergence_stderr),
                    ci(b.map(|b| &b.kl_divergence), false),
                    interpret::kl(s.kl_divergence)
                ),
            ),
            ("reverse KL(student ‖ teacher)".to_owned(), f4(s.reverse_kl)),
            ("Jensen-Shannon".to_owned(), f4(s.jensen_shannon)),
        ],
    ));
    out.push((
        "Agreement",
        vec![
            (
                "top-1 agreement".to_owned(),
                format!(
                    "{} ± {}{}",
                    pct(s.top1_agreement),
                    pct(s.top1_agreement_stderr),
                    ci(b.map(|b| &b.top1_agreement), true)
                ),
            ),
            (format!("top-{} overlap", s.top_k), pct(s.topk_overlap)),
        ],
    ));
    out.push((
        "Likelihood of the true next token",
        vec![
            (
                "perplexity teacher / student".to_owned(),
                format!("{} / {}", f4(s.teacher.perplexity), f4(s.student.perplexity)),
            ),
            (
                "NLL teacher / student".to_owned(),
                format!("{} / {}", f4(s.teacher.nll), f4(s.student.nll)),
            ),
            (
                "PPL(student) / PPL(teacher)".to_owned(),
                format!(
                    "{}{}",
                    f4(s.perplexity_ratio),
                    ci(b.map(|b| &b.perplexity_ratio), false)
                ),
            ),
            (
                "ln(PPL ratio)".to_owned(),
                format!(
                    "{} ± {}",
                    f4(s.ln_perplexity_ratio),
                    f4(s.ln_perplexity_ratio_stderr)
                ),
            ),
            ("NLL correlation (Pearson)".to_owned(), f4(s.nll_correlation)),
            (
                "Δp = q(true) - p(true): mean / RMS".to_owned(),
                format!("{} / {}", pct(s.delta_p.mean), pct(s.delta_p.rms)),
            ),
        ],
    ));
    if let Some(mc) = &f.multiple_choice {
        out.push((
            "Multiple choice",
            vec![
                ("questions".to_owned(), int(mc.questions as u64)),
                (
                    "accuracy teacher / student".to_owned(),
                    format!("{} / {}", pct(mc.teacher_accuracy), pct(mc.student_accuracy)),
                ),
                (
                    "length-normalised teacher / student".to_owned(),
                    format!(
                        "{} / {}",
                        pct(mc.teacher_accuracy_norm),
                        pct(mc.student_accuracy_norm)
                    ),
                ),
                ("accuracy retention".to_owned(), opt_pct(mc.accuracy_retention)),
                (
                    "flips right→wrong / wrong→right".to_owned(),
                    format!(
                        "{} / {} (McNemar p = {})",
                        mc.flips.correct_to_wrong,
                        mc.flips.wrong_to_correct,
                        pval(mc.mcnemar.p_value)
                    ),
                ),
            ],
        ));
    }
    out.push((
        "Throughput",
        vec![(
            "teacher / student".to_owned(),
            format!(
                "{} / {}",
                token_rate(f.tokens_per_second.teacher),
                token_rate(f.tokens_per_second.student)
            ),
        )],
    ));
    out
}

fn scope(f: &LmFindings) -> String {
    let mut line = format!(
        "{} tokens scored in {} documents",
        int(f.summary.tokens as u64),
        int(f.documents as u64)
    );
    if f.skipped_documents > 0 {
        line.push_str(&format!(
            " ({} without a token to predict, skipped)",
            f.skipped_documents
        ));
    }
    if f.chunking.is_some() {
        line.push_str(&format!(
            " · llama.cpp chunks of {} tokens, second halves scored · temperature {}",
            f.context, f.temperature
        ));
    } else {
        line.push_str(&format!(
            " · windows of {} tokens, stride {} · temperature {}",
            f.context, f.stride, f.temperature
        ));
    }
    line
}

fn percentile_table(f: &LmFindings) -> Table {
    let mut t = Table::new(
        &["percentile", "token KL", "Δp"],
        &[Align::Left, Align::Right, Align::Right],
    );
    let dp = f.summary.delta_p.percentiles.rows();
    for ((name, kl), (_, d)) in f.summary.kl_percentiles.rows().into_iter().zip(dp) {
        t.row(vec![name.to_owned(), f4(kl), pct(d)]);
    }
    t
}

fn verdict_line(f: &LmFindings) -> String {
    format!(
        "retention {} (PPL retention {}{}), token KL {}",
        pct(f.retention),
        pct(f.perplexity_retention),
        f.multiple_choice
            .as_ref()
            .map(|m| format!(", multiple-choice retention {}", opt_pct(m.accuracy_retention)))
            .unwrap_or_default(),
        f4(f.summary.kl_divergence)
    )
}

/// The terminal report.
pub(crate) fn text(
    f: &LmFindings,
    report: &Report,
    out: &mut dyn Write,
    style: report::Style,
) -> io::Result<()> {
    let bold = |s: &str| {
        if style.color {
            let b = Style::new().effects(Effects::BOLD);
            format!("{}{s}{}", b.render(), b.render_reset())
        } else {
            s.to_owned()
        }
    };
    writeln!(out, "{RULE}")?;
    writeln!(out, "{}", bold("CAUSAL-LM STUDENT vs. TEACHER REPORT"))?;
    writeln!(out, "{RULE}")?;
    header::text(report, out)?;
    writeln!(out, " Scope    {}", scope(f))?;
    for (i, (name, rows)) in sections(f).into_iter().enumerate() {
        writeln!(out, "\n{}", bold(&format!("{}. {}", i + 1, name.to_uppercase())))?;
        let mut t = Table::new(&["", ""], &[Align::Left, Align::Left]);
        for (k, v) in rows {
            t.row(vec![k, v]);
        }
        // The header row of an untitled table is blank: drop it.
        let body = t.text("   ");
        let body = body.split_once('\n').map_or(body.as_str(), |(_, rest)| rest);
        out.write_all(body.as_bytes())?;
        if i == 0 {
            writeln!(out)?;
            out.write_all(percentile_table(f).text("   ").as_bytes())?;
        }
    }
    if let Some(l) = &f.llama_cpp {
        writeln!(out, "\n{}", bold("LLAMA.CPP'S KL-DIVERGENCE STATISTICS (Q = student, base = teacher)"))?;
        out.write_all(l.llama_cpp_text().as_bytes())?;
    }
    if !f.divergent_documents.is_empty() {
        writeln!(out, "\n{}", bold("WHERE THE STUDENT DIVERGES MOST"))?;
        for d in &f.divergent_documents {
            let text: String = d.text.chars().take(100).collect();
            let more = if d.text.chars().count() > 100 { "…" } else { "" };
            writeln!(
                out,
                "   #{:<5} mean KL {}  {} tokens  {text}{more}",
                d.document,
                f4(d.mean_kl),
                d.tokens
            )?;
        }
    }
    writeln!(out, "\n{RULE}")?;
    writeln!(out, "{}: {}", bold(&format!("VERDICT {}", f.verdict)), f.verdict.headline())?;
    writeln!(out, "   {}", verdict_line(f))?;
    writeln!(out, "   {}", f.verdict.recommendation())?;
    if let Some(g) = &report.gate {
        for failure in &g.failures {
            writeln!(out, "   gate failed: {failure}")?;
        }
    }
    writeln!(out, "{RULE}")
}

/// The Markdown report.
pub(crate) fn markdown(f: &LmFindings, report: &Report, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "# Causal-LM student vs. teacher\n")?;
    if let (Some(t), Some(s)) = (&report.teacher_model, &report.student_model) {
        writeln!(out, "Teacher `{}` → student `{}`\n", t.info.id, s.info.id)?;
    }
    writeln!(out, "{}\n", scope(f))?;
    writeln!(
        out,
        "**Verdict: {}**: {}. {}\n",
        f.verdict,
        f.verdict.headline(),
        verdict_line(f)
    )?;
    for (name, rows) in sections(f) {
        writeln!(out, "## {name}\n")?;
        let mut t = Table::new(&["figure", "value"], &[Align::Left, Align::Right]);
        for (k, v) in rows {
            t.row(vec![k, v]);
        }
        writeln!(out, "{}", t.markdown())?;
    }
    writeln!(out, "## Percentiles\n")?;
    writeln!(out, "{}", percentile_table(f).markdown())?;
    if let Some(l) = &f.llama_cpp {
        writeln!(out, "## llama.cpp's KL-divergence statistics (Q = student, base = teacher)\n")?;
        writeln!(out, "```text\n{}```\n", l.llama_cpp_text())?;
    }
    if !f.divergent_documents.is_empty() {
        writeln!(out, "## Where the student diverges most\n")?;
        let mut t = Table::new(
            &["document", "mean KL", "tokens", "text"],
            &[Align::Right, Align::Right, Align::Right, Align::Left],
        );
        for d in &f.divergent_documents {
            let text: String = d.text.chars().take(100).collect();
            t.row(vec![
                d.document.to_string(),
                f4(d.mean_kl),
                d.tokens.to_string(),
                text.replace('\n', " "),
            ]);
        }
        writeln!(out, "{}", t.markdown())?;
    }
    writeln!(out, "{}", f.verdict.recommendation())?;
    if let Some(g) = &report.gate {
        for failure in &g.failures {
            writeln!(out, "\n- gate failed: {failure}")?;
        }
    }
    Ok(())
}

/// The background of a token with this KL: white at 0, deepening to red at 1 nat and above.
fn shade(kl: f64) -> String {
    let a = (kl.max(0.0) / 1.0).min(1.0);
    format!("rgba(220,38,38,{:.2})", 0.08 + 0.8 * a.sqrt())
}

fn tops(t: &[(String, f32)]) -> String {
    t.iter()
        .map(|(tok, p)| format!("{tok:?} {}", pct(f64::from(*p))))
        .collect::<Vec<_>>()
        .join(", ")
}

fn document(out: &mut dyn Write, d: &DivergentDocument) -> io::Result<()> {
    writeln!(
        out,
        "<h3>Document {} · mean KL {} · {} tokens</h3><p class=\"tokens\">",
        d.document,
        esc(&f4(d.mean_kl)),
        d.tokens
    )?;
    for t in &d.view {
        match t.kl {
            Some(kl) => write!(
                out,
                "<span class=\"tok\" style=\"background:{}\" title=\"{}\">{}</span>",
                shade(kl),
                esc(&format!(
                    "KL {} · p(token) teacher {} / student {}\nteacher: {}\nstudent: {}",
                    f4(kl),
                    pct(t.teacher_p.unwrap_or(f64::NAN)),
                    pct(t.student_p.unwrap_or(f64::NAN)),
                    tops(&t.teacher_top),
                    tops(&t.student_top)
                )),
                esc(&t.text)
            )?,
            None => write!(out, "<span class=\"tok muted\">{}</span>", esc(&t.text))?,
        }
    }
    if d.view.len() < d.tokens + 1 {
        write!(out, " <span class=\"muted\">… (first {} tokens shown)</span>", d.view.len())?;
    }
    writeln!(out, "</p>")
}

/// The HTML report.
pub(crate) fn html(f: &LmFindings, r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let s = &f.summary;
    head(out, &format!("distill-eval: {}", f.verdict))?;
    writeln!(
        out,
        "<style>.tokens {{ line-height: 1.9; white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: 13px; }}\
         .tok {{ border-radius: 3px; padding: 1px 0; }}</style>"
    )?;
    writeln!(out, "<h1>Causal-LM student vs. teacher</h1>")?;
    writeln!(out, "<p class=\"muted\">{}</p>", esc(&scope(f)))?;
    writeln!(
        out,
        "<section class=\"verdict\"><span class=\"badge {v}\">{v}</span><div><strong>{}</strong><br>{}<br>{}</div></section>",
        esc(f.verdict.headline()),
        esc(&verdict_line(f)),
        esc(f.verdict.recommendation()),
        v = f.verdict
    )?;
    if let Some(g) = &r.gate {
        for failure in &g.failures {
            writeln!(out, "<div class=\"warn\">gate failed: {}</div>", esc(failure))?;
        }
    }
    writeln!(out, "<div class=\"cards\">")?;
    card(out, "token KL(teacher ‖ student)", &f4(s.kl_divergence), interpret::kl(s.kl_divergence))?;
    card(out, "top-1 agreement", &pct(s.top1_agreement), &format!("top-{} overlap {}", s.top_k, pct(s.topk_overlap)))?;
    card(
        out,
        "perplexity ratio",
        &f4(s.perplexity_ratio),
        &format!("student {} / teacher {}", f4(s.student.perplexity), f4(s.teacher.perplexity)),
    )?;
    card(out, "retention", &pct(f.retention), "used by the verdict")?;
    if let Some(mc) = &f.multiple_choice {
        card(
            out,
            "multiple choice",
            &format!("{} / {}", pct(mc.student_accuracy), pct(mc.teacher_accuracy)),
            &format!("student / teacher · {} flips", mc.flips.total),
        )?;
    }
    writeln!(out, "</div>")?;

    writeln!(out, "<h2>Models</h2><table><tr><th class=\"l\">role</th><th class=\"l\">model</th><th class=\"l\">revision</th><th class=\"l\">class</th><th>params</th><th>speed</th><th class=\"l\">device</th></tr>")?;
    for (role, class, run) in [("teacher", "t", &r.teacher_model), ("student", "s", &r.student_model)] {
        if let Some(run) = run {
            model_row(out, role, class, run)?;
        }
    }
    writeln!(out, "</table>")?;
    writeln!(
        out,
        "<p class=\"muted\">tokens per second: teacher {}, student {}</p>",
        esc(&token_rate(f.tokens_per_second.teacher)),
        esc(&token_rate(f.tokens_per_second.student))
    )?;

    for (name, rows) in sections(f) {
        writeln!(out, "<h2>{}</h2><table>", esc(name))?;
        for (k, v) in rows {
            writeln!(out, "<tr><td class=\"l\">{}</td><td>{}</td></tr>", esc(&k), esc(&v))?;
        }
        writeln!(out, "</table>")?;
    }
    writeln!(out, "<h2>Percentiles</h2><table><tr><th class=\"l\">percentile</th><th>token KL</th><th>Δp</th></tr>")?;
    let dp = s.delta_p.percentiles.rows();
    for ((name, kl), (_, d)) in s.kl_percentiles.rows().into_iter().zip(dp) {
        writeln!(out, "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td></tr>", esc(name), esc(&f4(kl)), esc(&pct(d)))?;
    }
    writeln!(out, "</table>")?;
    if let Some(l) = &f.llama_cpp {
        writeln!(out, "<h2>llama.cpp's KL-divergence statistics</h2><p class=\"muted\">Q = student, base = teacher; llama.cpp's layout and wording.</p><pre>{}</pre>", esc(&l.llama_cpp_text()))?;
    }

    // The KL distribution on log(1 + count) axes: most tokens sit near 0.
    let max = f.token_kl.iter().cloned().fold(0.0f64, f64::max).max(1e-6);
    let bins = 40;
    let edges: Vec<f64> = (0..=bins).map(|i| max * i as f64 / bins as f64).collect();
    let mut counts = vec![0u64; bins];
    for &k in &f.token_kl {
        let i = ((k.max(0.0) / max) * bins as f64) as usize;
        counts[i.min(bins - 1)] += 1;
    }
    writeln!(
        out,
        "{}",
        svg::histogram_with_markers(
            "Per-token KL(teacher ‖ student)",
            "KL (nats)",
            &edges,
            &[("student", svg::STUDENT, &counts)],
            true,
            &[("median", s.kl_percentiles.p50), ("99%", s.kl_percentiles.p99)],
        )
    )?;

    if !f.divergent_documents.is_empty() {
        writeln!(
            out,
            "<h2>Where the student diverges most</h2><p class=\"muted\">Each token is shaded by the KL of the prediction that produced it; hover for both models' probabilities of it and their top tokens.</p>"
        )?;
        for d in &f.divergent_documents {
            document(out, d)?;
            writeln!(out, "<p class=\"muted\">{}</p>", long_text(&d.text))?;
        }
    }
    foot(out, r.schema_version)
}
