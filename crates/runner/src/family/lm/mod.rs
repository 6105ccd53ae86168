//! The causal-LM family: a teacher and students that predict the next token (Llama, Mistral,
//! Qwen, Gemma, Phi, ...), compared token by token over documents.
//!
//! Each document is tokenized alone with the teacher's template and scored in windows
//! (`windows.rs`); the teacher and every student run in lockstep over the same batches and the
//! per-token statistics are computed on the device (`pass.rs`), so full-vocabulary logits never
//! reach the host. Optional multiple-choice questions are scored as lm-evaluation-harness does
//! (`choices.rs`). The figures come from `distill_eval_metrics::token_summary`; the renderers
//! are in `render.rs`.
//!
//! The verdict applies the classification thresholds to the token KL and to the student's
//! retention, which is PPL(teacher) / PPL(student), or the multiple-choice accuracy retention
//! when that is lower.

pub mod choices;
pub mod kld;
pub mod pass;
mod render;
pub mod windows;

use std::io::{self, Write};

use distill_eval_metrics::llama_cpp::LlamaCppStats;
use distill_eval_metrics::token_summary::{token_bootstrap, TokenBootstrap, TokenSummary};
use distill_eval_metrics::tokens::TokenStats;
use distill_eval_metrics::{Thresholds, Verdict};
use distill_eval_model::{Model, Task};
use serde::Serialize;

use crate::engine::{
    Chunking,
    Family, ModelRun, Session, StudentSource, StudentSpec, TeacherSource,
};
use crate::error::{Error, Result};
use crate::report::gate::{GateFigure, GateKind, Gates};
use crate::report::{
    FigureFormat, FigureSpec, Findings, Report, ReportBuilder, Style, SummarySpec, TrendSpec,
};

pub use choices::{Flips, MultipleChoice};
use kld::KldBase;
pub use pass::document_logits;
use windows::{Window, Windowing};

/// Documents listed in the "where the student diverges most" section.
pub const DOCUMENTS_SHOWN: usize = 5;
/// Tokens of each such document shown token by token.
pub const TOKENS_SHOWN: usize = 400;
/// Top tokens shown for each model on hover.
const TOP_SHOWN: usize = 3;
/// Bootstrap resamples by default (documents are few, so always affordable).
const DEFAULT_RESAMPLES: usize = 1000;

/// The causal-LM family, with the gates its reports are judged by.
#[derive(Debug, Clone, Default)]
pub struct Lm {
    gates: Gates,
}

impl Lm {
    /// The family, judging each report by `gates` (it has no options of its own beyond the
    /// session's).
    pub fn new(gates: Gates, _options: &crate::family::TaskOptions) -> Self {
        Self { gates }
    }
}

/// The teacher: a checkpoint, or a llama.cpp base file of its log-probabilities.
#[derive(Debug)]
pub enum LmTeacher {
    /// A checkpoint run over the documents.
    Model(Box<Model>),
    /// `llama-perplexity --kl-divergence-base`'s file (`--teacher-logits FILE.kld`).
    Base(Box<KldBase>),
}

fn load_lm(session: &Session, source: &distill_eval_model::ModelSource) -> Result<Model> {
    Ok(distill_eval_model::load(
        source,
        &session.device,
        &session.setup.load,
    )?)
}

impl Family for Lm {
    type Teacher = LmTeacher;
    type Student = Report;

