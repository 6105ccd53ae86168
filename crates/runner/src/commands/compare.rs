//! `distill-eval compare`: one teacher pass, several students, and which of them are worth
//! considering.

use candle::Device;
use distill_eval_model::ModelSource;

use crate::engine::{Session, Setup, StudentSpec, TeacherSource};
use crate::error::{Error, Result};
use crate::family;
use crate::report::compare::Comparison;
use crate::report::gate::Gates;

/// What `compare` needs.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// The teacher checkpoint or its saved logits.
    pub teacher: TeacherSource,
    /// The students, in the order to show them.
    pub students: Vec<ModelSource>,
    /// Data, loading and metrics.
    pub setup: Setup,
    /// The quality gates (every student must pass).
    pub gates: Gates,
}

/// Runs the teacher once and each student once, and compares them.
pub fn compare(opts: &CompareOptions, device: &Device) -> Result<Comparison> {
    if opts.students.is_empty() {
        return Err(Error::NoStudents);
    }
    let mut setup = opts.setup.clone();
    let task = family::prepare(&mut setup, &opts.teacher, opts.students.first())?;
    let session = Session::open(setup, device.clone())?;
    let students: Vec<StudentSpec> = opts
        .students
        .iter()
        .map(|s| StudentSpec::model(s.clone(), "student"))
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
    Ok(Comparison::new(
        reports,
        opts.teacher.file(),
        dataset,
        opts.setup.metrics.temperature,
    ))
}
