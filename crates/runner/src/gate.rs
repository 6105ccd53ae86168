//! Quality gates for CI: a failed gate makes the command exit with code 1 and one line saying
//! why (errors keep code 2).

use distill_eval_metrics::{Evaluation, Verdict};
use serde::Serialize;

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
}

impl Gates {
    /// Whether any gate is set.
    pub fn is_empty(&self) -> bool {
        self.fail_below.is_none()
            && self.min_retention.is_none()
            && self.max_kl.is_none()
            && self.max_ece.is_none()
    }

    /// The reasons `e` fails, empty when every gate passes. An undefined figure fails its gate.
    pub fn failures(&self, e: &Evaluation) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(level) = self.fail_below {
            if e.verdict < level {
                out.push(format!("verdict {} is below {level}", e.verdict));
            }
        }
        if let Some(min) = self.min_retention {
            match e.accuracy_retention {
                Some(r) if r >= min => {}
                Some(r) => out.push(format!("accuracy retention {r:.4} is below {min}")),
                None => out.push(format!(
                    "accuracy retention is undefined (the teacher scores 0), required >= {min}"
                )),
            }
        }
        if let Some(max) = self.max_kl {
            if e.kl_divergence.is_nan() || e.kl_divergence > max {
                out.push(format!(
                    "KL divergence {:.4} is above {max}",
                    e.kl_divergence
                ));
            }
        }
        if let Some(max) = self.max_ece {
            if e.student.ece.is_nan() || e.student.ece > max {
                out.push(format!("student ECE {:.4} is above {max}", e.student.ece));
            }
        }
        out
    }
}

/// The outcome of the gates, as recorded in the JSON report.
#[derive(Debug, Clone, Serialize)]
pub struct GateResult {
    /// Whether every gate passed.
    pub passed: bool,
    /// Why not.
    pub failures: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use distill_eval_metrics::{Examples, MetricsConfig, SideExamples};

    fn eval(student_right: usize) -> Evaluation {
        // 10 examples of class 0; the teacher gets all right, the student `student_right`.
        let n = 10;
        let side = |right: usize| SideExamples {
            confidence: vec![0.9; n],
            prediction: (0..n).map(|i| u32::from(i >= right)).collect(),
            nll: vec![0.1; n],
            brier: vec![0.02; n],
        };
        let x = Examples {
            labels: vec![0; n],
            teacher: side(n),
            student: side(student_right),
            kl: vec![0.05; n],
            reverse_kl: vec![0.05; n],
            js: vec![0.01; n],
        };
        Evaluation::from_examples(x, 2, &MetricsConfig::default()).unwrap()
    }

    #[test]
    fn each_gate_passes_and_fails() {
        let good = eval(10);
        let weak = eval(8);
        let g = Gates {
            fail_below: Some(Verdict::Excellent),
            ..Default::default()
        };
        assert!(g.failures(&good).is_empty());
        assert_eq!(g.failures(&weak), vec!["verdict WEAK is below EXCELLENT"]);
        let g = Gates {
            min_retention: Some(0.85),
            ..Default::default()
        };
        assert!(g.failures(&eval(9)).is_empty()); // 0.9 >= 0.85
        assert_eq!(g.failures(&weak).len(), 1); // 0.8 < 0.85
        let g = Gates {
            max_kl: Some(0.01),
            ..Default::default()
        };
        assert!(g.failures(&good)[0].contains("KL divergence 0.0500"));
        let g = Gates {
            max_ece: Some(0.05),
            ..Default::default()
        };
        // student ECE with every confidence 0.9 and all right: 0.1 > 0.05
        assert!(g.failures(&good)[0].contains("student ECE 0.1000"));
        assert!(Gates::default().failures(&weak).is_empty());
        assert!(Gates::default().is_empty());
    }
}