    fn teacher(
        &self,
        session: &Session,
        teacher: &TeacherSource,
        _first: &StudentSpec,
    ) -> Result<(LmTeacher, Option<Report>)> {
        let source = match teacher {
            TeacherSource::Model(source) => source,
            TeacherSource::Logits { spec, .. } => {
                let path = std::path::Path::new(spec);
                let named = path
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("kld"));
                if named || kld::is_kld(path) {
                    return Ok((LmTeacher::Base(Box::new(KldBase::open(path)?)), None));
                }
                return Err(Error::LmSavedOutputs {
                    flag: "--teacher-logits",
                });
            }
        };
        let model = load_lm(session, source)?;
        model.causal_lm()?;
        Ok((LmTeacher::Model(Box::new(model)), None))
    }

    fn student(
        &self,
        session: &Session,
        teacher: &LmTeacher,
        student: &StudentSpec,
    ) -> Result<Report> {
        let mut reports = self.students(session, teacher, std::slice::from_ref(student))?;
        Ok(reports.remove(0))
    }

    fn evaluate_all(
        &self,
        session: &Session,
        teacher: &TeacherSource,
        students: &[StudentSpec],
    ) -> Result<(LmTeacher, Vec<Report>)> {
        let first = students.first().ok_or(Error::NoStudents)?;
        let (side, _) = self.teacher(session, teacher, first)?;
        let reports = self.students(session, &side, students)?;
        Ok((side, reports))
    }
}

/// A token of a document shown in the HTML report.
#[derive(Debug, Clone, Serialize)]
pub struct TokenView {
    /// How the token decodes.
    pub text: String,
    /// KL(p ‖ q) where it is predicted (`None` for the document's first token).
    pub kl: Option<f64>,
    /// The teacher's probability of it.
    pub teacher_p: Option<f64>,
    /// The student's probability of it.
    pub student_p: Option<f64>,
    /// The teacher's most likely tokens there, with probabilities.
    pub teacher_top: Vec<(String, f32)>,
    /// The student's.
    pub student_top: Vec<(String, f32)>,
}

/// A document where the student diverges most.
#[derive(Debug, Clone, Serialize)]
pub struct DivergentDocument {
    /// Index of the document in the data (0-based).
    pub document: usize,
    /// Mean KL over its scored tokens.
    pub mean_kl: f64,
    /// Its scored tokens.
    pub tokens: usize,
    /// Its text.
    pub text: String,
    /// Its first tokens, for the HTML report.
    #[serde(skip)]
    pub view: Vec<TokenView>,
}

/// Tokens per second of each model's forward passes.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Throughput {
    /// The teacher.
    pub teacher: f64,
    /// The student.
    pub student: f64,
}

/// A causal-LM report's figures and verdict.
#[derive(Debug, Serialize)]
pub struct LmFindings {
    /// Always `causal-lm`.
    pub task: &'static str,
    /// Documents read.
    pub documents: usize,
    /// Documents with no token to predict (fewer than two tokens), skipped.
    pub skipped_documents: usize,
    /// Window length in tokens.
    pub context: usize,
    /// Tokens each window advances.
    pub stride: usize,
    /// `llama-cpp` when llama.cpp's chunks were scored (documents are then its chunks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunking: Option<&'static str>,
    /// Temperature of the divergence figures (perplexity is always at 1).
    pub temperature: f64,
    /// The token figures, flattened (`tokens`, `kl_divergence`, `teacher`, `student`, ...).
    #[serde(flatten)]
    pub summary: TokenSummary,
    /// PPL(teacher) / PPL(student).
    pub perplexity_retention: f64,
    /// The retention the verdict uses: `perplexity_retention`, or the multiple-choice accuracy
    /// retention when that is lower.
    pub retention: f64,
    /// Multiple-choice accuracy, when questions were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multiple_choice: Option<MultipleChoice>,
    /// Bootstrap intervals by document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<TokenBootstrap>,
    /// llama.cpp's `--kl-divergence` statistics, with `--chunking llama-cpp`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llama_cpp: Option<LlamaCppStats>,
    /// Tokens per second.
    pub tokens_per_second: Throughput,
    /// The verdict.
    pub verdict: Verdict,
    /// The thresholds it was decided by.
    pub thresholds: Thresholds,
    /// The documents where the student diverges most, highest mean KL first.
    pub divergent_documents: Vec<DivergentDocument>,
    /// Per-token KL, for the histogram.
    #[serde(skip)]
    pub token_kl: Vec<f64>,
}

