//! `distill-eval track`: a student's checkpoints over training, against one teacher pass.

use candle::Device;
use distill_eval_model::ModelSource;

use crate::engine::{Session, Setup, StudentSpec, TeacherSource};
use crate::error::{Error, Result};
use crate::family;
use crate::input::checkpoints;
use crate::report::gate::Gates;
use crate::report::track::Track;

/// What `track` needs.
#[derive(Debug, Clone)]
pub struct TrackOptions {
    /// The teacher checkpoint or its saved logits.
    pub teacher: TeacherSource,
    /// Checkpoint folders or patterns such as `out/checkpoint-*`.
    pub checkpoints: Vec<String>,
    /// Data, loading and metrics.
    pub setup: Setup,
    /// The quality gates (judged on the latest checkpoint).
    pub gates: Gates,
}

/// Evaluates every checkpoint against one teacher pass.
pub fn track(opts: &TrackOptions, device: &Device) -> Result<Track> {
    let found = checkpoints::find(&opts.checkpoints)?;
    if found.is_empty() {
        return Err(Error::NoStudents);
    }
    let mut setup = opts.setup.clone();
    let first = found
        .first()
        .map(|(_, path)| ModelSource::Local(path.clone()));
    let task = family::prepare(&mut setup, &opts.teacher, first.as_ref())?;
    let session = Session::open(setup, device.clone())?;
    let students: Vec<StudentSpec> = found
        .iter()
        .map(|(step, path)| {
            StudentSpec::model(ModelSource::Local(path.clone()), format!("step {step}"))
        })
        .collect();
    let reports = family::evaluate(
        task,
        &session,
        &opts.teacher,
        &students,
        &opts.gates,
        &family::TaskOptions::default(),
    )?;
    let dataset = session.dataset_info().ok_or(Error::NoData)?;
    let points = found
        .into_iter()
        .zip(reports)
        .map(|((step, path), report)| (step, path.display().to_string(), report))
        .collect();
    Ok(Track::new(points, opts.teacher.file(), dataset))
}
