//! GGUF checkpoints (llama.cpp's format) as causal LMs on the shared decoder core: the config
//! from the `{arch}.*` metadata, every projection a `QMatMul` over the stored (possibly
//! quantized) tensor, the embedding and norms dequantized to f32, and the tokenizer from the
//! `tokenizer.ggml.*` metadata (`gguf_vocab.rs`). Every position's logits, unlike candle's
//! `quantized_llama`, which narrows to the last one.
//!
//! Upstream: the GGUF spec (<https://github.com/ggml-org/ggml/blob/master/docs/gguf.md>),
//! llama.cpp `src/llama-arch.cpp` (tensor names `blk.{i}.attn_q` ...) and `src/llama-model.cpp`
//! (which rope each architecture uses: llama's converter permutes q and k so adjacent pairs
//! rotate, `LLAMA_ROPE_TYPE_NORM`; qwen2, qwen3, gemma2, gemma3 and phi3 are `NEOX`,
//! rotate_half; what Gemma and Phi-3 read from their keys), and `convert_hf_to_gguf.py` (the
//! metadata keys, Gemma's norms stored as `1 + w`, Phi-3's fused tensors and LongRoPE factors).
//!
//! Parsing is bounded: candle's `gguf_file` reader checks every count and length against the
//! file's size, and this file checks every tensor's extent before reading it.
use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use candle::quantized::gguf_file::{Content, Value};
use candle::quantized::{GgmlDType, QMatMul, QTensor};
use candle::{DType, Device, Tensor};
use candle_nn::Activation;

use crate::arch::decoder::{
    Decoder, DecoderSpec, DecoderWeights, GateUp, LayerKind, LayerWeights, NormKind, Proj, Qkv,
    RopeStyle,
};
use crate::arch::rope::{self, LongFrequencies, RopeSpec};
use crate::arch::{Loaded, Task};
use crate::convert::TokenizerFiles;
use crate::device::{device_label, dtype_label};
use crate::gguf_vocab::{self, GgufVocab};
use crate::tokenizer::{EncoderSpec, TextEncoder};
use crate::{Error, LoadOptions, Model, ModelInfo, Result};

/// The tensor types candle reads, for hints.
pub(crate) const TENSOR_TYPES: &str =
    "F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K";

/// `general.architecture` values read, with the HF class each stands for.
const ARCHITECTURES: &[(&str, &str)] = &[
    ("llama", "LlamaForCausalLM"),
    ("qwen2", "Qwen2ForCausalLM"),
    ("qwen3", "Qwen3ForCausalLM"),
    ("gemma2", "Gemma2ForCausalLM"),
    ("gemma3", "Gemma3ForCausalLM"),
    ("phi3", "Phi3ForCausalLM"),
];

/// The size and precision of a GGUF model, for reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GgufInfo {
    /// The file's size in bytes.
    pub file_bytes: u64,
    /// Tensor bytes x 8 / tensor elements, over every tensor of the file (llama.cpp's "BPW").
    pub bits_per_weight: f64,
    /// How many tensors of each type the file holds, e.g. {"Q4_1": 211, "F32": 61}.
    pub tensor_types: BTreeMap<String, usize>,
}

/// Whether a path names a GGUF file.
pub(crate) fn is_gguf(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
}

/// An open GGUF file whose header has been read and whose tensors all lie inside it.
pub(crate) struct GgufFile {
    path: PathBuf,
    content: Content,
    reader: BufReader<File>,
    file_bytes: u64,
}

fn ggml_name(t: GgmlDType) -> String {
    format!("{t:?}").to_uppercase()
}