/// What a pass scored, whichever the teacher: the documents (or chunks) with their texts, how
/// they were cut, and the per-token figures.
struct Pass<'a> {
    docs: Vec<Vec<u32>>,
    texts: Vec<String>,
    context: usize,
    stride: usize,
    skipped: usize,
    chunked: bool,
    scored: pass::Scored,
    /// The model whose tokenizer decodes the tokens (the teacher, or the first student).
    vocab: &'a Model,
}

impl Lm {
    /// Every student against the teacher, in lockstep.
    fn students(
        &self,
        session: &Session,
        teacher: &LmTeacher,
        specs: &[StudentSpec],
    ) -> Result<Vec<Report>> {
        let setup = &session.setup;
        let data = session.dataset().ok_or(Error::NoData)?;
        let mut students = Vec::with_capacity(specs.len());
        for spec in specs {
            let StudentSource::Model(source) = &spec.source else {
                return Err(Error::LmSavedOutputs {
                    flag: "--student-logits",
                });
            };
            let s = load_lm(session, source)?;
            if let LmTeacher::Model(t) = teacher {
                check_pair(t, &s)?;
            } else {
                s.causal_lm()?;
            }
            students.push(s);
        }
        let texts: Vec<&str> = data.rows.iter().map(|r| r.text.as_str()).collect();
        let top_k = setup.lm.top_k.max(1);
        let pass = match teacher {
            LmTeacher::Model(t) => self.model_pass(session, t, &students, &texts, top_k)?,
            LmTeacher::Base(base) => self.base_pass(session, base, &students, &texts, top_k)?,
        };
        let Pass {
            docs,
            texts,
            context,
            stride,
            skipped,
            chunked,
            scored,
            vocab,
        } = pass;
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let temperature = setup.metrics.temperature;

        let teacher_model = match teacher {
            LmTeacher::Model(t) => Some(&**t),
            LmTeacher::Base(_) => None,
        };
        let questions = match &setup.lm.choices {
            Some(path) => Some((path, choices::read(path)?)),
            None => None,
        };
        let teacher_answers = match (&questions, teacher_model) {
            (Some((path, qs)), Some(t)) => Some(choices::answer(t, qs, path, &setup.pass, "teacher")?),
            _ => None,
        };
        let resamples = setup.extras.resamples.unwrap_or(DEFAULT_RESAMPLES);
        let doc_count = docs.len();
        let mut reports = Vec::with_capacity(students.len());
        // Seconds are the model's whole share (documents and questions); tokens per second are
        // those of the documents' pass alone.
        let run = |m: &Model, pass_seconds: f64, mc_seconds: f64| ModelRun {
            info: m.info.clone(),
            seconds: pass_seconds + mc_seconds,
            examples_per_second: doc_count as f64 / pass_seconds.max(1e-9),
            tokens_per_second: Some(scored.tokens_read as f64 / pass_seconds.max(1e-9)),
        };
        let teacher_mc_seconds = teacher_answers.as_ref().map_or(0.0, |a| a.seconds);
        let teacher_run = teacher_model.map(|t| run(t, scored.teacher_seconds, teacher_mc_seconds));
        for (k, (s, stats)) in students.iter().zip(&scored.stats).enumerate() {
            let summary = TokenSummary::of(stats, top_k);
            let bootstrap =
                token_bootstrap(stats, &scored.doc_of, doc_count, resamples, setup.extras.seed);
            let (multiple_choice, mc_seconds) = match (&questions, &teacher_answers) {
                (Some((path, qs)), Some(ta)) => {
                    let sa = choices::answer(s, qs, path, &setup.pass, "student")?;
                    (Some(MultipleChoice::new(path, ta, &sa)), sa.seconds)
                }
                _ => (None, 0.0),
            };
            let perplexity_retention = 1.0 / summary.perplexity_ratio;
            let retention = match multiple_choice.as_ref().map(|m| m.accuracy_retention) {
                Some(Some(r)) => r.min(perplexity_retention),
                Some(None) => f64::NAN,
                None => perplexity_retention,
            };
            let thresholds = setup.metrics.thresholds.clone();
            let verdict = Verdict::decide(
                retention.is_finite().then_some(retention),
                summary.kl_divergence,
                &thresholds,
            );
            let divergent_documents =
                divergent(vocab, &texts, stats, &scored.doc_of, &scored.pos_of, &docs);
            let llama_cpp = chunked.then(|| {
                LlamaCppStats::of(
                    &stats.student_nll,
                    &stats.teacher_nll,
                    &stats.kl,
                    &stats.top1_agree,
                )
            });
            let findings = LmFindings {
                task: "causal-lm",
                documents: doc_count,
                skipped_documents: skipped,
                context,
                stride,
                chunking: chunked.then_some("llama-cpp"),
                temperature,
                perplexity_retention,
                retention,
                multiple_choice,
                bootstrap,
                llama_cpp,
                tokens_per_second: Throughput {
                    teacher: scored.tokens_read as f64 / scored.teacher_seconds.max(1e-9),
                    student: scored.tokens_read as f64 / scored.student_seconds[k].max(1e-9),
                },
                verdict,
                thresholds,
                divergent_documents,
                token_kl: stats.kl.clone(),
                summary,
            };
            let student_run = run(s, scored.student_seconds[k], mc_seconds);
            reports.push(
                ReportBuilder::new(Box::new(findings))
                    .models(teacher_run.clone(), Some(student_run))
                    .dataset(session.dataset_info())
                    .build(&self.gates),
            );
        }
        Ok(reports)
    }

