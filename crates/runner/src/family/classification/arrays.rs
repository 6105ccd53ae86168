//! Scoring logits that are already in memory (an embedding such as the Python bindings): the
//! same report `score` builds from files, fed batch by batch from borrowed host slices.

use candle::{Device, Tensor};
use distill_eval_metrics::Accumulator;

use super::evaluate::{extras, extras_of, CHUNK_ELEMENTS};
use super::ClassificationFindings;
use crate::engine::Setup;
use crate::error::{Error, Origins, Result};
use crate::location::Position;
use crate::report::gate::Gates;
use crate::report::{Report, ReportBuilder};

/// Row-major `(rows, cols)` logits borrowed from the host, in the precision the device will
/// hold them in (f16 and bf16 are widened to f32 first, as the file readers do).
#[derive(Debug, Clone, Copy)]
pub enum HostValues<'a> {
    /// float32 values.
    F32(&'a [f32]),
    /// float64 values.
    F64(&'a [f64]),
}

/// A borrowed `(rows, cols)` logits matrix, row-major and contiguous.
#[derive(Debug, Clone, Copy)]
pub struct HostLogits<'a> {
    /// The values, `rows * cols` of them.
    pub values: HostValues<'a>,
    /// Examples.
    pub rows: usize,
    /// Classes.
    pub cols: usize,
}

impl HostLogits<'_> {
    fn len(&self) -> usize {
        match self.values {
            HostValues::F32(v) => v.len(),
            HostValues::F64(v) => v.len(),
        }
    }

    /// Rows `start..start + len` as a tensor on `device` (one copy of those rows only).
    fn rows_tensor(&self, start: usize, len: usize, device: &Device) -> Result<Tensor> {
        let range = start * self.cols..(start + len) * self.cols;
        let shape = (len, self.cols);
        Ok(match self.values {
            HostValues::F32(v) => Tensor::from_slice(&v[range], shape, device)?,
            HostValues::F64(v) => Tensor::from_slice(&v[range], shape, device)?,
        })
    }
}

/// The classification report of logits given batch by batch: [`ArrayScorer::update`] per
/// batch, [`ArrayScorer::finish`] for the report, equal to the `score` report of the same rows
/// read from files (the rows are scored independently; the summaries run once at the end).
pub struct ArrayScorer {
    setup: Setup,
    gates: Gates,
    origins: Origins,
    device: Device,
    acc: Option<Accumulator>,
    classes: usize,
    rows: usize,
    /// With `--calibrate`, every row (temperature scaling fits on all of them at the end).
    kept: Option<Kept>,
}

/// The rows a calibrating scorer keeps: each side's chunks as added, and the labels.
#[derive(Debug, Default)]
struct Kept {
    teacher: Vec<Tensor>,
    student: Vec<Tensor>,
    labels: Vec<i64>,
}

impl Kept {
    /// Each side's `(n, C)` logits in the precision of its first batch, and the labels.
    fn all(self) -> Result<(Tensor, Tensor, Vec<i64>)> {
        let side = |chunks: Vec<Tensor>| -> Result<Tensor> {
            let dtype = chunks[0].dtype();
            let chunks = chunks
                .iter()
                .map(|c| c.to_dtype(dtype))
                .collect::<candle::Result<Vec<_>>>()?;
            Ok(Tensor::cat(&chunks, 0)?) // (n, C)
        };
        Ok((side(self.teacher)?, side(self.student)?, self.labels))
    }
}

impl std::fmt::Debug for ArrayScorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArrayScorer")
            .field("rows", &self.rows)
            .field("classes", &self.classes)
            .finish_non_exhaustive()
    }
}

impl ArrayScorer {
    /// An empty scorer with the setup's metrics and extras, naming its inputs as `origins` in
    /// messages, computing on `device`.
    pub fn new(setup: Setup, gates: Gates, origins: Origins, device: Device) -> Self {
        Self {
            setup,
            gates,
            origins,
            device,
            acc: None,
            classes: 0,
            rows: 0,
            kept: None,
        }
    }

