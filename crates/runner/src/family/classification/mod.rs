//! The classification family: sequence classifiers (or their saved `(n, C)` logits) over labelled
//! examples. Each side's logits stay on the device; the metrics crate's accumulator turns them
//! into per-example vectors and every statistic (`evaluate.rs`); the report adds the bootstrap,
//! temperature scaling and the examples where the student diverges (`details.rs`), and renders
//! them in every format (`text.rs`, `markdown.rs`, `html.rs`, with the figures listed once in
//! `figures.rs`).

mod arrays;
mod details;
pub(crate) mod evaluate;
mod figures;
mod html;
mod markdown;
mod text;

use std::io::{self, Write};

use candle::Tensor;
use distill_eval_metrics::{Bootstrap, Evaluation, Thresholds, Verdict};
use distill_eval_model::{Model, ModelSource};
use serde::Serialize;

use crate::engine::align;
use crate::engine::pass::run_model;
use crate::engine::{
    Examples, ExampleText, Family, ModelRun, Session, StudentSource, StudentSpec, TeacherSource,
};
use crate::error::{Origins, Result};
use crate::input::dataset::Dataset;
use crate::input::saved::{read_labels, read_logit_labels, read_logits};
use crate::report::gate::{GateFigure, GateKind, Gates};
use crate::report::{
    FigureFormat, FigureSpec, Findings, LogitInputs, Report, ReportBuilder, Style, SummarySpec,
    TrendSpec,
};
use crate::Error;

pub use arrays::{score_arrays, ArrayScorer, HostLogits, HostValues};
pub use details::{Answer, Divergence, ExampleRow, Histograms};
pub use evaluate::{evaluate, Calibrated};

/// Examples listed in each "where the student diverges" table.
pub const EXAMPLES_SHOWN: usize = 12;

/// The classification family (see the module docs), with the gates its reports are judged by.
#[derive(Debug, Clone, Default)]
pub struct Classification {
    gates: Gates,
}

impl Classification {
    /// The family, judging each report by `gates` (it reads no [`TaskOptions`]).
    ///
    /// [`TaskOptions`]: crate::family::TaskOptions
    pub fn new(gates: Gates, _options: &crate::family::TaskOptions) -> Self {
        Self { gates }
    }
}

/// One side's logits over the examples, with where they came from.
#[derive(Debug)]
pub struct Side {
    /// `(n, C)` logits in this side's own class order, input row order, on the device.
    pub logits: Tensor,
    /// The class names in this side's id order, when known (a model's `id2label`, the names a
    /// logits file carries or was given).
    pub labels: Option<Vec<String>>,
    /// The model run, when a model was run.
    pub run: Option<ModelRun>,
    /// The logits file, when one was read.
    pub file: Option<String>,
}

impl Side {
    /// The model id or file, for messages.
    fn name(&self) -> String {
        self.run
            .as_ref()
            .map(|r| r.info.id.clone())
            .or_else(|| self.file.clone())
            .unwrap_or_default()
    }
}

/// One model's pass over a dataset.
#[derive(Debug)]
pub struct ModelPass {
    /// `(n, C)` float32 logits in the model's label order, input row order, on the device.
    pub logits: Tensor,
    /// The model's class names in its id order.
    pub labels: Vec<String>,
    /// Identity and speed.
    pub run: ModelRun,
}

impl From<ModelPass> for Side {
    fn from(pass: ModelPass) -> Self {
        Side {
            logits: pass.logits,
            labels: Some(pass.labels),
            run: Some(pass.run),
            file: None,
        }
    }
}

/// Loads `source`, runs it once over `data` and drops the weights before returning.
/// `single_label` refuses heads whose outputs are not softmax logits (regression, multi-label).
pub fn model_pass(
    source: &ModelSource,
    role: &str,
    data: &Dataset,
    session: &Session,
    single_label: bool,
) -> Result<ModelPass> {
    let setup = &session.setup;
    let model: Model = distill_eval_model::load(source, &session.device, &setup.load)?;
    if single_label {
        model.ensure_single_label()?;
    }
    let out = run_model(&model, &data.rows, role, &setup.pass)?;
    let run = out.run(&model);
    Ok(ModelPass {
        logits: out.logits,
        labels: model.labels().to_vec(),
        run,
    })
}