    /// The teacher checkpoint and every student over the documents (windows, or llama.cpp's
    /// chunks).
    fn model_pass<'a>(
        &self,
        session: &Session,
        t: &'a Model,
        students: &[Model],
        texts: &[&str],
        top_k: usize,
    ) -> Result<Pass<'a>> {
        let setup = &session.setup;
        let data = session.dataset().ok_or(Error::NoData)?;
        let docs = t.encode_documents(texts)?;
        for s in students {
            let theirs = s.encode_documents(texts)?;
            if let Some(i) = (0..docs.len()).find(|&i| docs[i] != theirs[i]) {
                return Err(Error::VocabMismatch {
                    teacher: t.info.id.clone(),
                    student: s.info.id.clone(),
                    difference: format!(
                        "{} of {} tokenizes differently ({} tokens against {})",
                        data.rows[i].position,
                        data.source,
                        docs[i].len(),
                        theirs[i].len()
                    ),
                });
            }
        }
        let mut max_positions = t.lm_max_positions()?;
        for s in students {
            max_positions = max_positions.min(s.lm_max_positions()?);
        }
        let windowing = Windowing::new(setup.lm.context, setup.lm.stride, max_positions)?;
        let lens: Vec<usize> = docs.iter().map(Vec::len).collect();
        let skipped = lens.iter().filter(|&&l| l < 2).count();
        if skipped == docs.len() {
            return Err(Error::NoTokensToPredict {
                source_name: data.source.clone(),
                documents: docs.len(),
            });
        }
        let chunked = setup.lm.chunking == Chunking::LlamaCpp;
        // llama.cpp's scheme: the chunks become the documents (and their texts the tokens'
        // pieces), so everything downstream is shared.
        let (docs, texts, windows) = if chunked {
            let stream: Vec<u32> = docs.concat();
            let (chunks, windows) = windows::llama_cpp_chunks(&stream, windowing.context, bos_of(t)?);
            if chunks.is_empty() {
                return Err(Error::BadWindow {
                    reason: format!(
                        "--chunking llama-cpp needs at least one chunk of --context {} tokens, but {} has {} tokens",
                        windowing.context,
                        data.source,
                        stream.len()
                    ),
                    max_positions,
                });
            }
            let texts = chunk_texts(t, &chunks);
            (chunks, texts, windows)
        } else {
            let windows = windowing.plan(&lens);
            (docs, texts.iter().map(|&x| x.to_owned()).collect(), windows)
        };
        let refs: Vec<&Model> = students.iter().collect();
        let scored = pass::lockstep(
            t,
            &refs,
            &docs,
            &windows,
            &setup.pass,
            setup.metrics.temperature,
            top_k,
        )?;
        Ok(Pass {
            docs,
            texts,
            context: windowing.context,
            // llama.cpp's chunks do not overlap.
            stride: if chunked { windowing.context } else { windowing.stride },
            skipped: if chunked { 0 } else { skipped },
            chunked,
            scored,
            vocab: t,
        })
    }

    /// Every student over the chunks of a llama.cpp base file, against its log-probabilities:
    /// llama.cpp's scheme with the file's context, the students' tokens checked against the
    /// file's.
    fn base_pass<'a>(
        &self,
        session: &Session,
        base: &KldBase,
        students: &'a [Model],
        texts: &[&str],
        top_k: usize,
    ) -> Result<Pass<'a>> {
        let setup = &session.setup;
        let data = session.dataset().ok_or(Error::NoData)?;
        let unusable = |flag: &'static str, why: &'static str| Error::KldOption {
            path: base.path.clone(),
            flag,
            why,
        };
        if setup.metrics.temperature != 1.0 {
            return Err(unusable("--temperature", "the file holds log-probabilities at temperature 1"));
        }
        if setup.lm.choices.is_some() {
            return Err(unusable("--choices", "the file holds no answers to the questions"));
        }
        let mismatch = |reason: String| Error::KldMismatch {
            path: base.path.clone(),
            reason,
        };
        if let Some(c) = setup.lm.context.filter(|&c| c != base.n_ctx) {
            return Err(mismatch(format!(
                "--context {c} differs from the file's context of {} tokens",
                base.n_ctx
            )));
        }
        let first = students.first().ok_or(Error::NoStudents)?;
        let want = base.n_chunk * base.n_ctx;
        for s in students {
            let width = s.lm_vocab_size()?;
            if width != base.n_vocab {
                return Err(mismatch(format!(
                    "holds log-probabilities over {} tokens but {} scores {width}",
                    base.n_vocab, s.info.id
                )));
            }
            let positions = s.lm_max_positions()?;
            if base.n_ctx > positions {
                return Err(mismatch(format!(
                    "was computed with a context of {} tokens but {} has {positions} positions",
                    base.n_ctx, s.info.id
                )));
            }
            let stream: Vec<u32> = s.encode_documents(texts)?.concat();
            if let Some(i) = (0..want.min(stream.len())).find(|&i| stream[i] != base.tokens[i]) {
                let (f, o) = (base.tokens[i], stream[i]);
                return Err(mismatch(format!(
                    "token {i} (chunk {}, position {}) is {f} ({:?}) in the file but {o} ({:?}) in {}'s tokenization of {}",
                    i / base.n_ctx,
                    i % base.n_ctx,
                    s.token_text(f),
                    s.token_text(o),
                    s.info.id,
                    data.source
                )));
            }
            if stream.len() < want {
                return Err(mismatch(format!(
                    "holds {} chunks of {} tokens ({want}) but {} reads {} as {} tokens",
                    base.n_chunk,
                    base.n_ctx,
                    s.info.id,
                    data.source,
                    stream.len()
                )));
            }
        }
        // The file's tokens (checked equal to the students' above) cut as llama.cpp cut them.
        let (chunks, windows): (Vec<Vec<u32>>, Vec<Window>) =
            windows::llama_cpp_chunks(&base.tokens, base.n_ctx, bos_of(first)?);
        let refs: Vec<&Model> = students.iter().collect();
        let scored = pass::against_base(
            base,
            &refs,
            &chunks,
            &windows,
            &setup.pass,
            top_k,
        )?;
        Ok(Pass {
            texts: chunk_texts(first, &chunks),
            docs: chunks,
            context: base.n_ctx,
            stride: base.n_ctx,
            skipped: 0,
            chunked: true,
            scored,
            vocab: first,
        })
    }
}