    /// Rows so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Adds one batch; every check runs before anything is added, so a refused batch leaves
    /// the scorer as it was.
    pub fn update(
        &mut self,
        teacher: HostLogits<'_>,
        student: HostLogits<'_>,
        labels: &[i64],
    ) -> Result<()> {
        let o = &self.origins;
        for (t, name) in [(&teacher, &o.teacher), (&student, &o.student)] {
            if t.len() != t.rows * t.cols {
                return Err(Error::LogitsRank {
                    source_name: name.clone(),
                    shape: vec![t.len()],
                });
            }
        }
        if teacher.rows != student.rows {
            return Err(Error::RowCountMismatch {
                first: o.teacher.clone(),
                first_rows: teacher.rows,
                second: o.student.clone(),
                second_rows: student.rows,
            });
        }
        let classes = if self.acc.is_some() {
            self.classes
        } else {
            teacher.cols
        };
        for (side, name) in [(&teacher, &o.teacher), (&student, &o.student)] {
            if side.cols != classes {
                return Err(Error::ClassCountMismatch {
                    teacher: o.teacher.clone(),
                    teacher_classes: classes,
                    student: name.clone(),
                    student_classes: side.cols,
                });
            }
        }
        if labels.len() != teacher.rows {
            return Err(Error::RowCountMismatch {
                first: o.teacher.clone(),
                first_rows: teacher.rows,
                second: o.labels.clone(),
                second_rows: labels.len(),
            });
        }
        if let Some((row, &label)) = labels
            .iter()
            .enumerate()
            .find(|(_, &l)| l < 0 || l as usize >= classes)
        {
            return Err(Error::LabelOutOfRange {
                source_name: o.labels.clone(),
                at: Position::Example((self.rows + row) as u64),
                label,
                num_classes: classes,
            });
        }
        if teacher.rows == 0 {
            return Ok(());
        }
        let acc = match &mut self.acc {
            Some(acc) => acc,
            None => {
                self.classes = classes;
                self.acc
                    .insert(Accumulator::new(classes, &self.setup.metrics).map_err(|e| {
                        Error::from_metrics(e, &self.origins)
                    })?)
            }
        };
        let chunk = (CHUNK_ELEMENTS / classes.max(1)).max(1);
        let mut start = 0;
        while start < teacher.rows {
            let len = chunk.min(teacher.rows - start);
            let y: Vec<u32> = labels[start..start + len]
                .iter()
                .map(|&l| l as u32)
                .collect();
            let t = teacher.rows_tensor(start, len, &self.device)?; // (len, C)
            let st = student.rows_tensor(start, len, &self.device)?; // (len, C)
            acc.update(&t, &st, &Tensor::from_vec(y, len, &self.device)?)?; // labels (len)
            if self.setup.extras.calibrate {
                let kept = self.kept.get_or_insert_with(Kept::default);
                kept.teacher.push(t);
                kept.student.push(st);
                kept.labels.extend_from_slice(&labels[start..start + len]);
            }
            start += len;
        }
        self.rows += teacher.rows;
        Ok(())
    }

    /// The report of every row added.
    pub fn finish(self) -> Result<Report> {
        let Some(acc) = self.acc else {
            return Err(Error::NoExamples {
                source_name: self.origins.teacher,
            });
        };
        let evaluation = acc
            .finish()
            .map_err(|e| Error::from_metrics(e, &self.origins))?;
        let (metrics, wanted) = (&self.setup.metrics, &self.setup.extras);
        let (bootstrap, calibration) = match self.kept {
            Some(kept) => {
                let (t, st, labels) = kept.all()?;
                extras(&t, &st, &labels, &evaluation, metrics, wanted)?
            }
            None => (extras_of(&evaluation, metrics, wanted)?, None),
        };
        let class_names = (0..self.classes).map(|c| c.to_string()).collect();
        let findings = ClassificationFindings::new(
            evaluation,
            class_names,
            self.setup.metrics.thresholds.clone(),
            bootstrap,
            calibration,
            None,
        );
        Ok(ReportBuilder::new(Box::new(findings)).build(&self.gates))
    }
}

