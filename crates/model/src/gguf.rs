//! GGUF checkpoints (llama.cpp's format) as causal LMs on the shared decoder core: the config
//! from the `{arch}.*` metadata, every projection a `QMatMul` over the stored (possibly
//! quantized) tensor, the embedding and norms dequantized to f32, and the tokenizer from the
//! `tokenizer.ggml.*` metadata (`gguf_vocab.rs`). Every position's logits, unlike candle's
//! `quantized_llama`, which narrows to the last one.
//!
//! Upstream: the GGUF spec (<https://github.com/ggml-org/ggml/blob/master/docs/gguf.md>),
//! llama.cpp `src/llama-arch.cpp` (tensor names `blk.{i}.attn_q` ...) and `src/llama-model.cpp`
//! (which rope each architecture uses: llama's converter permutes q and k so adjacent pairs
//! rotate, `LLAMA_ROPE_TYPE_NORM`; qwen2 and qwen3 are `NEOX`, rotate_half), and
//! `convert_hf_to_gguf.py` (the metadata keys).
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
use crate::arch::rope::RopeSpec;
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

/// The decoder's hyperparameters from `{arch}.*`.
fn spec(g: &GgufFile, arch: &str) -> Result<(DecoderSpec, bool)> {
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
    let rotary_dim = g.uint(&key("rope.dimension_count"))?.unwrap_or(head_dim);
    if rotary_dim != head_dim {
        return Err(g.meta_error(
            &key("rope.dimension_count"),
            &format!("{rotary_dim} differs from the head size {head_dim}; partial rotation is not read from GGUF files"),
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
    let base = g.float(&key("rope.freq_base"))?.unwrap_or(10_000.0);
    let mut inv_freq: Vec<f32> = (0..head_dim)
        .step_by(2)
        .map(|i| 1.0 / (base as f32).powf(i as f32 / head_dim as f32))
        .collect();
    match g.string(&key("rope.scaling.type"))? {
        None | Some("none") => {}
        Some("linear") => {
            let factor = g.float(&key("rope.scaling.factor"))?.unwrap_or(1.0) as f32;
            if !factor.is_finite() || factor <= 0.0 {
                return Err(g.meta_error(&key("rope.scaling.factor"), "is not positive"));
            }
            inv_freq.iter_mut().for_each(|f| *f /= factor);
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
    let rope_style = match arch {
        // llama.cpp's converter permuted q and k of llama models (LLAMA_ROPE_TYPE_NORM).
        "llama" => RopeStyle::Interleaved,
        // qwen2, qwen3: LLAMA_ROPE_TYPE_NEOX, the unpermuted rotate_half.
        _ => RopeStyle::Half,
    };
    let spec = DecoderSpec {
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
        ropes: vec![RopeSpec {
            inv_freq,
            long: None,
            attention_scaling: 1.0,
            rotary_dim: head_dim,
        }],
        rope_style,
        max_positions,
    };
    Ok((spec, arch == "qwen3"))
}

/// The weights under llama.cpp's names.
fn weights(
    g: &mut GgufFile,
    spec: &DecoderSpec,
    qk_norm: bool,
    device: &Device,
) -> Result<DecoderWeights> {
    let (h, d, i) = (spec.hidden, spec.head_dim, spec.intermediate);
    let (q_out, kv_out) = (spec.heads * d, spec.kv_heads * d);
    let embed = g.dense("token_embd.weight", &[spec.vocab, h], device)?;
    let mut layers = Vec::with_capacity(spec.layers.len());
    for n in 0..spec.layers.len() {
        let b = format!("blk.{n}");
        let qkv = Qkv::Split {
            q: g.proj(&format!("{b}.attn_q"), q_out, h, device)?,
            k: g.proj(&format!("{b}.attn_k"), kv_out, h, device)?,
            v: g.proj(&format!("{b}.attn_v"), kv_out, h, device)?,
        };
        let gate_up = GateUp::Split {
            gate: g.proj(&format!("{b}.ffn_gate"), i, h, device)?,
            up: g.proj(&format!("{b}.ffn_up"), i, h, device)?,
        };
        let (q_norm, k_norm) = if qk_norm {
            (
                Some(g.dense(&format!("{b}.attn_q_norm.weight"), &[d], device)?),
                Some(g.dense(&format!("{b}.attn_k_norm.weight"), &[d], device)?),
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
            attn_out_norm: None,
            mlp_norm: g.dense(&format!("{b}.ffn_norm.weight"), &[h], device)?,
            mlp_out_norm: None,
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
    let (spec, qk_norm) = spec(&g, &arch)?;

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
        add_bos: match g.meta("tokenizer.ggml.add_bos_token") {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        },
    };
    let tokenizer = gguf_vocab::build(&vocab).map_err(|(reason, hint)| Error::GgufTokenizer {
        path: path.to_owned(),
        reason,
        hint,
    })?;
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
    let weights = weights(&mut g, &spec, qk_norm, device)?;
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