/// The BOS llama.cpp puts first in each chunk: the tokenizer's, when an empty text encodes to
/// one token.
fn bos_of(model: &Model) -> Result<Option<u32>> {
    Ok(model.encode_documents(&[""])?[0].first().copied())
}

/// Each chunk's text: its tokens' pieces.
fn chunk_texts(model: &Model, chunks: &[Vec<u32>]) -> Vec<String> {
    chunks
        .iter()
        .map(|c| c.iter().map(|&id| model.token_text(id)).collect())
        .collect()
}

/// Refuses a student that is not a causal LM, has another vocabulary or another logit width.
fn check_pair(teacher: &Model, student: &Model) -> Result<()> {
    if student.task() != Task::CausalLm {
        return Err(Error::MixedTasks {
            lm: teacher.info.id.clone(),
            lm_class: teacher.info.architecture.clone(),
            other: student.info.id.clone(),
            other_class: student.info.architecture.clone(),
        });
    }
    if let Some(diff) = teacher.first_vocab_difference(student) {
        return Err(Error::VocabMismatch {
            teacher: teacher.info.id.clone(),
            student: student.info.id.clone(),
            difference: diff.to_string(),
        });
    }
    let (tw, sw) = (teacher.lm_vocab_size()?, student.lm_vocab_size()?);
    if tw != sw {
        return Err(Error::LogitWidthMismatch {
            teacher: teacher.info.id.clone(),
            teacher_width: tw,
            student: student.info.id.clone(),
            student_width: sw,
        });
    }
    Ok(())
}

