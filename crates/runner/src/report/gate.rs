//! Quality gates for CI: a failed gate makes the command exit with code 1 and one line saying
//! why (errors keep code 2). Each gate judges a figure the family names through
//! [`Findings::gate_figure`](super::Findings::gate_figure).

use distill_eval_metrics::Verdict;
use serde::Serialize;

use super::Findings;

/// The figures a gate can judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateKind {
    /// The student's retention of the teacher's headline figure (`--min-retention`).
    Retention,
    /// The divergence from the teacher (`--max-kl`).
    Divergence,
    /// The student's calibration error (`--max-ece`).
    Calibration,
    /// A causal LM's PPL(student) / PPL(teacher) (`--max-perplexity-ratio`).
    PerplexityRatio,
}

impl GateKind {
    /// The flag that sets this gate.
    pub fn flag(self) -> &'static str {
        match self {
            Self::Retention => "--min-retention",
            Self::Divergence => "--max-kl",
            Self::Calibration => "--max-ece",
            Self::PerplexityRatio => "--max-perplexity-ratio",
        }
    }
}

/// A figure as a gate sees it.
#[derive(Debug, Clone, Copy)]
pub struct GateFigure {
    /// Its name in messages, e.g. `accuracy retention`.
    pub name: &'static str,
    /// Its value; NaN when undefined.
    pub value: f64,
    /// Why it can be undefined, e.g. `the teacher scores 0`.
    pub undefined: &'static str,
}

impl GateFigure {
    /// The figure for `gate` of a family judged on one retention alone (`--min-retention`):
    /// `name` and `retention` (`None`: undefined, because `undefined`); no other gate applies.
    pub fn retention_only(
        gate: GateKind,
        name: &'static str,
        retention: Option<f64>,
        undefined: &'static str,
    ) -> Option<GateFigure> {
        (gate == GateKind::Retention).then(|| GateFigure {
            name,
            value: retention.unwrap_or(f64::NAN),
            undefined,
        })
    }
}

/// Conditions a student must meet.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Gates {
    /// The verdict must be at least this level.
    pub fail_below: Option<Verdict>,
    /// Accuracy retention must be at least this.
    pub min_retention: Option<f64>,
    /// KL(teacher || student) must be at most this.
    pub max_kl: Option<f64>,
    /// The student's ECE must be at most this.
    pub max_ece: Option<f64>,
    /// A causal LM's perplexity ratio (student / teacher) must be at most this.
    pub max_perplexity_ratio: Option<f64>,
}

/// The outcome of the gates, as recorded in the JSON report.
#[derive(Debug, Clone, Serialize)]
pub struct GateResult {
    /// Whether every gate passed.
    pub passed: bool,
    /// Why not.
    pub failures: Vec<String>,
}

impl GateResult {
    /// The outcome of `failures` (empty: passed).
    pub fn new(failures: Vec<String>) -> Self {
        Self {
            passed: failures.is_empty(),
            failures,
        }
    }
}

impl Gates {
    /// Whether any gate is set.
    pub fn is_empty(&self) -> bool {
        self.fail_below.is_none()
            && self.min_retention.is_none()
            && self.max_kl.is_none()
            && self.max_ece.is_none()
            && self.max_perplexity_ratio.is_none()
    }

    /// The outcome on `findings`, `None` when no gate is set.
    pub fn judge(&self, findings: &dyn Findings) -> Option<GateResult> {
        (!self.is_empty()).then(|| GateResult::new(self.failures(findings)))
    }

    /// The reasons `findings` fail, empty when every gate passes. An undefined figure fails its
    /// gate, and so does a gate on a figure the family does not have.
    pub fn failures(&self, findings: &dyn Findings) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(level) = self.fail_below {
            let verdict = findings.verdict();
            if verdict < level {
                out.push(format!("verdict {verdict} is below {level}"));
            }
        }
        let figure = |kind: GateKind, out: &mut Vec<String>| {
            let f = findings.gate_figure(kind);
            if f.is_none() {
                out.push(format!("{} does not apply to this report", kind.flag()));
            }
            f
        };
        if let Some(min) = self.min_retention {
            if let Some(f) = figure(GateKind::Retention, &mut out) {
                if f.value.is_nan() {
                    out.push(format!(
                        "{} is undefined ({}), required >= {min}",
                        f.name, f.undefined
                    ));
                } else if f.value < min {
                    out.push(format!("{} {:.4} is below {min}", f.name, f.value));
                }
            }
        }
        for (max, kind) in [
            (self.max_kl, GateKind::Divergence),
            (self.max_ece, GateKind::Calibration),
            (self.max_perplexity_ratio, GateKind::PerplexityRatio),
        ] {
            let Some(max) = max else { continue };
            if let Some(f) = figure(kind, &mut out) {
                if f.value.is_nan() || f.value > max {
                    out.push(format!("{} {:.4} is above {max}", f.name, f.value));
                }
            }
        }
        out
    }
}
