//! Generations from models (`report --task generation`): each prompt of the records file is
//! tokenized with each model's own template and continued greedily by the teacher and by the
//! student (`distill_eval_model::Model::generate`, batched with a KV cache, stopping at EOS or
//! `--max-new-tokens`); the decoded continuations are then scored against the references by
//! the same report as saved generations, with each row's texts and ids in `generated`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use distill_eval_model::{GenerateOptions, Generated, Model, ModelSource};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::{Generation, TeacherSide};
use crate::engine::pass::Meter;
use crate::engine::{Examples, ModelRun, Session};
use crate::error::{Error, Result};
use crate::input::records::{self, Field};

/// Most tokens one prompt may be continued by.
pub const MAX_NEW_TOKENS_LIMIT: usize = 4096;

/// The teacher's side of a generation report from models.
#[derive(Debug)]
pub struct TeacherModel {
    /// The prompts, as read.
    pub(super) prompts: Vec<String>,
    /// The teacher's continuations.
    pub(super) generated: Vec<Generated>,
    /// Its identity and the cost of generating.
    pub(super) run: ModelRun,
    /// Its EOS ids.
    pub(super) eos: Vec<u32>,
}

/// One row of the `generated` section.
#[derive(Debug, Clone, Serialize)]
pub struct GeneratedRow {
    /// Its line in the records file.
    pub line: u64,
    /// The prompt.
    pub prompt: String,
    /// The reference.
    pub reference: String,
    /// The teacher's continuation, decoded without special tokens.
    pub teacher: String,
    /// The student's.
    pub student: String,
    /// The teacher's new token ids (the EOS that ended them included).
    pub teacher_ids: Vec<u32>,
    /// The student's.
    pub student_ids: Vec<u32>,
    /// Whether the teacher stopped at an EOS (else at `max_new_tokens`).
    pub teacher_stopped_at_eos: bool,
    /// Whether the student did.
    pub student_stopped_at_eos: bool,
}

/// The `generated` section: the settings and each row's continuations.
#[derive(Debug, Clone, Serialize)]
pub struct GeneratedSection {
    /// Tokens generated at most per prompt.
    pub max_new_tokens: usize,
    /// The teacher's EOS ids.
    pub teacher_eos_token_ids: Vec<u32>,
    /// The student's.
    pub student_eos_token_ids: Vec<u32>,
    /// Every row, in file order.
    pub rows: Vec<GeneratedRow>,
}

/// The records file of a generation report from models (the session holds it where `score`
/// holds its labels file).
fn records_path(session: &Session) -> Result<&Path> {
    match &session.examples {
        Examples::LabelFile(path) => Ok(path),
        Examples::Dataset { .. } => Err(Error::NoData),
    }
}

fn load(session: &Session, source: &ModelSource) -> Result<Model> {
    let model = distill_eval_model::load(source, &session.device, &session.setup.load)?;
    // A classifier has nothing to generate with.
    model.causal_lm()?;
    Ok(model)
}

