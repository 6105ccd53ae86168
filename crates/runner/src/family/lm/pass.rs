//! The causal-LM passes: the teacher and every student in lockstep over the same batches of
//! windows (one pass each), the LM head applied to bounded chunks of the scored positions, and
//! the per-token statistics computed on the device, so that only per-token scalars (and top-k
//! ids) reach the host; and each model's multiple-choice continuation scores.

use std::time::Instant;

use candle::Tensor;
use distill_eval_metrics::tokens::{base_token_stats, target_log_probs, token_stats, TokenStats};
use distill_eval_model::Model;
use indicatif::{ProgressBar, ProgressStyle};

use super::kld::KldBase;
use super::windows::Window;
use crate::engine::pass::{batches, Meter, PassOptions};
use crate::error::Result;

/// The most logits (positions x vocabulary) one chunk of the LM head produces: 2^22, 16 MiB in
/// float32 (a 2048-token window of a 152k vocabulary would be 1.2 GB at once). The statistics
/// of a chunk hold about a dozen float64 copies of it, so a chunk peaks near 0.5 GB.
pub const LOGIT_CELLS: usize = 1 << 22;

/// What the lockstep pass produced, tokens in document order.
#[derive(Debug)]
pub struct Scored {
    /// Per student, the per-token figures against the teacher.
    pub stats: Vec<TokenStats>,
    /// The document of each scored token.
    pub doc_of: Vec<usize>,
    /// The position in its document of each scored (target) token.
    pub pos_of: Vec<usize>,
    /// Seconds the teacher's forward passes took.
    pub teacher_seconds: f64,
    /// Seconds each student's took.
    pub student_seconds: Vec<f64>,
    /// Tokens every model read (window tokens, overlaps counted again).
    pub tokens_read: usize,
}