fn data_of(session: &Session) -> Result<&Dataset> {
    session.dataset().ok_or(Error::NoData)
}

fn student_side(session: &Session, spec: &StudentSpec) -> Result<Side> {
    match &spec.source {
        StudentSource::Model(src) => {
            Ok(model_pass(src, &spec.role, data_of(session)?, session, true)?.into())
        }
        StudentSource::Logits(file) => Ok(Side {
            logits: read_logits(file, &session.device)?,
            labels: None,
            run: None,
            file: Some(file.clone()),
        }),
    }
}

impl Family for Classification {
    type Teacher = Side;
    type Student = Report;

    fn teacher(
        &self,
        session: &Session,
        teacher: &TeacherSource,
        first: &StudentSpec,
    ) -> Result<(Side, Option<Report>)> {
        match teacher {
            TeacherSource::Model(src) => {
                let side = model_pass(src, "teacher", data_of(session)?, session, true)?.into();
                Ok((side, None))
            }
            TeacherSource::Logits { spec, labels } => {
                // The file's classes default to the first student's order: run it first.
                let student = student_side(session, first)?;
                let names = match labels {
                    Some(names) => Some(names.clone()),
                    None => read_logit_labels(spec)?.or_else(|| student.labels.clone()),
                };
                let side = Side {
                    logits: read_logits(spec, &session.device)?,
                    labels: names,
                    run: None,
                    file: Some(spec.clone()),
                };
                let report = judge(session, &side, student, &self.gates)?;
                Ok((side, Some(report)))
            }
        }
    }

    fn student(&self, session: &Session, teacher: &Side, student: &StudentSpec) -> Result<Report> {
        judge(session, teacher, student_side(session, student)?, &self.gates)
    }
}

/// Evaluates `student` against `teacher` over the session's examples and builds the report.
fn judge(session: &Session, teacher: &Side, student: Side, gates: &Gates) -> Result<Report> {
    let setup = &session.setup;
    let (teacher_name, student_name) = (teacher.name(), student.name());
    let num_classes = teacher.logits.dims().get(1).copied().unwrap_or(0);
    // Class names in the teacher's order; the student's columns follow them by name.
    let class_names = teacher
        .labels
        .clone()
        .or_else(|| student.labels.clone())
        .unwrap_or_else(|| (0..num_classes).map(|c| c.to_string()).collect());
    let student_logits = match &student.labels {
        Some(names) if teacher.labels.is_some() || student.run.is_some() => {
            let perm = align::permutation(&class_names, names, &teacher_name, &student_name)?;
            align::reorder(&student.logits, &perm)?
        }
        _ => student.logits.clone(),
    };
    let (labels, labels_name, texts) = match &session.examples {
        Examples::Dataset { data, .. } => (
            align::label_ids(&data.rows, &class_names, &data.source, &data.fields.label)?,
            data.source.clone(),
            Some(ExampleText::all(data)),
        ),
        Examples::LabelFile(path) => (read_labels(path)?, path.display().to_string(), None),
    };
    let origins = Origins {
        teacher: teacher_name,
        student: student_name,
        labels: labels_name,
    };
    let evaluation = evaluate(
        &teacher.logits,
        &student_logits,
        &labels,
        &setup.metrics,
        &origins,
    )?;
    let (bootstrap, calibration) = evaluate::extras(
        &teacher.logits,
        &student_logits,
        &labels,
        &evaluation,
        &setup.metrics,
        &setup.extras,
    )?;
    let findings = ClassificationFindings::new(
        evaluation,
        class_names,
        setup.metrics.thresholds.clone(),
        bootstrap,
        calibration,
        texts.as_deref(),
    );
    let inputs = (teacher.file.is_some() || student.file.is_some()).then(|| LogitInputs {
        teacher_logits: teacher.file.clone().unwrap_or_default(),
        student_logits: student.file.clone().unwrap_or_default(),
        labels: match &session.examples {
            Examples::LabelFile(path) => Some(path.display().to_string()),
            Examples::Dataset { .. } => None,
        },
    });
    Ok(ReportBuilder::new(Box::new(findings))
        .models(teacher.run.clone(), student.run)
        .dataset(session.dataset_info())
        .inputs(inputs)
        .build(gates))
}

