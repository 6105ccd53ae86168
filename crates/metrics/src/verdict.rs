//! The overall verdict and what to do about it.

use std::str::FromStr;

use serde::Serialize;

/// Thresholds of the verdict. Defaults: EXCELLENT when accuracy retention > 0.95 and
/// KL < 0.1; GOOD when retention > 0.92 and KL < 0.3; ACCEPTABLE when retention > 0.90;
/// otherwise WEAK.
#[derive(Debug, Clone, Serialize)]
pub struct Thresholds {
    /// EXCELLENT needs retention above this...
    pub excellent_retention: f64,
    /// ...and KL below this.
    pub excellent_kl: f64,
    /// GOOD needs retention above this...
    pub good_retention: f64,
    /// ...and KL below this.
    pub good_kl: f64,
    /// ACCEPTABLE needs retention above this.
    pub acceptable_retention: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            excellent_retention: 0.95,
            excellent_kl: 0.1,
            good_retention: 0.92,
            good_kl: 0.3,
            acceptable_retention: 0.90,
        }
    }
}

/// How well the student preserves the teacher. Ordered: `Weak < Acceptable < Good < Excellent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// Significant knowledge loss.
    Weak,
    /// Some loss, usable where cost matters more.
    Acceptable,
    /// Most of the teacher's knowledge.
    Good,
    /// A high-fidelity compression.
    Excellent,
}

impl Verdict {
    /// All levels, best first.
    pub const ALL: [Verdict; 4] = [
        Verdict::Excellent,
        Verdict::Good,
        Verdict::Acceptable,
        Verdict::Weak,
    ];

    /// Applies the thresholds; an undefined retention (a teacher that scores 0) is WEAK.
    pub fn decide(accuracy_retention: Option<f64>, kl: f64, t: &Thresholds) -> Verdict {
        let Some(r) = accuracy_retention else {
            return Verdict::Weak;
        };
        if r > t.excellent_retention && kl < t.excellent_kl {
            Verdict::Excellent
        } else if r > t.good_retention && kl < t.good_kl {
            Verdict::Good
        } else if r > t.acceptable_retention {
            Verdict::Acceptable
        } else {
            Verdict::Weak
        }
    }

    /// What the level means, in a few words.
    pub fn headline(&self) -> &'static str {
        match self {
            Verdict::Excellent => "the student is a high-fidelity compression of the teacher",
            Verdict::Good => "the student captures most of the teacher's knowledge",
            Verdict::Acceptable => "some knowledge was lost, but the student is usable",
            Verdict::Weak => "the student lost a significant part of the teacher's knowledge",
        }
    }

    /// What to do next.
    pub fn recommendation(&self) -> &'static str {
        match self {
            Verdict::Excellent => {
                "Ready for production: ship the student and keep the teacher as the reference \
                 for future evaluations."
            }
            Verdict::Good => {
                "Ready for production with monitoring: watch live accuracy, the rate of \
                 disagreement with the teacher, and calibration on the classes where the \
                 student loses most."
            }
            Verdict::Acceptable => {
                "Acceptable for cost-sensitive deployments where some accuracy loss is \
                 tolerable; not for safety-critical use without further distillation."
            }
            Verdict::Weak => {
                "Improve the distillation before deploying: more or augmented transfer data, a \
                 higher distillation temperature for softer targets, a larger student, or \
                 longer training."
            }
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Excellent => "EXCELLENT",
            Verdict::Good => "GOOD",
            Verdict::Acceptable => "ACCEPTABLE",
            Verdict::Weak => "WEAK",
        })
    }
}

impl FromStr for Verdict {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Verdict::ALL
            .into_iter()
            .find(|v| v.to_string().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown verdict {s:?}; expected one of EXCELLENT, GOOD, ACCEPTABLE, WEAK")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_strict() {
        let t = Thresholds::default();
        assert_eq!(Verdict::decide(Some(0.96), 0.05, &t), Verdict::Excellent);
        assert_eq!(Verdict::decide(Some(0.95), 0.05, &t), Verdict::Good); // not > 0.95
        assert_eq!(Verdict::decide(Some(0.96), 0.1, &t), Verdict::Good); // not < 0.1
        assert_eq!(Verdict::decide(Some(0.93), 0.3, &t), Verdict::Acceptable);
        assert_eq!(Verdict::decide(Some(0.90), 0.0, &t), Verdict::Weak);
        assert_eq!(Verdict::decide(None, 0.0, &t), Verdict::Weak);
        assert_eq!(Verdict::decide(Some(1.2), 0.0, &t), Verdict::Excellent);
    }

    #[test]
    fn parses_and_orders() {
        assert_eq!("good".parse::<Verdict>(), Ok(Verdict::Good));
        assert_eq!(" EXCELLENT ".parse::<Verdict>(), Ok(Verdict::Excellent));
        assert!("great"
            .parse::<Verdict>()
            .unwrap_err()
            .contains("ACCEPTABLE"));
        assert!(Verdict::Weak < Verdict::Acceptable && Verdict::Good < Verdict::Excellent);
        assert_eq!(serde_json::to_string(&Verdict::Good).unwrap(), "\"GOOD\"");
    }
}
