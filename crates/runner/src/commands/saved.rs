//! `distill-eval compare --task ...` and `track --task ...`: several students' saved outputs of
//! a task family (regression predictions, ranking scores, generated texts, COCO detections)
//! against one teacher's, side by side or as a trend over training steps.

use candle::Device;

use crate::engine::{DatasetInfo, Session, Setup, StudentSource, StudentSpec, TeacherSource};
use crate::error::{Error, Result};
use crate::family::{self, Task, TaskOptions};
use crate::report::compare::Comparison;
use crate::report::gate::Gates;
use crate::report::track::Track;
use crate::report::{LogitInputs, Report};

/// One student's saved outputs.
#[derive(Debug, Clone)]
pub struct SavedStudent {
    /// How the report names it: its file, or its field in the records file.
    pub name: String,
    /// The file its outputs are read from.
    pub file: String,
    /// For ranking and generation, the records field holding its scores or texts (`None`:
    /// the family's student field).
    pub field: Option<String>,
}

/// What a saved-outputs `compare` or `track` needs.
#[derive(Debug, Clone)]
pub struct SavedOptions {
    /// The family.
    pub task: Task,
    /// The teacher's file (for ranking and generation the records file, for detection its
    /// COCO results).
    pub teacher: String,
    /// The students, in the order given.
    pub students: Vec<SavedStudent>,
    /// Labels (the targets file of regression, the ground truth of detection), metrics and
    /// bootstrap.
    pub setup: Setup,
    /// The quality gates (every student must pass; `track`: the latest step).
    pub gates: Gates,
    /// The family's fields and settings.
    pub options: TaskOptions,
    /// What the data is called in the summary (`rows.jsonl`, the ground truth...).
    pub data: String,
}

/// Evaluates every student against the teacher, one report each, named by the student.
fn reports(opts: &SavedOptions, command: &'static str, device: &Device) -> Result<Vec<Report>> {
    if opts.students.is_empty() {
        return Err(Error::NoStudents);
    }
    if matches!(opts.task, Task::Classification | Task::CausalLm) {
        return Err(Error::SavedStudents {
            command,
            task: opts.task.name(),
            message: "compare and track read saved outputs of regression, ranking, generation \
                      and detection only"
                .to_owned(),
            hint: "compare classifiers' saved logits with --teacher-logits and --student \
                   checkpoints, or leave out --task",
        });
    }
    let session = Session::open(opts.setup.clone(), device.clone())?;
    let teacher = TeacherSource::Logits {
        spec: opts.teacher.clone(),
        labels: None,
    };
    opts.students
        .iter()
        .map(|s| {
            let mut options = opts.options.clone();
            if let Some(field) = &s.field {
                options.ranking.student_field = field.clone();
                options.generation.student_field = field.clone();
            }
            let spec = StudentSpec {
                source: StudentSource::Logits(s.file.clone()),
                role: s.name.clone(),
            };
            let mut report = family::evaluate(
                opts.task,
                &session,
                &teacher,
                &[spec],
                &opts.gates,
                &options,
            )?
            .remove(0);
            let inputs = report.inputs.get_or_insert_with(|| LogitInputs {
                teacher_logits: opts.teacher.clone(),
                student_logits: String::new(),
                labels: None,
            });
            inputs.student_logits = s.name.clone();
            Ok(report)
        })
        .collect()
}

/// How much data a report covers (rows, documents, examples or images), read from its JSON.
fn rows(report: &Report) -> usize {
    let value = serde_json::to_value(report).unwrap_or_default();
    ["n", "documents", "rows", "images"]
        .iter()
        .find_map(|k| value.get(k).and_then(serde_json::Value::as_u64))
        .unwrap_or(0) as usize
}

fn dataset(opts: &SavedOptions, first: &Report) -> DatasetInfo {
    let (key, label) = match opts.task {
        Task::Ranking => (
            opts.options.ranking.query_field.clone(),
            opts.options.ranking.relevance_field.clone(),
        ),
        Task::Generation => (
            opts.options.generation.reference_field.clone(),
            opts.options.generation.reference_field.clone(),
        ),
        Task::Detection => (String::new(), "annotations".to_owned()),
        _ => (String::new(), "targets".to_owned()),
    };
    DatasetInfo {
        source: opts.data.clone(),
        subset: None,
        split: None,
        rows: rows(first),
        text_field: key,
        text_pair_field: None,
        label_field: label,
    }
}

/// The students' saved outputs side by side, ranked by the family's retained figure (R²,
/// NDCG@10, BLEU, mAP), best first; ties and undefined figures keep the order given, undefined
/// last.
pub fn compare_saved(opts: &SavedOptions, device: &Device) -> Result<Comparison> {
    let mut reports = reports(opts, "compare", device)?;
    let quality = |r: &Report| {
        let key = r.findings.summary().quality;
        r.findings.figure(key).unwrap_or(f64::NEG_INFINITY)
    };
    reports.sort_by(|a, b| quality(b).total_cmp(&quality(a)));
    let dataset = dataset(opts, &reports[0]);
    Ok(Comparison::new(reports, Some(&opts.teacher), dataset, 1.0))
}

/// The training step of a saved-outputs student: the last number in its name (`student-500`,
/// `step_500.json`).
pub fn saved_step(name: &str) -> Option<u64> {
    let stem = std::path::Path::new(name)
        .file_stem()
        .map_or_else(|| name.to_owned(), |s| s.to_string_lossy().into_owned());
    let digits: String = stem
        .chars()
        .rev()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.chars().rev().collect::<String>().parse().ok()
}

/// The students' saved outputs as a trend over training steps, each step the last number in
/// the student's name; two students of one step are refused.
pub fn track_saved(opts: &SavedOptions, device: &Device) -> Result<Track> {
    let mut steps = Vec::with_capacity(opts.students.len());
    for s in &opts.students {
        let step = saved_step(&s.name).ok_or_else(|| Error::SavedStudents {
            command: "track",
            task: opts.task.name(),
            message: format!(
                "cannot tell the training step of {}: its name has no number",
                s.name
            ),
            hint: "name each student's file or field after its step, e.g. student-500",
        })?;
        steps.push(step);
    }
    let mut order: Vec<usize> = (0..steps.len()).collect();
    order.sort_by_key(|&i| steps[i]);
    if let Some(w) = order.windows(2).find(|w| steps[w[0]] == steps[w[1]]) {
        return Err(Error::SavedStudents {
            command: "track",
            task: opts.task.name(),
            message: format!(
                "{} and {} are both of step {}",
                opts.students[w[0]].name, opts.students[w[1]].name, steps[w[0]]
            ),
            hint: "pass one student per training step",
        });
    }
    let sorted = SavedOptions {
        students: order.iter().map(|&i| opts.students[i].clone()).collect(),
        ..opts.clone()
    };
    let reports = reports(&sorted, "track", device)?;
    let dataset = dataset(&sorted, &reports[0]);
    let points = order
        .iter()
        .zip(reports)
        .map(|(&i, r)| (steps[i], opts.students[i].name.clone(), r))
        .collect();
    Ok(Track::new(points, Some(&opts.teacher), dataset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_the_last_number_of_the_name() {
        assert_eq!(saved_step("student-500"), Some(500));
        assert_eq!(saved_step("runs/step_1200.jsonl"), Some(1200));
        assert_eq!(saved_step("ckpt3-final"), Some(3));
        assert_eq!(saved_step("student"), None);
    }
}