impl GgufFile {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let file_bytes = file.metadata().map_err(io)?.len();
        let mut reader = BufReader::new(file);
        let content = Content::read(&mut reader).map_err(|source| {
            // candle names an unknown tensor type "unknown dtype for tensor N".
            if source.to_string().contains("unknown dtype") {
                Error::GgufTensorType {
                    path: path.to_owned(),
                    source,
                }
            } else {
                Error::CorruptGguf {
                    path: path.to_owned(),
                    source,
                }
            }
        })?;
        let this = Self {
            path: path.to_owned(),
            content,
            reader,
            file_bytes,
        };
        this.check_extents()?;
        Ok(this)
    }

    fn tensor_error(&self, name: &str, reason: String) -> Error {
        Error::GgufTensor {
            path: self.path.clone(),
            name: name.to_owned(),
            reason,
        }
    }

    /// Every tensor's bytes lie inside the file, and its element count is a whole number of
    /// blocks (a header may claim anything).
    fn check_extents(&self) -> Result<()> {
        for (name, info) in &self.content.tensor_infos {
            let elems = info
                .shape
                .dims()
                .iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .ok_or_else(|| {
                    self.tensor_error(name, format!("shape {:?} overflows", info.shape.dims()))
                })?;
            let block = info.ggml_dtype.block_size();
            if elems % block != 0 {
                return Err(self.tensor_error(
                    name,
                    format!(
                        "{elems} elements are not a whole number of {} blocks of {block}",
                        ggml_name(info.ggml_dtype)
                    ),
                ));
            }
            let bytes = (elems / block) as u64 * info.ggml_dtype.type_size() as u64;
            let end = self
                .content
                .tensor_data_offset
                .checked_add(info.offset)
                .and_then(|s| s.checked_add(bytes));
            if end.is_none_or(|end| end > self.file_bytes) {
                return Err(self.tensor_error(
                    name,
                    format!(
                        "its {bytes} bytes at offset {} run past the end of the {}-byte file",
                        info.offset, self.file_bytes
                    ),
                ));
            }
        }
        Ok(())
    }

    fn meta(&self, key: &str) -> Option<&Value> {
        self.content.metadata.get(key)
    }

    fn meta_error(&self, key: &str, reason: &str) -> Error {
        Error::GgufMetadata {
            path: self.path.clone(),
            key: key.to_owned(),
            reason: reason.to_owned(),
        }
    }

    fn uint(&self, key: &str) -> Result<Option<usize>> {
        let Some(v) = self.meta(key) else {
            return Ok(None);
        };
        let n = match v {
            Value::U8(x) => Some(*x as u64),
            Value::U16(x) => Some(*x as u64),
            Value::U32(x) => Some(*x as u64),
            Value::U64(x) => Some(*x),
            Value::I8(x) => u64::try_from(*x).ok(),
            Value::I16(x) => u64::try_from(*x).ok(),
            Value::I32(x) => u64::try_from(*x).ok(),
            Value::I64(x) => u64::try_from(*x).ok(),
            _ => None,
        };
        n.and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| self.meta_error(key, "is not a non-negative integer"))
    }

    fn required(&self, key: &str) -> Result<usize> {
        match self.uint(key)? {
            Some(0) => Err(self.meta_error(key, "is 0")),
            Some(n) => Ok(n),
            None => Err(self.meta_error(key, "is missing")),
        }
    }

    fn float(&self, key: &str) -> Result<Option<f64>> {
        match self.meta(key) {
            None => Ok(None),
            Some(Value::F32(x)) => Ok(Some(*x as f64)),
            Some(Value::F64(x)) => Ok(Some(*x)),
            Some(_) => Err(self.meta_error(key, "is not a number")),
        }
    }

    fn string(&self, key: &str) -> Result<Option<&str>> {
        match self.meta(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.meta_error(key, "is not a string")),
        }
    }

    fn array(&self, key: &str) -> Result<Option<&[Value]>> {
        match self.meta(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(self.meta_error(key, "is not an array")),
        }
    }

    /// A bool key; anything else reads as absent (llama.cpp's default applies).
    fn flag(&self, key: &str) -> Option<bool> {
        match self.meta(key) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    fn has(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// The stored tensor, checked against the shape the metadata implies.
    fn qtensor(&mut self, name: &str, shape: &[usize], device: &Device) -> Result<QTensor> {
        let Some(info) = self.content.tensor_infos.get(name) else {
            return Err(self.tensor_error(name, "is missing".into()));
        };
        if info.shape.dims() != shape {
            return Err(self.tensor_error(
                name,
                format!(
                    "has shape {:?} but the metadata implies {shape:?}",
                    info.shape.dims()
                ),
            ));
        }
        let offset = self.content.tensor_data_offset;
        info.read(&mut self.reader, offset, device)
            .map_err(|source| Error::CorruptGguf {
                path: self.path.clone(),
                source,
            })
    }

    /// A projection on `device`; quantized types stay quantized.
    fn proj(&mut self, name: &str, out: usize, inp: usize, device: &Device) -> Result<Proj> {
        let q = self.qtensor(&format!("{name}.weight"), &[out, inp], device)?;
        let bias_name = format!("{name}.bias");
        let bias = if self.has(&bias_name) {
            Some(self.dense(&bias_name, &[out], device)?)
        } else {
            None
        };
        let t = q.dtype();
        if inp % t.block_size() != 0 {
            return Err(self.tensor_error(
                &format!("{name}.weight"),
                format!(
                    "has rows of {inp} weights, not a whole number of {} blocks of {}",
                    ggml_name(t),
                    t.block_size()
                ),
            ));
        }
        // NOTE: candle 0.11's CPU dot products of Q4_1, Q5_0 and Q5_1 assert an even number of
        // blocks per row (`vec_dot_q4_1_q8_1: nb is not divisible by 2`) and the panic poisons
        // its thread pool; such rows are dequantized instead (same weights, f32 activations).
        let odd = matches!(t, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1)
            && (inp / t.block_size()) % 2 == 1;
        let weight = if odd && device.is_cpu() {
            tracing::debug!(tensor = name, "odd block count per row: dequantized");
            QMatMul::Tensor(q.dequantize(device)?)
        } else {
            QMatMul::from_qtensor(q)?
        };
        Ok(Proj::Quantized { weight, bias })
    }

    /// A tensor dequantized to f32 on `device`.
    fn dense(&mut self, name: &str, shape: &[usize], device: &Device) -> Result<Tensor> {
        let q = self.qtensor(name, shape, device)?;
        Ok(q.dequantize(device)?.to_dtype(DType::F32)?)
    }

    fn info(&self) -> GgufInfo {
        let mut bytes = 0u64;
        let mut elems = 0u64;
        let mut tensor_types = BTreeMap::new();
        for info in self.content.tensor_infos.values() {
            let n = info.shape.elem_count() as u64;
            let t = info.ggml_dtype;
            bytes += n / t.block_size() as u64 * t.type_size() as u64;
            elems += n;
            *tensor_types.entry(ggml_name(t)).or_insert(0) += 1;
        }
        GgufInfo {
            file_bytes: self.file_bytes,
            bits_per_weight: if elems == 0 {
                0.0
            } else {
                bytes as f64 * 8.0 / elems as f64
            },
            tensor_types,
        }
    }
}

/// How an architecture's file names and shapes its tensors (llama.cpp `src/llama-arch.cpp`).
#[derive(Debug, Clone, Copy, Default)]
struct Layout {
    /// `blk.{i}.attn_q_norm` / `attn_k_norm` (qwen3, gemma3).
    qk_norm: bool,
    /// Gemma's `attn_post_norm`, `ffn_norm` (before the MLP) and `post_ffw_norm`.
    sandwich: bool,
    /// One `blk.{i}.attn_qkv` (phi3).
    fused_qkv: bool,
    /// `blk.{i}.ffn_up` holds gate then up, and there is no `ffn_gate` (phi3).
    fused_gate_up: bool,
}

/// Inverse frequencies `1 / base^(2i / dim)` in f32, as the safetensors families compute them.
fn inv_freq(base: f64, dim: usize) -> Vec<f32> {
    (0..dim)
        .step_by(2)
        .map(|i| 1.0 / (base as f32).powf(i as f32 / dim as f32))
        .collect()
}

/// llama.cpp `set_swa_pattern(n)`: layer `il` slides when `il % n < n - 1` (n = 2: every even
/// layer, Gemma 2; n = 6: five sliding layers, then a global one, Gemma 3).
fn swa_pattern(layers: usize, n: usize) -> Vec<bool> {
    (0..layers).map(|il| il % n < n - 1).collect()
}

impl GgufFile {
    /// A positive float, `default` when absent.
    fn positive(&self, key: &str, default: Option<f64>) -> Result<Option<f64>> {
        match self.float(key)?.or(default) {
            Some(x) if !(x.is_finite() && x > 0.0) => {
                Err(self.meta_error(key, &format!("is {x}, not a positive number")))
            }
            other => Ok(other),
        }
    }

    /// The sliding layers of a Gemma file: `{arch}.attention.sliding_window_pattern` when the
    /// file has it (a period, or one bool per layer, as gguf-py's `add_sliding_window_pattern`
    /// writes it), else the period llama.cpp fixes for the architecture.
    fn sliding_layers(&self, arch: &str, layers: usize, period: usize) -> Result<Vec<bool>> {
        let key = format!("{arch}.attention.sliding_window_pattern");
        match self.meta(&key) {
            None => Ok(swa_pattern(layers, period)),
            Some(Value::Array(a)) => {
                if a.len() != layers {
                    return Err(self.meta_error(
                        &key,
                        &format!("has {} entries for {layers} layers", a.len()),
                    ));
                }
                a.iter()
                    .map(|v| match v {
                        Value::Bool(b) => Ok(*b),
                        _ => Err(self.meta_error(&key, "is not an array of bools")),
                    })
                    .collect()
            }
            Some(_) => match self.uint(&key)? {
                Some(0) | None => Err(self.meta_error(&key, "is 0")),
                Some(n) => Ok(swa_pattern(layers, n)),
            },
        }
    }
}

/// The decoder's hyperparameters from `{arch}.*`, and where its tensors are.
///
/// Upstream: llama.cpp `src/llama-model.cpp` `load_hparams` and `convert_hf_to_gguf.py`
/// (`Gemma2Model`, `Gemma3Model`, `Phi3MiniModel`), which decide what each key means.
fn spec(g: &mut GgufFile, arch: &str) -> Result<(DecoderSpec, Layout)> {
    let key = |k: &str| format!("{arch}.{k}");
    let hidden = g.required(&key("embedding_length"))?;
    let layers = g.required(&key("block_count"))?;
    let intermediate = g.required(&key("feed_forward_length"))?;
    let heads = g.required(&key("attention.head_count"))?;
    let kv_heads = g.uint(&key("attention.head_count_kv"))?.unwrap_or(heads);
    if kv_heads == 0 || heads % kv_heads != 0 {
        return Err(g.meta_error(
            &key("attention.head_count_kv"),
            &format!("{kv_heads} does not divide attention.head_count {heads}"),
        ));
    }
    let head_dim = g
        .uint(&key("attention.key_length"))?
        .unwrap_or(hidden / heads);
    if head_dim == 0 || head_dim % 2 != 0 {
        return Err(g.meta_error(
            &key("attention.key_length"),
            &format!("head size {head_dim} is not a positive even number"),
        ));
    }
    let rope_style = match arch {
        // llama.cpp's converter permuted q and k of llama models (LLAMA_ROPE_TYPE_NORM).
        "llama" => RopeStyle::Interleaved,
        // qwen2, qwen3, gemma2, gemma3, phi3: LLAMA_ROPE_TYPE_NEOX, the unpermuted rotate_half.
        _ => RopeStyle::Half,
    };
    let rotary_dim = g.uint(&key("rope.dimension_count"))?.unwrap_or(head_dim);
    // Phi-3's `partial_rotary_factor` becomes a smaller rope.dimension_count; NEOX rotation
    // turns the leading dims in halves, as transformers does. The llama permutation is of
    // whole heads, so a partial interleaved rotation cannot be undone.
    let partial_ok = rope_style == RopeStyle::Half;
    if rotary_dim == 0
        || rotary_dim % 2 != 0
        || rotary_dim > head_dim
        || (rotary_dim != head_dim && !partial_ok)
    {
        return Err(g.meta_error(
            &key("rope.dimension_count"),
            &format!("{rotary_dim} rotated dims do not fit the head size {head_dim}; only NEOX-style files rotate part of each head"),
        ));
    }
    let vocab = match g.uint(&key("vocab_size"))? {
        Some(v) => v,
        None => g
            .content
            .tensor_infos
            .get("token_embd.weight")
            .map(|i| i.shape.dims()[0])
            .ok_or_else(|| g.tensor_error("token_embd.weight", "is missing".into()))?,
    };
    let base = g
        .positive(&key("rope.freq_base"), Some(10_000.0))?
        .unwrap_or(10_000.0);
    let mut freqs = inv_freq(base, rotary_dim);
    match g.string(&key("rope.scaling.type"))? {
        None | Some("none") => {}
        Some("linear") => {
            let factor = g
                .positive(&key("rope.scaling.factor"), Some(1.0))?
                .unwrap_or(1.0) as f32;
            freqs.iter_mut().for_each(|f| *f /= factor);
        }
        Some(other) => {
            return Err(g.meta_error(
                &key("rope.scaling.type"),
                &format!("is {other}; only linear RoPE scaling is read from GGUF files"),
            ))
        }
    }
    let eps = g
        .float(&key("attention.layer_norm_rms_epsilon"))?
        .unwrap_or(1e-6);
    let max_positions = g.uint(&key("context_length"))?.unwrap_or(2048);
    let rope = RopeSpec {
        inv_freq: freqs,
        long: None,
        attention_scaling: 1.0,
        rotary_dim,
    };
    let mut spec = DecoderSpec {
        hidden,
        heads,
        kv_heads,
        head_dim,
        intermediate,
        vocab,
        eps,
        norm: NormKind::Scale,
        act: Activation::Silu,
        embed_scale: None,
        attn_scale: (head_dim as f64).powf(-0.5),
        attn_softcap: None,
        final_softcap: None,
        layers: vec![
            LayerKind {
                window: None,
                rope: 0
            };
            layers
        ],
        ropes: vec![rope],
        rope_style,
        max_positions,
    };
    let mut layout = Layout {
        qk_norm: arch == "qwen3",
        ..Layout::default()
    };
    match arch {
        "gemma2" | "gemma3" => gemma(g, arch, &mut spec, &mut layout)?,
        "phi3" => phi3(g, &mut spec, &mut layout)?,
        _ => {}
    }
    Ok((spec, layout))
}

/// Gemma 2 and 3 as llama.cpp reads them. The converter stores every norm weight as `1 + w`
/// (`Gemma2Model.modify_tensors`: `data_torch + 1` for names ending in `norm.weight`, and
/// Gemma 3's `norm_shift`), so the norms are plain `Scale` norms here. The scores are scaled by
/// head_dim^-0.5, or by (hidden / heads)^-0.5 for the 27B models (46 layers for Gemma 2, 62 for
/// Gemma 3), which is what `query_pre_attn_scalar` is in every released checkpoint: the file
/// does not store it (`llama-model.cpp` `f_attention_scale`).
fn gemma(g: &GgufFile, arch: &str, spec: &mut DecoderSpec, layout: &mut Layout) -> Result<()> {
    let key = |k: &str| format!("{arch}.{k}");
    let layers = spec.layers.len();
    layout.sandwich = true;
    layout.qk_norm = arch == "gemma3";
    spec.act = Activation::GeluPytorchTanh;
    spec.embed_scale = Some((spec.hidden as f64).sqrt());
    let big = if arch == "gemma2" { 46 } else { 62 };
    spec.attn_scale = if layers == big {
        ((spec.hidden / spec.heads) as f64).powf(-0.5)
    } else {
        (spec.head_dim as f64).powf(-0.5)
    };
    if arch == "gemma2" {
        // llama.cpp's defaults when the keys are absent: windows of 4096, caps 50 and 30.
        let window = g.uint(&key("attention.sliding_window"))?.unwrap_or(4096);
        spec.attn_softcap = g.positive(&key("attn_logit_softcapping"), Some(50.0))?;
        spec.final_softcap = g.positive(&key("final_logit_softcapping"), Some(30.0))?;
        let sliding = g.sliding_layers(arch, layers, 2)?;
        for (kind, slides) in spec.layers.iter_mut().zip(sliding) {
            kind.window = (slides && window > 0).then_some(window);
        }
    } else {
        // Gemma 3: no attention soft-cap; a final one only when written. The sliding layers
        // rotate with base `rope.freq_base_swa` (10000, llama.cpp's fixed value, when absent)
        // and no scaling; `rope.freq_base` and `rope.scaling` are the global layers'.
        spec.final_softcap = g.positive(&key("final_logit_softcapping"), None)?;
        let window = g.uint(&key("attention.sliding_window"))?.unwrap_or(0);
        if window > 0 {
            let local = g
                .positive(&key("rope.freq_base_swa"), Some(10_000.0))?
                .unwrap_or(10_000.0);
            let rotary_dim = spec.ropes[0].rotary_dim;
            spec.ropes.push(RopeSpec {
                inv_freq: inv_freq(local, rotary_dim),
                long: None,
                attention_scaling: 1.0,
                rotary_dim,
            });
            let sliding = g.sliding_layers(arch, layers, 6)?;
            for (kind, slides) in spec.layers.iter_mut().zip(sliding) {
                if slides {
                    *kind = LayerKind {
                        window: Some(window),
                        rope: 1,
                    };
                }
            }
        }
    }
    Ok(())
}

/// Phi-3 as `Phi3MiniModel` writes it: fused `attn_qkv` and `ffn_up` (gate rows first), partial
/// rotation in `rope.dimension_count`, and LongRoPE as the `rope_factors_short` /
/// `rope_factors_long` tensors with `rope.scaling.attn_factor` and
/// `rope.scaling.original_context_length`. As in transformers, a row longer than the original
/// context takes the long factors (llama.cpp decides once, from the context size).
/// NOTE: llama.cpp ignores `attention.sliding_window` for Phi-3 (its "Phi SWA is currently
/// disabled" warning); transformers applies it, and so do we, on every layer.
fn phi3(g: &mut GgufFile, spec: &mut DecoderSpec, layout: &mut Layout) -> Result<()> {
    layout.fused_qkv = true;
    layout.fused_gate_up = true;
    let window = g.uint("phi3.attention.sliding_window")?.unwrap_or(0);
    if window > 0 {
        for kind in &mut spec.layers {
            kind.window = Some(window);
        }
    }
    let (short, long) = ("rope_factors_short.weight", "rope_factors_long.weight");
    if !g.has(short) && !g.has(long) {
        return Ok(());
    }
    let rotary_dim = spec.ropes[0].rotary_dim;
    let mut factors = |name: &str| -> Result<Vec<f64>> {
        let t = g.dense(name, &[rotary_dim / 2], &Device::Cpu)?;
        Ok(t.to_vec1::<f32>()?.into_iter().map(f64::from).collect())
    };
    let short = factors(short)?;
    let long = factors(long)?;
    let original_key = "phi3.rope.scaling.original_context_length";
    let original = g
        .uint(original_key)?
        .filter(|&n| n > 0)
        .ok_or_else(|| g.meta_error(original_key, "is missing (LongRoPE needs it)"))?;
    let attention_scaling = g
        .positive("phi3.rope.scaling.attn_factor", Some(1.0))?
        .unwrap_or(1.0);
    let base = g
        .positive("phi3.rope.freq_base", Some(10_000.0))?
        .unwrap_or(10_000.0);
    spec.ropes[0] = RopeSpec {
        inv_freq: rope::longrope(base, rotary_dim, &short),
        long: Some(LongFrequencies {
            inv_freq: rope::longrope(base, rotary_dim, &long),
            original_max_positions: original,
        }),
        attention_scaling,
        rotary_dim,
    };
    Ok(())
}

/// The weights under llama.cpp's names.
fn weights(
    g: &mut GgufFile,
    spec: &DecoderSpec,
    layout: Layout,
    device: &Device,
) -> Result<DecoderWeights> {
    let (h, d, i) = (spec.hidden, spec.head_dim, spec.intermediate);
    let (q_out, kv_out) = (spec.heads * d, spec.kv_heads * d);
    let embed = g.dense("token_embd.weight", &[spec.vocab, h], device)?;
    let mut layers = Vec::with_capacity(spec.layers.len());
    for n in 0..spec.layers.len() {
        let b = format!("blk.{n}");
        let qkv = if layout.fused_qkv {
            Qkv::Fused(g.proj(&format!("{b}.attn_qkv"), q_out + 2 * kv_out, h, device)?)
        } else {
            Qkv::Split {
                q: g.proj(&format!("{b}.attn_q"), q_out, h, device)?,
                k: g.proj(&format!("{b}.attn_k"), kv_out, h, device)?,
                v: g.proj(&format!("{b}.attn_v"), kv_out, h, device)?,
            }
        };
        let gate_up = if layout.fused_gate_up {
            GateUp::Fused(g.proj(&format!("{b}.ffn_up"), 2 * i, h, device)?)
        } else {
            GateUp::Split {
                gate: g.proj(&format!("{b}.ffn_gate"), i, h, device)?,
                up: g.proj(&format!("{b}.ffn_up"), i, h, device)?,
            }
        };
        let (q_norm, k_norm) = if layout.qk_norm {
            (
                Some(g.dense(&format!("{b}.attn_q_norm.weight"), &[d], device)?),
                Some(g.dense(&format!("{b}.attn_k_norm.weight"), &[d], device)?),
            )
        } else {
            (None, None)
        };
        let (attn_out_norm, mlp_out_norm) = if layout.sandwich {
            (
                Some(g.dense(&format!("{b}.attn_post_norm.weight"), &[h], device)?),
                Some(g.dense(&format!("{b}.post_ffw_norm.weight"), &[h], device)?),
            )
        } else {
            (None, None)
        };
        layers.push(LayerWeights {
            qkv,
            o: g.proj(&format!("{b}.attn_output"), h, q_out, device)?,
            gate_up,
            down: g.proj(&format!("{b}.ffn_down"), h, i, device)?,
            attn_norm: g.dense(&format!("{b}.attn_norm.weight"), &[h], device)?,
            attn_out_norm,
            mlp_norm: g.dense(&format!("{b}.ffn_norm.weight"), &[h], device)?,
            mlp_out_norm,
            q_norm,
            k_norm,
        });
    }
    let norm = g.dense("output_norm.weight", &[h], device)?;
    // Tied models store no output.weight; the (possibly quantized) embedding is the head.
    let head = if g.has("output.weight") {
        "output"
    } else {
        "token_embd"
    };
    let lm_head = g.proj(head, spec.vocab, h, device)?;
    Ok(DecoderWeights {
        embed,
        layers,
        norm,
        lm_head,
    })
}

/// The tokenizer of the `tokenizer.ggml.*` metadata.
fn tokenizer(g: &GgufFile) -> Result<tokenizers::Tokenizer> {
    let tokens = g
        .array("tokenizer.ggml.tokens")?
        .ok_or_else(|| g.meta_error("tokenizer.ggml.tokens", "is missing"))?;
    let vocab = GgufVocab {
        model: g.string("tokenizer.ggml.model")?.unwrap_or("gpt2"),
        pre: g.string("tokenizer.ggml.pre")?,
        tokens,
        merges: g.array("tokenizer.ggml.merges")?,
        token_types: g.array("tokenizer.ggml.token_type")?,
        bos: g
            .uint("tokenizer.ggml.bos_token_id")?
            .and_then(|b| u32::try_from(b).ok()),
        add_bos: g.flag("tokenizer.ggml.add_bos_token"),
        scores: g.array("tokenizer.ggml.scores")?,
        eos: g
            .uint("tokenizer.ggml.eos_token_id")?
            .and_then(|b| u32::try_from(b).ok()),
        add_eos: g.flag("tokenizer.ggml.add_eos_token"),
        unk: g
            .uint("tokenizer.ggml.unknown_token_id")?
            .and_then(|b| u32::try_from(b).ok()),
        add_space_prefix: g.flag("tokenizer.ggml.add_space_prefix"),
    };
    let tokenizer = gguf_vocab::build(&vocab).map_err(|(reason, hint)| Error::GgufTokenizer {
        path: g.path.clone(),
        reason,
        hint,
    })?;
    Ok(tokenizer)
}

/// Loads `path` as a causal LM on `device` (f32 activations), with the tokenizer its metadata
/// carries. `id` is the user's spelling of the model.
#[tracing::instrument(skip_all, fields(model = %id))]
pub(crate) fn load(
    path: &Path,
    id: String,
    revision: Option<String>,
    device: &Device,
    opts: &LoadOptions,
) -> Result<Model> {
    let mut g = GgufFile::open(path)?;
    let arch = g
        .string("general.architecture")?
        .ok_or_else(|| g.meta_error("general.architecture", "is missing"))?
        .to_owned();
    let Some(&(_, class)) = ARCHITECTURES.iter().find(|(a, _)| *a == arch) else {
        return Err(Error::UnsupportedGgufArchitecture {
            path: path.to_owned(),
            found: arch,
            supported: ARCHITECTURES.iter().map(|(a, _)| *a).collect(),
        });
    };
    // Quantized matmuls take f32 activations; the rest of the core then runs in f32 too.
    let dtype = opts.dtype.resolve(device, &[DType::F32]);
    if dtype != DType::F32 {
        return Err(Error::UnsupportedDType {
            model_type: "gguf",
            requested: dtype,
            supported: &[DType::F32],
        });
    }
    let (spec, layout) = spec(&mut g, &arch)?;

    let tokenizer = tokenizer(&g)?;
    let files = TokenizerFiles::Built {
        path: path.to_owned(),
        tokenizer: Box::new(tokenizer),
    };
    let pad = g
        .uint("tokenizer.ggml.padding_token_id")?
        .and_then(|p| u32::try_from(p).ok());
    let encoder = TextEncoder::load(&EncoderSpec {
        tokenizer: &files,
        requested: opts.max_length,
        tokenizer_limit: None,
        model_limit: Some(spec.max_positions),
        type_vocab_size: None,
        vocab_size: Some(spec.vocab),
        config_pad_id: pad,
        documents: true,
    })?;

    // llama.cpp stops at `tokenizer.ggml.eos_token_id` (the converter copies it from
    // generation_config.json or config.json).
    let eos: Vec<u32> = g
        .uint("tokenizer.ggml.eos_token_id")?
        .filter(|&e| e < spec.vocab)
        .and_then(|e| u32::try_from(e).ok())
        .into_iter()
        .collect();
    let weights = weights(&mut g, &spec, layout, device)?;
    let gguf = g.info();
    let parameters = g
        .content
        .tensor_infos
        .values()
        .map(|i| i.shape.elem_count())
        .sum();
    let inner = Loaded::CausalLm(Box::new(Decoder::new(spec, weights)?));
    let info = ModelInfo {
        id,
        revision,
        architecture: class.to_owned(),
        model_type: arch,
        parameters,
        device: device_label(device),
        dtype: dtype_label(dtype),
        problem_type: "causal_lm".to_owned(),
        max_length: encoder.max_length(),
        path: path.to_owned(),
        gguf: Some(gguf),
    };
    tracing::info!(
        model = %info.id,
        architecture = %info.architecture,
        parameters = info.parameters,
        "GGUF model loaded"
    );
    Ok(Model {
        info,
        labels: Vec::new(),
        task: Task::CausalLm,
        encoder,
        inner,
        device: device.clone(),
        eos,
    })
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests;