fn bar(len: usize, unit: &str, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(&format!(
        "{{prefix:>8}} {{bar:30}} {{pos}}/{{len}} {unit} · {{per_sec}} · eta {{eta}}"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::new(len as u64)
        .with_style(style)
        .with_prefix("lockstep")
}

/// The indices of `lens` that `keep` accepts, sorted by length (stable) and cut into batches by
/// the engine's rule ([`batches`]: at most `batch_size`, little padding, bounded attention).
fn length_batches(
    lens: &[usize],
    batch_size: usize,
    keep: impl Fn(usize) -> bool,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lens.len()).filter(|&i| keep(i)).collect();
    order.sort_by_key(|&i| lens[i]);
    batches(&order, lens, batch_size.max(1))
        .into_iter()
        .map(|r| order[r].to_vec())
        .collect()
}

/// `(from, len)` chunks of `m` scored positions, each with at most `cells` logits of `model`'s
/// vocabulary (at least one position).
fn chunks(model: &Model, m: usize, cells: usize) -> Result<Vec<(usize, usize)>> {
    Ok(chunks_of(model.lm_vocab_size()?, m, cells))
}

/// [`chunks`] for a vocabulary of `vocab`.
fn chunks_of(vocab: usize, m: usize, cells: usize) -> Vec<(usize, usize)> {
    let rows = (cells / vocab.max(1)).max(1);
    (0..m).step_by(rows).map(|from| (from, rows.min(m - from))).collect()
}

/// `(b, t, h)` hidden states of `model` for `rows`, flattened to the rows of `index` (flat
/// positions `row * t + p`), with the seconds it took.
fn hidden_at(model: &Model, rows: &[&[u32]], index: &Tensor) -> Result<(Tensor, f64)> {
    let start = Instant::now();
    let batch = model.batch_ids(rows)?;
    let hidden = model.lm_hidden(&batch)?;
    let (b, t, h) = hidden.dims3()?;
    let picked = hidden
        .reshape((b * t, h))?
        .index_select(&index.to_device(hidden.device())?, 0)?;
    Ok((picked, start.elapsed().as_secs_f64()))
}

/// The LM head over rows `from..from + len` of picked hidden states, with the seconds it took.
fn logits_of(model: &Model, hidden: &Tensor, from: usize, len: usize) -> Result<(Tensor, f64)> {
    let start = Instant::now();
    let logits = model.lm_logits(&hidden.narrow(0, from, len)?)?;
    Ok((logits, start.elapsed().as_secs_f64()))
}

/// Runs `teacher` and every student over `windows` of `docs` (token ids), batch by batch.
#[allow(clippy::too_many_arguments)]
pub fn lockstep(
    teacher: &Model,
    students: &[&Model],
    docs: &[Vec<u32>],
    windows: &[Window],
    pass: &PassOptions,
    temperature: f64,
    top_k: usize,
) -> Result<Scored> {
    lockstep_chunked(
        teacher,
        students,
        docs,
        windows,
        (pass.batch_size, LOGIT_CELLS),
        temperature,
        top_k,
        pass,
    )
}

/// [`lockstep`] with `(batch_size, logit_cells)` chosen (tests use small chunks).
#[allow(clippy::too_many_arguments)]
fn lockstep_chunked(
    teacher: &Model,
    students: &[&Model],
    docs: &[Vec<u32>],
    windows: &[Window],
    (batch_size, logit_cells): (usize, usize),
    temperature: f64,
    top_k: usize,
    progress: &PassOptions,
) -> Result<Scored> {
    let lens: Vec<usize> = windows.iter().map(Window::len).collect();
    let groups = length_batches(&lens, batch_size, |_| true);
    let total: usize = windows.iter().map(Window::scored).sum();
    let bar = bar(total, "tokens", progress.progress);
    let role = if students.len() == 1 {
        "teacher+student"
    } else {
        "teacher+students"
    };
    let mut meter = Meter::start(bar, progress.hook.as_ref(), total, role, "tokens")?;

    let mut stats = vec![TokenStats::default(); students.len()];
    let (mut doc_of, mut pos_of) = (Vec::with_capacity(total), Vec::with_capacity(total));
    let mut teacher_seconds = 0.0;
    let mut student_seconds = vec![0.0; students.len()];
    let mut tokens_read = 0;
    for group in groups {
        let Batch {
            rows,
            index,
            targets,
            scored,
            read,
        } = gather(&group, windows, docs);
        doc_of.extend(scored.iter().map(|&(w, _)| w.doc));
        pos_of.extend(scored.iter().map(|&(_, j)| j));
        tokens_read += read;
        let m = index.len();
        let device = teacher.device();
        let index = Tensor::from_vec(index, m, device)?;
        let targets = Tensor::from_vec(targets, m, device)?;
        let (t_hidden, secs) = hidden_at(teacher, &rows, &index)?;
        teacher_seconds += secs;
        let mut s_hidden = Vec::with_capacity(students.len());
        for (k, s) in students.iter().enumerate() {
            let (h, secs) = hidden_at(s, &rows, &index)?;
            student_seconds[k] += secs;
            s_hidden.push(h);
        }
        for (from, len) in chunks(teacher, m, logit_cells)? {
            let (t_logits, secs) = logits_of(teacher, &t_hidden, from, len)?;
            teacher_seconds += secs;
            let tgt = targets.narrow(0, from, len)?;
            for (k, s) in students.iter().enumerate() {
                let (s_logits, secs) = logits_of(s, &s_hidden[k], from, len)?;
                student_seconds[k] += secs;
                let s_logits = s_logits.to_device(t_logits.device())?;
                stats[k].extend(token_stats(&t_logits, &s_logits, &tgt, temperature, top_k)?);
            }
            meter.inc(len)?;
        }
    }
    meter.finish();
    Ok(in_document_order(
        stats,
        (&doc_of, &pos_of),
        teacher_seconds,
        student_seconds,
        tokens_read,
    ))
}

/// Every student over llama.cpp's `chunks` of `base` (chunk `w.doc` of the file is window
/// `w`), against the base's stored log-probabilities, batch by batch; the teacher's seconds
/// are those spent reading the base.
pub fn against_base(
    base: &KldBase,
    students: &[&Model],
    chunks: &[Vec<u32>],
    windows: &[Window],
    pass: &PassOptions,
    top_k: usize,
) -> Result<Scored> {
    let lens: Vec<usize> = windows.iter().map(Window::len).collect();
    let groups = length_batches(&lens, pass.batch_size, |_| true);
    let total: usize = windows.iter().map(Window::scored).sum();
    let bar = bar(total, "tokens", pass.progress);
    let role = if students.len() == 1 { "student" } else { "students" };
    let mut meter = Meter::start(bar, pass.hook.as_ref(), total, role, "tokens")?;
    let mut reader = base.reader()?;
    let n_vocab = base.n_vocab;
    let mut stats = vec![TokenStats::default(); students.len()];
    let (mut doc_of, mut pos_of) = (Vec::with_capacity(total), Vec::with_capacity(total));
    let mut teacher_seconds = 0.0;
    let mut student_seconds = vec![0.0; students.len()];
    let mut tokens_read = 0;
    let first = students.first().copied();
    for group in groups {
        let Batch {
            rows,
            index,
            targets,
            scored,
            read,
        } = gather(&group, windows, chunks);
        // Each scored position's (chunk, scored row) in the file.
        let at: Vec<(usize, usize)> = scored
            .iter()
            .map(|&(w, j)| (w.doc, j - w.score_from))
            .collect();
        doc_of.extend(scored.iter().map(|&(w, _)| w.doc));
        pos_of.extend(scored.iter().map(|&(_, j)| j));
        tokens_read += read;
        let m = index.len();
        let Some(lead) = first else { break };
        let device = lead.device();
        let index = Tensor::from_vec(index, m, device)?;
        let targets = Tensor::from_vec(targets, m, device)?;
        let mut s_hidden = Vec::with_capacity(students.len());
        for (k, s) in students.iter().enumerate() {
            let (h, secs) = hidden_at(s, &rows, &index)?;
            student_seconds[k] += secs;
            s_hidden.push(h);
        }
        for (from, len) in chunks_of(n_vocab, m, LOGIT_CELLS) {
            let start = Instant::now();
            let mut log_p = Vec::with_capacity(len * n_vocab);
            // Runs of consecutive rows of one chunk are one read each.
            let mut i = from;
            while i < from + len {
                let (chunk, row) = at[i];
                let mut n = 1;
                while i + n < from + len && at[i + n] == (chunk, row + n) {
                    n += 1;
                }
                reader.rows(chunk, row, n, &mut log_p)?;
                i += n;
            }
            let base_t = Tensor::from_vec(log_p, (len, n_vocab), device)?;
            teacher_seconds += start.elapsed().as_secs_f64();
            let tgt = targets.narrow(0, from, len)?;
            for (k, s) in students.iter().enumerate() {
                let (s_logits, secs) = logits_of(s, &s_hidden[k], from, len)?;
                student_seconds[k] += secs;
                let s_logits = s_logits.to_device(device)?;
                stats[k].extend(base_token_stats(&base_t, &s_logits, &tgt, top_k)?);
            }
            meter.inc(len)?;
        }
    }
    meter.finish();
    Ok(in_document_order(
        stats,
        (&doc_of, &pos_of),
        teacher_seconds,
        student_seconds,
        tokens_read,
    ))
}

/// One batch of windows, as the models read it.
struct Batch<'a> {
    /// Each window's tokens.
    rows: Vec<&'a [u32]>,
    /// Per scored position: its flat index in the right-padded batch of `rows`...
    index: Vec<u32>,
    /// ... the token it predicts ...
    targets: Vec<u32>,
    /// ... and its window and position in the window's document.
    scored: Vec<(&'a Window, usize)>,
    /// Tokens the batch reads (window tokens, overlaps counted again).
    read: usize,
}

/// The windows `group` of `docs` as one batch.
fn gather<'a>(group: &[usize], windows: &'a [Window], docs: &'a [Vec<u32>]) -> Batch<'a> {
    let picked: Vec<&Window> = group.iter().map(|&i| &windows[i]).collect();
    let rows: Vec<&[u32]> = picked
        .iter()
        .map(|w| &docs[w.doc][w.begin..w.end])
        .collect();
    let width = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let (mut index, mut targets, mut scored) = (Vec::new(), Vec::new(), Vec::new());
    for (r, w) in picked.iter().enumerate() {
        let doc = &docs[w.doc];
        for (j, &target) in doc.iter().enumerate().take(w.end).skip(w.score_from) {
            index.push((r * width + (j - 1 - w.begin)) as u32);
            targets.push(target);
            scored.push((*w, j));
        }
    }
    Batch {
        rows,
        index,
        targets,
        scored,
        read: picked.iter().map(|w| w.len()).sum(),
    }
}

/// The scored tokens, gathered batch by batch, back in document order.
fn in_document_order(
    stats: Vec<TokenStats>,
    (doc_of, pos_of): (&[usize], &[usize]),
    teacher_seconds: f64,
    student_seconds: Vec<f64>,
    tokens_read: usize,
) -> Scored {
    let mut perm: Vec<usize> = (0..doc_of.len()).collect();
    perm.sort_by_key(|&i| (doc_of[i], pos_of[i]));
    Scored {
        stats: stats.into_iter().map(|s| permute_stats(s, &perm)).collect(),
        doc_of: permute(doc_of, &perm),
        pos_of: permute(pos_of, &perm),
        teacher_seconds,
        student_seconds,
        tokens_read,
    }
}

fn permute<T: Clone>(v: &[T], perm: &[usize]) -> Vec<T> {
    perm.iter().map(|&i| v[i].clone()).collect()
}

fn permute_stats(s: TokenStats, perm: &[usize]) -> TokenStats {
    TokenStats {
        kl: permute(&s.kl, perm),
        reverse_kl: permute(&s.reverse_kl, perm),
        js: permute(&s.js, perm),
        top1_agree: permute(&s.top1_agree, perm),
        teacher_nll: permute(&s.teacher_nll, perm),
        student_nll: permute(&s.student_nll, perm),
        topk_overlap: permute(&s.topk_overlap, perm),
        teacher_top: permute(&s.teacher_top, perm),
        student_top: permute(&s.student_top, perm),
    }
}

/// One scored continuation: token ids of context + continuation, and where the continuation
/// starts.
#[derive(Debug, Clone)]
pub struct Continuation {
    /// Every token id.
    pub ids: Vec<u32>,
    /// Index of the first continuation token (at least 1).
    pub from: usize,
}

/// The summed log-probability `model` gives each continuation's tokens (lm-evaluation-harness's
/// loglikelihood), with the seconds it took.
/// `pass` gives the batch size and the progress shown (counted in continuations, as `role`).
pub fn continuation_scores(
    model: &Model,
    items: &[Continuation],
    pass: &PassOptions,
    role: &str,
) -> Result<(Vec<f64>, f64)> {
    let start = Instant::now();
    let lens: Vec<usize> = items.iter().map(|c| c.ids.len()).collect();
    let mut scores = vec![0.0; items.len()];
    let bar = bar(items.len(), "choices", pass.progress).with_prefix(role.to_owned());
    let mut meter = Meter::start(bar, pass.hook.as_ref(), items.len(), role, "choices")?;
    for idx in length_batches(&lens, pass.batch_size, |_| true) {
        let done = idx.len();
        let rows: Vec<&[u32]> = idx.iter().map(|&i| items[i].ids.as_slice()).collect();
        let width = rows.iter().map(|r| r.len()).max().unwrap_or(0);
        let (mut index, mut targets, mut owner) = (Vec::new(), Vec::new(), Vec::new());
        for (r, &i) in idx.iter().enumerate() {
            let c = &items[i];
            for j in c.from..c.ids.len() {
                index.push((r * width + j - 1) as u32);
                targets.push(c.ids[j]);
                owner.push(i);
            }
        }
        let m = index.len();
        if m > 0 {
            let index = Tensor::from_vec(index, m, model.device())?;
            let targets = Tensor::from_vec(targets, m, model.device())?;
            let (hidden, _) = hidden_at(model, &rows, &index)?;
            for (from, len) in chunks(model, m, LOGIT_CELLS)? {
                let (logits, _) = logits_of(model, &hidden, from, len)?;
                let lp = target_log_probs(&logits, &targets.narrow(0, from, len)?)?;
                for (k, v) in lp.into_iter().enumerate() {
                    scores[owner[from + k]] += v;
                }
            }
        }
        meter.inc(done)?;
    }
    meter.finish();
    Ok((scores, start.elapsed().as_secs_f64()))
}

/// `(tokens, vocab)` float32 logits of every position of every document, documents
/// concatenated in order (each run alone: no padding reaches a document's logits). A document
/// longer than the model's positions is refused.
pub fn document_logits(model: &Model, docs: &[Vec<u32>], batch_size: usize) -> Result<Tensor> {
    let max_positions = model.lm_max_positions()?;
    if let Some(i) = docs.iter().position(|d| d.len() > max_positions) {
        return Err(crate::error::Error::BadWindow {
            reason: format!(
                "document {i} holds {} tokens, more than the model's {max_positions} positions; `logits` writes each document in one piece",
                docs[i].len()
            ),
            max_positions,
        });
    }
    let lens: Vec<usize> = docs.iter().map(Vec::len).collect();
    let mut out: Vec<Option<Tensor>> = vec![None; docs.len()];
    for idx in length_batches(&lens, batch_size, |i| lens[i] > 0) {
        let rows: Vec<&[u32]> = idx.iter().map(|&i| docs[i].as_slice()).collect();
        let batch = model.batch_ids(&rows)?;
        let hidden = model.lm_hidden(&batch)?;
        for (r, &i) in idx.iter().enumerate() {
            let h = hidden.get(r)?.narrow(0, 0, lens[i])?;
            out[i] = Some(model.lm_logits(&h)?.to_dtype(candle::DType::F32)?);
        }
    }
    let parts: Vec<Tensor> = out.into_iter().flatten().collect();
    Ok(Tensor::cat(&parts, 0)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::lm::windows::Windowing;
    use candle::Device;
    use distill_eval_model::{LoadOptions, ModelSource};

    fn load(name: &str) -> Model {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/llm").join(name);
        distill_eval_model::load(&ModelSource::Local(dir), &Device::Cpu, &LoadOptions::default())
            .unwrap()
    }

    #[test]
    fn chunks_batches_and_windows_do_not_change_the_figures() {
        let (t, s) = (load("teacher_llama"), load("llama_small"));
        let texts = [
            "The plot was great. i would watch it again.",
            "x",
            "The cast turned out weak. i would not recommend it. The ending felt boring.",
        ];
        let docs = t.encode_documents(&texts).unwrap();
        let lens: Vec<usize> = docs.iter().map(Vec::len).collect();
        let whole = Windowing::new(None, None, 128).unwrap().plan(&lens);
        let one = lockstep_chunked(&t, &[&s], &docs, &whole, (64, LOGIT_CELLS), 1.0, 5, &PassOptions::default()).unwrap();
        // Chunks of 7 positions (300-token vocabulary), one window per batch.
        let small = lockstep_chunked(&t, &[&s], &docs, &whole, (1, 300 * 7), 1.0, 5, &PassOptions::default()).unwrap();
        assert_eq!(one.doc_of, small.doc_of);
        assert_eq!(one.pos_of, small.pos_of);
        let (a, b) = (&one.stats[0], &small.stats[0]);
        assert_eq!(a.len(), lens.iter().map(|l| l - 1).sum::<usize>());
        // Other batch widths round float32 matrix products differently: equal to ~1e-6.
        for (x, y) in a.kl.iter().zip(&b.kl) {
            assert!((x - y).abs() < 1e-6, "{x} vs {y}");
        }
        assert_eq!(a.top1_agree, b.top1_agree);
        assert_eq!(a.teacher_top.iter().map(|r| r[0].0).collect::<Vec<_>>(), b.teacher_top.iter().map(|r| r[0].0).collect::<Vec<_>>());
        // Tokens come back in document order, every target once.
        assert!(one.pos_of.windows(2).zip(one.doc_of.windows(2)).all(|(p, d)| d[0] < d[1] || p[0] + 1 == p[1]));
        // Narrow windows score the same tokens.
        let narrow = Windowing::new(Some(6), Some(2), 128).unwrap().plan(&lens);
        let w = lockstep_chunked(&t, &[&s], &docs, &narrow, (3, 300 * 5), 1.0, 5, &PassOptions::default()).unwrap();
        assert_eq!((w.doc_of.clone(), w.pos_of.clone()), (one.doc_of.clone(), one.pos_of.clone()));
        assert!(w.tokens_read > one.tokens_read);
    }
}
