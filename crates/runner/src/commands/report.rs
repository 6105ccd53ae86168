//! `distill-eval report`: a teacher (or its saved logits) and a student over the data, one
//! [`Report`].

use candle::Device;
use distill_eval_model::ModelSource;

use crate::engine::{Session, Setup, StudentSpec, TeacherSource};
use crate::error::Result;
use crate::family;
use crate::report::gate::Gates;
use crate::report::Report;

/// Everything `report` needs.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// The teacher checkpoint or its saved logits.
    pub teacher: TeacherSource,
    /// The student checkpoint.
    pub student: ModelSource,
    /// Data, loading and metrics.
    pub setup: Setup,
    /// The quality gates.
    pub gates: Gates,
    /// The family, when not detected from the teacher's config.json (`--task generation`,
    /// `--task ranking`).
    pub task: Option<family::Task>,
    /// The family's own fields and settings.
    pub options: family::TaskOptions,
}

/// Runs the teacher and the student once each and reports.
pub fn report(opts: &ReportOptions, device: &Device) -> Result<Report> {
    let mut setup = opts.setup.clone();
    let task = match opts.task {
        // The prompts are records, read by the family rather than opened as a dataset.
        Some(family::Task::Generation) => {
            let records = setup
                .data
                .as_ref()
                .and_then(|d| d.local_file())
                .ok_or(crate::Error::NoData)?;
            setup = family::generation::models::records_setup(setup, records);
            family::Task::Generation
        }
        // Cross-encoders: the data is read as (query, passage) pairs with relevance grades.
        Some(family::Task::Ranking) => {
            setup = family::ranking::pairs_setup(setup);
            family::Task::Ranking
        }
        Some(task) => task,
        None => family::prepare(&mut setup, &opts.teacher, Some(&opts.student))?,
    };
    let session = Session::open(setup, device.clone())?;
    let student = StudentSpec::model(opts.student.clone(), "student");
    let mut reports = family::evaluate(
        task,
        &session,
        &opts.teacher,
        &[student],
        &opts.gates,
        &opts.options,
    )?;
    Ok(reports.remove(0))
}