/// The documents with the highest mean KL, each with its first tokens for the HTML view.
fn divergent(
    model: &Model,
    texts: &[&str],
    stats: &TokenStats,
    doc_of: &[usize],
    pos_of: &[usize],
    docs: &[Vec<u32>],
) -> Vec<DivergentDocument> {
    let mut sums = vec![(0.0f64, 0usize); docs.len()];
    for (i, &d) in doc_of.iter().enumerate() {
        sums[d].0 += stats.kl[i];
        sums[d].1 += 1;
    }
    let mut ranked: Vec<usize> = (0..docs.len()).filter(|&d| sums[d].1 > 0).collect();
    ranked.sort_by(|&a, &b| {
        let (ma, mb) = (sums[a].0 / sums[a].1 as f64, sums[b].0 / sums[b].1 as f64);
        mb.total_cmp(&ma).then(a.cmp(&b))
    });
    let top = |t: &[(u32, f32)]| -> Vec<(String, f32)> {
        t.iter()
            .take(TOP_SHOWN)
            .map(|&(id, p)| (model.token_text(id), p))
            .collect()
    };
    ranked
        .into_iter()
        .take(DOCUMENTS_SHOWN)
        .map(|d| {
            // Tokens are in document order: this document's scored tokens are contiguous.
            let first = doc_of.partition_point(|&x| x < d);
            let ids = &docs[d];
            let mut view = Vec::new();
            for (j, &id) in ids.iter().enumerate().take(TOKENS_SHOWN) {
                let at = first + j.saturating_sub(1);
                let scored = j >= 1 && at < doc_of.len() && doc_of[at] == d && pos_of[at] == j;
                view.push(if scored {
                    TokenView {
                        text: model.token_text(id),
                        kl: Some(stats.kl[at]),
                        teacher_p: Some((-stats.teacher_nll[at]).exp()),
                        student_p: Some((-stats.student_nll[at]).exp()),
                        teacher_top: top(&stats.teacher_top[at]),
                        student_top: top(&stats.student_top[at]),
                    }
                } else {
                    TokenView {
                        text: model.token_text(id),
                        kl: None,
                        teacher_p: None,
                        student_p: None,
                        teacher_top: Vec::new(),
                        student_top: Vec::new(),
                    }
                });
            }
            DivergentDocument {
                document: d,
                mean_kl: sums[d].0 / sums[d].1 as f64,
                tokens: sums[d].1,
                text: texts[d].to_owned(),
                view,
            }
        })
        .collect()
}

