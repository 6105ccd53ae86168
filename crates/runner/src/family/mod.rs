//! The task families: what a student of each kind is judged on. Each family is one sibling
//! module implementing [`Family`](crate::engine::Family) (how its outputs are produced over the
//! examples, how a student is evaluated) with [`Findings`](crate::report::Findings) (its
//! figures, verdict and sections in every format), registered by one line in `families!`.

use distill_eval_model::ModelSource;

use crate::engine::{Session, Setup, StudentSpec, TeacherSource};
use crate::error::Result;
use crate::report::gate::Gates;
use crate::report::Report;

/// Declares each family's module and the [`Task`] that names it (the ripgrep `FLAGS` pattern,
/// as the architectures of the model crate).
macro_rules! families {
    ($($module:ident :: $family:ident => $task:ident : $name:literal),* $(,)?) => {
        $(pub mod $module;)*

        /// A task family.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Task {
            $(
                #[doc = concat!("`", $name, "`")]
                $task,
            )*
        }

        impl Task {
            /// Every registered family.
            pub const ALL: &'static [Task] = &[$(Task::$task),*];

            /// The name users write (`--task`) and reports carry.
            pub fn name(self) -> &'static str {
                match self {
                    $(Task::$task => $name,)*
                }
            }
        }

        /// Runs the teacher side once and evaluates every student with the family of `task`.
        pub fn evaluate(
            task: Task,
            session: &Session,
            teacher: &TeacherSource,
            students: &[StudentSpec],
            gates: &Gates,
            options: &TaskOptions,
        ) -> Result<Vec<Report>> {
            match task {
                $(Task::$task => {
                    let family = $module::$family::new(gates.clone(), options);
                    Ok(session.evaluate(&family, teacher, students)?.1)
                })*
            }
        }
    };
}

families! {
    classification::Classification => Classification: "classification",
    regression::Regression => Regression: "regression",
    lm::Lm => CausalLm: "causal-lm",
    ranking::Ranking => Ranking: "ranking",
    generation::Generation => Generation: "generation",
    detection::Detection => Detection: "detection",
}

/// The family for models: causal LMs' when the teacher is one (or, with saved teacher outputs,
/// the first student), regression's for a regression head (`problem_type` regression, or one
/// output), else classification. Reads config.json only.
pub fn detect(
    teacher: &TeacherSource,
    first_student: Option<&ModelSource>,
    load: &distill_eval_model::LoadOptions,
) -> Result<Task> {
    let probe = match teacher {
        TeacherSource::Model(source) => Some(source),
        TeacherSource::Logits { .. } => first_student,
    };
    let Some(source) = probe else {
        return Ok(Task::Classification);
    };
    let probed = distill_eval_model::probe(source, &load.hub, load.gguf_file.as_deref())?;
    Ok(match probed.task {
        distill_eval_model::Task::CausalLm => Task::CausalLm,
        _ if probed.problem_type == "regression" => Task::Regression,
        distill_eval_model::Task::SequenceClassification => Task::Classification,
    })
}

/// [`detect`], and the data read as the family needs it (documents alone for a causal LM).
pub fn prepare(
    setup: &mut Setup,
    teacher: &TeacherSource,
    first_student: Option<&ModelSource>,
) -> Result<Task> {
    let task = detect(teacher, first_student, &setup.load)?;
    if let Some(data) = setup.data.as_mut() {
        data.options.texts_only = task == Task::CausalLm;
        data.options.numeric_labels = task == Task::Regression;
    }
    Ok(task)
}

/// What the families beyond classification read besides the shared options: the field names of
/// their records and their own settings. Each family takes the part it needs.
#[derive(Debug, Clone, Default)]
pub struct TaskOptions {
    /// The ranking family's fields and cut-offs.
    pub ranking: ranking::RankingOptions,
    /// The generation family's fields.
    pub generation: generation::GenerationOptions,
}

/// What `report --task generation|ranking` was given (`None`: the family's default).
#[derive(Debug, Clone, Default)]
pub struct ReportTaskFields {
    /// Ranking: the query field (`--text-field`).
    pub text_field: Option<String>,
    /// Ranking: the relevance field (`--label-field`).
    pub label_field: Option<String>,
    /// Generation: the prompt field.
    pub prompt_field: Option<String>,
    /// Generation: the reference field.
    pub reference_field: Option<String>,
    /// Generation: tokens generated at most per prompt.
    pub max_new_tokens: Option<usize>,
    /// Generation: the first rows only.
    pub limit: Option<usize>,
    /// Ranking: NDCG cut-offs besides 5 and 10.
    pub k: Vec<usize>,
}

impl TaskOptions {
    /// The options of `report --task task` from what was given.
    pub fn for_report(task: Task, given: ReportTaskFields) -> Self {
        let mut options = Self::default();
        match task {
            Task::Generation => {
                let d = generation::GenerationOptions::default();
                options.generation = generation::GenerationOptions {
                    reference_field: given.reference_field.unwrap_or(d.reference_field),
                    prompt_field: given.prompt_field.unwrap_or(d.prompt_field),
                    max_new_tokens: given.max_new_tokens.unwrap_or(d.max_new_tokens),
                    limit: given.limit,
                    ..d
                };
            }
            Task::Ranking => {
                let (query, _, relevance) = ranking::PAIR_FIELDS;
                options.ranking = ranking::RankingOptions {
                    query_field: given.text_field.unwrap_or_else(|| query.to_owned()),
                    relevance_field: given.label_field.unwrap_or_else(|| relevance.to_owned()),
                    cutoffs: given.k,
                    ..ranking::RankingOptions::default()
                };
            }
            _ => {}
        }
        options
    }
}

/// The bootstrap of a family judged by retention, over `units` resampling units (examples,
/// queries, segments, images): `--bootstrap N` resamples, by default 1000 below 100,000 units
/// and none above (classification's defaults), none for `--bootstrap 0`; `--seed` seeds it.
pub(crate) fn bootstrap_config(
    extras: &crate::engine::Extras,
    units: usize,
) -> Option<distill_eval_metrics::BootstrapConfig> {
    use classification::evaluate::{BOOTSTRAP_BELOW, DEFAULT_RESAMPLES};
    let resamples = extras.resamples.unwrap_or(if units < BOOTSTRAP_BELOW {
        DEFAULT_RESAMPLES
    } else {
        0
    });
    (resamples > 0 && units > 0).then_some(distill_eval_metrics::BootstrapConfig {
        resamples,
        seed: extras.seed,
        level: 0.95,
    })
}

/// The one file a saved-outputs family reads a side from, or the error saying it reads only
/// saved outputs.
pub(crate) fn saved_file<'a>(
    source: &'a crate::engine::StudentSource,
    task: &'static str,
) -> Result<&'a str> {
    match source {
        crate::engine::StudentSource::Logits(file) => Ok(file),
        crate::engine::StudentSource::Model(_) => Err(crate::Error::SavedOutputsOnly { task }),
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Task {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Task::ALL
            .iter()
            .copied()
            .find(|t| t.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = Task::ALL.iter().map(|t| t.name()).collect();
                format!("unknown task {s:?}; expected one of {}", names.join(", "))
            })
    }
}