/// What a classification report holds beyond what was evaluated.
#[derive(Debug, Serialize)]
pub struct ClassificationFindings {
    /// The statistics; flattened so that `n_examples`, `teacher`, `student`, `verdict`... are
    /// top-level keys.
    #[serde(flatten)]
    pub evaluation: Evaluation,
    /// Class names in the order of the teacher's label ids (`"0"`, `"1"`... when unknown).
    pub class_names: Vec<String>,
    /// The thresholds the verdict was decided with.
    pub thresholds: Thresholds,
    /// Bootstrap intervals of the headline figures, when computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<Bootstrap>,
    /// Temperature scaling of both models, with `--calibrate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibrated>,
    /// Where the student diverges: the examples with the largest KL and the only-student-wrong
    /// ones, with their texts and both models' answers.
    pub divergent_examples: Divergence,
    /// Confidence and KL histograms, for the HTML report.
    #[serde(skip)]
    pub histograms: Histograms,
}

impl ClassificationFindings {
    /// The findings of an evaluation, with the examples the report shows (`texts` in input
    /// order, when known).
    pub fn new(
        evaluation: Evaluation,
        class_names: Vec<String>,
        thresholds: Thresholds,
        bootstrap: Option<Bootstrap>,
        calibration: Option<Calibrated>,
        texts: Option<&[ExampleText]>,
    ) -> Self {
        let divergent_examples =
            details::divergence(&evaluation, &class_names, texts, EXAMPLES_SHOWN);
        let histograms = details::histograms(&evaluation);
        Self {
            evaluation,
            class_names,
            thresholds,
            bootstrap,
            calibration,
            divergent_examples,
            histograms,
        }
    }

    /// Name of class `id`, falling back to the id itself.
    pub fn class_name(&self, id: usize) -> String {
        self.class_names
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }
}

/// What `compare` and `track` show of a classifier.
pub static SUMMARY: SummarySpec = SummarySpec {
    figures: &[
        FigureSpec {
            key: "accuracy",
            column: "accuracy",
            format: FigureFormat::Decimal,
        },
        FigureSpec {
            key: "accuracy_retention",
            column: "retention",
            format: FigureFormat::Percent,
        },
        FigureSpec {
            key: "f1",
            column: "F1",
            format: FigureFormat::Decimal,
        },
        FigureSpec {
            key: "kl_divergence",
            column: "KL",
            format: FigureFormat::Decimal,
        },
        FigureSpec {
            key: "agreement",
            column: "agreement",
            format: FigureFormat::Percent,
        },
        FigureSpec {
            key: "ece",
            column: "ECE",
            format: FigureFormat::Decimal,
        },
    ],
    compare_columns: &[
        "accuracy",
        "accuracy_retention",
        "kl_divergence",
        "agreement",
        "ece",
    ],
    track_columns: &[
        "accuracy",
        "accuracy_retention",
        "kl_divergence",
        "ece",
        "agreement",
    ],
    teacher: &[
        FigureSpec {
            key: "accuracy",
            column: "accuracy",
            format: FigureFormat::Decimal,
        },
        FigureSpec {
            key: "f1",
            column: "F1",
            format: FigureFormat::Decimal,
        },
        FigureSpec {
            key: "ece",
            column: "ECE",
            format: FigureFormat::Decimal,
        },
    ],
    quality: "accuracy",
    divergence: "kl_divergence",
    names: ("accuracy", "KL"),
    pareto_note: "no other student is at least as accurate with at most the same KL",
    scatter: (
        "Accuracy against KL(teacher ‖ student)",
        "KL divergence (lower is better)",
        "accuracy",
    ),
    trend: &[
        TrendSpec {
            key: "accuracy",
            name: "accuracy",
            legend: "accuracy",
            color: crate::render::svg::STUDENT,
            right_axis: false,
        },
        TrendSpec {
            key: "kl_divergence",
            name: "KL",
            legend: "KL(teacher ‖ student)",
            color: "#7c3aed",
            right_axis: true,
        },
        TrendSpec {
            key: "ece",
            name: "ECE",
            legend: "ECE",
            color: "#059669",
            right_axis: true,
        },
    ],
};

impl Findings for ClassificationFindings {
    fn verdict(&self) -> Verdict {
        self.evaluation.verdict
    }