const FIGURES: &[FigureSpec] = &[
    FigureSpec {
        key: "kl_divergence",
        column: "token KL",
        format: FigureFormat::Decimal,
    },
    FigureSpec {
        key: "top1_agreement",
        column: "top-1",
        format: FigureFormat::Percent,
    },
    FigureSpec {
        key: "topk_overlap",
        column: "top-k overlap",
        format: FigureFormat::Percent,
    },
    FigureSpec {
        key: "perplexity",
        column: "PPL",
        format: FigureFormat::Decimal,
    },
    FigureSpec {
        key: "perplexity_ratio",
        column: "PPL ratio",
        format: FigureFormat::Decimal,
    },
    FigureSpec {
        key: "retention",
        column: "retention",
        format: FigureFormat::Percent,
    },
];

/// What summaries show of a causal-LM report.
pub static SUMMARY: SummarySpec = SummarySpec {
    figures: FIGURES,
    compare_columns: &[
        "kl_divergence",
        "top1_agreement",
        "perplexity",
        "perplexity_ratio",
        "retention",
    ],
    track_columns: &["kl_divergence", "top1_agreement", "perplexity_ratio"],
    teacher: &[FigureSpec {
        key: "perplexity",
        column: "PPL",
        format: FigureFormat::Decimal,
    }],
    quality: "retention",
    divergence: "kl_divergence",
    names: ("retention", "token KL"),
    pareto_note: "no other student has at least the same retention with at most the same token KL",
    scatter: ("Retention against token KL", "token KL (lower is better)", "retention"),
    trend: &[
        TrendSpec {
            key: "top1_agreement",
            name: "top-1",
            legend: "top-1 agreement",
            color: crate::render::svg::STUDENT,
            right_axis: false,
        },
        TrendSpec {
            key: "kl_divergence",
            name: "KL",
            legend: "token KL(teacher ‖ student)",
            color: "#7c3aed",
            right_axis: true,
        },
    ],
};

impl Findings for LmFindings {
    fn verdict(&self) -> Verdict {
        self.verdict
    }

    fn summary(&self) -> &'static SummarySpec {
        &SUMMARY
    }

    fn figure(&self, key: &str) -> Option<f64> {
        let s = &self.summary;
        match key {
            "kl_divergence" => Some(s.kl_divergence),
            "top1_agreement" => Some(s.top1_agreement),
            "topk_overlap" => Some(s.topk_overlap),
            "perplexity" => Some(s.student.perplexity),
            "perplexity_ratio" => Some(s.perplexity_ratio),
            "retention" => Some(self.retention),
            _ => None,
        }
        .filter(|v| v.is_finite())
    }

    fn teacher_figure(&self, key: &str) -> Option<f64> {
        (key == "perplexity")
            .then_some(self.summary.teacher.perplexity)
            .filter(|v| v.is_finite())
    }

    fn gate_figure(&self, gate: GateKind) -> Option<GateFigure> {
        Some(match gate {
            GateKind::Retention => GateFigure {
                name: "retention",
                value: self.retention,
                undefined: "the teacher answers no question right",
            },
            GateKind::Divergence => GateFigure {
                name: "token KL",
                value: self.summary.kl_divergence,
                undefined: "a model's logits are not finite",
            },
            GateKind::PerplexityRatio => GateFigure {
                name: "perplexity ratio",
                value: self.summary.perplexity_ratio,
                undefined: "a model's logits are not finite",
            },
            GateKind::Calibration => return None,
        })
    }

    fn text(&self, report: &Report, out: &mut dyn Write, style: Style) -> io::Result<()> {
        render::text(self, report, out, style)
    }

    fn markdown(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        render::markdown(self, report, out)
    }

    fn html(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        render::html(self, report, out)
    }
}