/// The report of one batch of in-memory logits (see [`ArrayScorer`]).
pub fn score_arrays(
    teacher: HostLogits<'_>,
    student: HostLogits<'_>,
    labels: &[i64],
    setup: Setup,
    gates: Gates,
    origins: Origins,
    device: &Device,
) -> Result<Report> {
    let mut scorer = ArrayScorer::new(setup, gates, origins, device.clone());
    scorer.update(teacher, student, labels)?;
    scorer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::score::{labels_setup, score, ScoreOptions};
    use crate::family::{Task, TaskOptions};
    use crate::engine::Extras;
    use crate::input::npy::write_f32;
    use crate::output::{Document, Format};

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    fn json(r: &Report) -> serde_json::Value {
        let mut out = Vec::new();
        r.render(Format::Json, &mut out, Default::default()).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        v.as_object_mut().unwrap().remove("inputs");
        v
    }

    fn origins() -> Origins {
        Origins {
            teacher: "teacher_logits".into(),
            student: "student_logits".into(),
            labels: "labels".into(),
        }
    }

    fn setup() -> Setup {
        Setup {
            data: None,
            labels: None,
            load: Default::default(),
            pass: Default::default(),
            metrics: Default::default(),
            extras: Default::default(),
            lm: Default::default(),
        }
    }

    /// Deterministic `(n, c)` logits.
    fn logits(n: usize, c: usize, seed: u32) -> Vec<f32> {
        (0..n * c)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 1000) as f32 / 250.0)
            .collect()
    }

    #[test]
    fn batches_equal_the_score_command_on_files() -> TestResult {
        equal_to_files(Extras::default())
    }

    #[test]
    fn calibrated_batches_equal_the_score_command_on_files() -> TestResult {
        equal_to_files(Extras {
            resamples: Some(50),
            seed: 3,
            calibrate: true,
        })
    }

    fn equal_to_files(extras: Extras) -> TestResult {
        let setup = || Setup {
            extras: extras.clone(),
            ..setup()
        };
        let (n, c) = (300, 4);
        let (t, s) = (logits(n, c, 1), logits(n, c, 7));
        let y: Vec<i64> = (0..n as i64).map(|i| (i * 7) % c as i64).collect();
        let dir = tempfile::tempdir()?;
        let write = |name: &str, v: &[f32]| -> std::io::Result<String> {
            let path = dir.path().join(name);
            write_f32(&mut std::fs::File::create(&path)?, n, c, v)?;
            Ok(path.display().to_string())
        };
        let labels = dir.path().join("y.txt");
        let text: Vec<String> = y.iter().map(|l| l.to_string()).collect();
        std::fs::write(&labels, text.join(" "))?;
        let from_files = score(
            &ScoreOptions {
                teacher_logits: write("t.npy", &t)?,
                student_logits: write("s.npy", &s)?,
                setup: labels_setup(setup(), labels),
                gates: Gates::default(),
                task: Task::Classification,
                options: TaskOptions::default(),
            },
            &Device::Cpu,
        )?;
        fn view(v: &[f32], c: usize, lo: usize, hi: usize) -> HostLogits<'_> {
            HostLogits {
                values: HostValues::F32(&v[lo * c..hi * c]),
                rows: hi - lo,
                cols: c,
            }
        }
        let mut scorer = ArrayScorer::new(setup(), Gates::default(), origins(), Device::Cpu);
        for (lo, hi) in [(0, 1), (1, 1), (1, 120), (120, 300)] {
            scorer.update(view(&t, c, lo, hi), view(&s, c, lo, hi), &y[lo..hi])?;
        }
        assert_eq!(scorer.rows(), n);
        let got = json(&scorer.finish()?);
        assert_eq!(got, json(&from_files));
        assert_eq!(got.get("calibration").is_some(), extras.calibrate);
        Ok(())
    }

    #[test]
    fn a_refused_batch_names_the_row_and_adds_nothing() -> TestResult {
        let c = 3;
        let t = logits(10, c, 3);
        let view = |rows: usize, cols: usize| HostLogits {
            values: HostValues::F32(&t[..rows * cols]),
            rows,
            cols,
        };
        let mut scorer = ArrayScorer::new(setup(), Gates::default(), origins(), Device::Cpu);
        scorer.update(view(4, c), view(4, c), &[0, 1, 2, 0])?;
        let e = scorer.update(view(3, c), view(3, c), &[0, 5, 1]).unwrap_err();
        assert!(e.to_string().contains("example 5"), "{e}");
        let e = scorer.update(view(3, 2), view(3, 2), &[0, 1, 1]).unwrap_err();
        assert!(e.to_string().contains("classes"), "{e}");
        let e = scorer.update(view(3, c), view(2, c), &[0, 1, 1]).unwrap_err();
        assert!(e.to_string().contains("student_logits"), "{e}");
        assert_eq!(scorer.rows(), 4);
        assert!(scorer.finish()?.findings.figure("accuracy").is_some());
        let empty = ArrayScorer::new(setup(), Gates::default(), origins(), Device::Cpu);
        assert!(empty.finish().is_err());
        Ok(())
    }
}