fn bar(len: usize, role: &str, id: &str, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(
        "{prefix:>8} {bar:30} {pos}/{len} prompts · {per_sec} · eta {eta} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::new(len as u64)
        .with_style(style)
        .with_prefix(role.to_owned())
        .with_message(id.to_owned())
}

/// Each prompt continued by `model`, with its identity and the cost of generating.
fn generate(
    family: &Generation,
    session: &Session,
    model: &Model,
    prompts: &[String],
    role: &str,
) -> Result<(Vec<Generated>, ModelRun)> {
    let started = Instant::now();
    let texts: Vec<&str> = prompts.iter().map(String::as_str).collect();
    let ids = model.encode_documents(&texts)?;
    let opts = GenerateOptions {
        max_new_tokens: family.options.max_new_tokens,
        batch_size: session.setup.pass.batch_size,
        decoding: distill_eval_model::Decoding::Cached,
    };
    // Length-sorted chunks of a batch each, so that the bar moves between batches.
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
    let progress = bar(ids.len(), role, &model.info.id, session.setup.pass.progress);
    let hook = session.setup.pass.hook.as_ref();
    let mut meter = Meter::start(progress, hook, ids.len(), role, "prompts")?;
    let mut out = vec![Generated::default(); ids.len()];
    let mut tokens = 0usize;
    for chunk in order.chunks(opts.batch_size.max(1)) {
        let rows: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
        for (&i, g) in chunk.iter().zip(model.generate(&rows, &opts)?) {
            tokens += g.tokens.len();
            out[i] = g;
        }
        meter.inc(chunk.len())?;
    }
    meter.finish();
    let seconds = started.elapsed().as_secs_f64();
    let run = ModelRun {
        info: model.info.clone(),
        seconds,
        examples_per_second: ids.len() as f64 / seconds.max(1e-9),
        tokens_per_second: Some(tokens as f64 / seconds.max(1e-9)),
    };
    Ok((out, run))
}

/// The texts of `generated`, decoded without special tokens.
fn decode(model: &Model, generated: &[Generated]) -> Result<Vec<String>> {
    generated
        .iter()
        .map(|g| Ok(model.decode(&g.tokens)?))
        .collect()
}

/// Reads the prompts and references, loads the teacher and generates its continuations.
pub(super) fn teacher(
    family: &Generation,
    session: &Session,
    source: &ModelSource,
) -> Result<TeacherSide> {
    let path = records_path(session)?.to_path_buf();
    let mut rows = records::read(&path)?;
    if let Some(limit) = family.options.limit {
        rows.truncate(limit);
    }
    let prompt_field = Field {
        name: &family.options.prompt_field,
        flag: "--prompt-field",
    };
    let prompts = rows
        .iter()
        .map(|r| {
            let text = r.string(&path, prompt_field)?;
            if super::is_blank(text) {
                return Err(Error::EmptyPrompt {
                    path: path.clone(),
                    position: r.position,
                    field: prompt_field.name.to_owned(),
                });
            }
            Ok(text.to_owned())
        })
        .collect::<Result<Vec<_>>>()?;
    let references = rows
        .iter()
        .map(|r| Ok(r.string(&path, family.options.reference())?.to_owned()))
        .collect::<Result<Vec<String>>>()?;
    let model = load(session, source)?;
    let (generated, run) = generate(family, session, &model, &prompts, "teacher")?;
    let texts = decode(&model, &generated)?;
    Ok(TeacherSide {
        file: path.display().to_string(),
        positions: rows.iter().map(|r| r.position).collect(),
        references,
        texts,
        models: Some(TeacherModel {
            prompts,
            generated,
            run,
            eos: model.eos_token_ids().to_vec(),
        }),
    })
}

/// The student's continuations of the teacher's prompts, with its run and the `generated`
/// section.
pub(super) fn student(
    family: &Generation,
    session: &Session,
    side: &TeacherSide,
    teacher: &TeacherModel,
    source: &ModelSource,
) -> Result<(Vec<String>, ModelRun, GeneratedSection)> {
    let model = load(session, source)?;
    let (generated, run) = generate(family, session, &model, &teacher.prompts, "student")?;
    let texts = decode(&model, &generated)?;
    let rows = (0..texts.len())
        .map(|i| GeneratedRow {
            line: super::line(side.positions[i]),
            prompt: teacher.prompts[i].clone(),
            reference: side.references[i].clone(),
            teacher: side.texts[i].clone(),
            student: texts[i].clone(),
            teacher_ids: teacher.generated[i].tokens.clone(),
            student_ids: generated[i].tokens.clone(),
            teacher_stopped_at_eos: teacher.generated[i].stopped_at_eos,
            student_stopped_at_eos: generated[i].stopped_at_eos,
        })
        .collect();
    let section = GeneratedSection {
        max_new_tokens: family.options.max_new_tokens,
        teacher_eos_token_ids: teacher.eos.clone(),
        student_eos_token_ids: model.eos_token_ids().to_vec(),
        rows,
    };
    Ok((texts, run, section))
}

/// The records file `report --task generation` reads, kept where the session keeps a labels
/// file.
pub fn records_setup(mut setup: crate::engine::Setup, records: PathBuf) -> crate::engine::Setup {
    setup.data = None;
    setup.labels = Some(records);
    setup
}