    fn summary(&self) -> &'static SummarySpec {
        &SUMMARY
    }

    fn figure(&self, key: &str) -> Option<f64> {
        let e = &self.evaluation;
        match key {
            "accuracy" => Some(e.student.accuracy),
            "accuracy_retention" => e.accuracy_retention,
            "f1" => Some(e.student.f1),
            "kl_divergence" => Some(e.kl_divergence),
            "agreement" => Some(e.agreement),
            "ece" => Some(e.student.ece),
            _ => None,
        }
        .filter(|v| !v.is_nan())
    }

    fn teacher_figure(&self, key: &str) -> Option<f64> {
        let t = &self.evaluation.teacher;
        match key {
            "accuracy" => Some(t.accuracy),
            "f1" => Some(t.f1),
            "ece" => Some(t.ece),
            _ => None,
        }
        .filter(|v| !v.is_nan())
    }

    fn gate_figure(&self, gate: GateKind) -> Option<GateFigure> {
        let e = &self.evaluation;
        Some(match gate {
            GateKind::PerplexityRatio => return None,
            GateKind::Retention => GateFigure {
                name: "accuracy retention",
                value: e.accuracy_retention.unwrap_or(f64::NAN),
                undefined: "the teacher scores 0",
            },
            GateKind::Divergence => GateFigure {
                name: "KL divergence",
                value: e.kl_divergence,
                undefined: "a model's logits are not finite",
            },
            GateKind::Calibration => GateFigure {
                name: "student ECE",
                value: e.student.ece,
                undefined: "no example",
            },
        })
    }

    fn text(&self, report: &Report, out: &mut dyn Write, style: Style) -> io::Result<()> {
        text::render(self, report, out, style)
    }

    fn markdown(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        markdown::render(self, report, out)
    }

    fn html(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        html::report(self, report, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::compare::Figures;
    use crate::report::track::{flags, TrackPoint};
    use distill_eval_metrics::{Examples, MetricsConfig, SideExamples};

    fn findings(student_right: usize) -> ClassificationFindings {
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
            cosine: vec![0.02; n],
        };
        let cfg = MetricsConfig::default();
        let e = Evaluation::from_examples(x, 2, &cfg).unwrap();
        ClassificationFindings::new(e, vec!["a".into(), "b".into()], cfg.thresholds, None, None, None)
    }

    #[test]
    fn each_gate_passes_and_fails() {
        let good = findings(10);
        let weak = findings(8);
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
        assert!(g.failures(&findings(9)).is_empty()); // 0.9 >= 0.85
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
        assert!(Gates::default().judge(&weak).is_none());
    }

    #[test]
    fn summary_figures_are_the_evaluation_s() {
        let f = findings(9);
        let e = &f.evaluation;
        let figures = Figures::read(SUMMARY.figures, |k| f.figure(k));
        assert_eq!(figures.get("accuracy"), Some(e.student.accuracy));
        assert_eq!(figures.get("accuracy_retention"), e.accuracy_retention);
        assert_eq!(figures.get("kl_divergence"), Some(e.kl_divergence));
        assert_eq!(f.teacher_figure("accuracy"), Some(1.0));
        for key in SUMMARY.compare_columns.iter().chain(SUMMARY.track_columns) {
            assert!(SUMMARY.figures.iter().any(|s| s.key == *key), "{key}");
        }
    }

    fn point(step: u64, accuracy: f64, kl: f64) -> TrackPoint {
        TrackPoint {
            step,
            path: String::new(),
            figures: Figures(vec![
                ("accuracy", Some(accuracy)),
                ("kl_divergence", Some(kl)),
            ]),
            verdict: Verdict::Good,
        }
    }

    #[test]
    fn flags_kl_rising_while_accuracy_stalls() {
        let pts = [
            point(100, 0.80, 0.30),
            point(200, 0.88, 0.20),  // improving
            point(300, 0.881, 0.22), // KL +10 %, accuracy +0.001: flag
            point(400, 0.90, 0.25),  // KL rises but accuracy gains: no flag
            point(500, 0.89, 0.25),  // accuracy drops, KL flat: no flag
        ];
        let f = flags(&pts, &SUMMARY);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].previous_step, f[0].step), (200, 300));
        assert!(f[0].message.contains("step 200"), "{}", f[0].message);
        assert!(f[0].message.contains("KL rises (0.2000 -> 0.2200)"), "{}", f[0].message);
    }
}
