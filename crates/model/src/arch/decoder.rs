//! The decoder-only transformer every causal-LM family shares: embeddings (optionally scaled),
//! pre-norm blocks of rotary grouped-query attention and a gated MLP, optional Gemma-style
//! sandwich norms and q/k norms, sliding-window layers, soft-capping, the final norm and the LM
//! head. A family file only maps its config onto a [`DecoderSpec`] and names its tensors.
//!
//! Upstream: transformers `models/llama/modeling_llama.py` (the shape every family here
//! shares), with the differences of `mistral`, `qwen2`, `qwen3`, `gemma2`, `gemma3` and `phi3`
//! in their own `modeling_*.py`; attention follows `eager_attention_forward` (scores in the
//! model dtype, softmax in f32, cast back) and masks follow `masking_utils.py`
//! (`causal_mask_function`, `sliding_window_overlay`: key `k` is seen by query `q` when `k <= q`
//! and `q - k < sliding_window`).
//!
//! Unlike candle's own causal LMs, which `narrow` to the last position, [`Decoder::hidden`]
//! returns every position, and the LM head is applied separately ([`Decoder::logits`]) so a
//! caller can run it over chunks of positions.
//!
//! Every projection goes through [`Proj`], dense (`candle_nn::Linear`) or quantized
//! (`candle::quantized::QMatMul`), and the core is built from plain [`DecoderWeights`], so a
//! GGUF loader only has to produce a `DecoderSpec` from the GGUF metadata and `DecoderWeights`
//! of `Proj::Quantized` (with [`RopeStyle::Interleaved`] where llama.cpp permuted q and k).
use candle::quantized::QMatMul;
use candle::{DType, Device, Module, Tensor, D};
use candle_nn::{Activation, Linear};

use super::kv_cache::KvCache;
use super::rope::{RopeSpec, RopeTables, Rotary};
use super::CausalLm;
use crate::Batch;

/// A projection `x W^T (+ b)` over the last dim of any-rank input.
pub(crate) enum Proj {
    /// Full-precision weights (safetensors).
    Dense(Linear),
    /// Quantized weights (GGUF); the bias, when there is one, stays a plain tensor.
    Quantized {
        /// (out, in) quantized.
        weight: QMatMul,
        /// (out)
        bias: Option<Tensor>,
    },
}

impl Proj {
    /// A dense projection from an (out, in) weight.
    pub(crate) fn dense(weight: Tensor, bias: Option<Tensor>) -> Self {
        Self::Dense(Linear::new(weight, bias))
    }

    /// (..., in) → (..., out). The leading dims are flattened so the matmul is one 2-D GEMM.
    pub(crate) fn forward(&self, x: &Tensor) -> candle::Result<Tensor> {
        let dims = x.dims().to_vec();
        let (lead, k) = dims.split_at(dims.len() - 1);
        let rows: usize = lead.iter().product();
        let x2 = x.reshape((rows, k[0]))?; // (n, in)
        let y = match self {
            Self::Dense(linear) => linear.forward(&x2)?, // (n, out)
            Self::Quantized { weight, bias } => {
                // NOTE: quantized kernels take f32 activations; a half-precision caller gets its
                // dtype back.
                let dtype = x2.dtype();
                let y = weight.forward(&x2.to_dtype(DType::F32)?)?.to_dtype(dtype)?;
                match bias {
                    Some(b) => y.broadcast_add(b)?,
                    None => y,
                }
            }
        };
        let mut out = lead.to_vec();
        out.push(y.dim(1)?);
        y.reshape(out) // (..., out)
    }
}

/// The query, key and value projections: one fused matmul (Phi-3's `qkv_proj`, or ours when
/// the checkpoint's three dense weights were concatenated at load) or three.
pub(crate) enum Qkv {
    /// Output columns are q, then k, then v.
    Fused(Proj),
    /// Separate q, k, v projections (quantized checkpoints, which cannot be concatenated).
    Split {
        /// (heads * head_dim, hidden)
        q: Proj,
        /// (kv_heads * head_dim, hidden)
        k: Proj,
        /// (kv_heads * head_dim, hidden)
        v: Proj,
    },
}

/// The gate and up projections of the gated MLP, fused (gate columns first, as Phi-3's
/// `gate_up_proj` and `chunk(2)`) or separate.
pub(crate) enum GateUp {
    /// Output columns are gate, then up.
    Fused(Proj),
    /// Separate gate and up projections (quantized checkpoints).
    Split {
        /// (intermediate, hidden)
        gate: Proj,
        /// (intermediate, hidden)
        up: Proj,
    },
}

/// How an RMS norm applies its weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NormKind {
    /// Llama: `w * normalize(x.float()).to(dtype)`.
    Scale,
    /// Gemma: `(normalize(x.float()) * (1 + w.float())).to(dtype)`.
    OffsetOne,
}

/// Which dims a rotation pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RopeStyle {
    /// transformers' `rotate_half`: dim i with dim i + d/2.
    Half,
    /// Adjacent pairs (2i, 2i + 1): what llama.cpp's llama-architecture GGUF files need, whose
    /// q and k rows the converter permuted.
    // NOTE: no safetensors family uses it; GGUF llama files do.
    Interleaved,
}

/// What one layer does differently from the others.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LayerKind {
    /// Keys at most this many positions back (the query included) are seen; `None`: all.
    pub(crate) window: Option<usize>,
    /// Index into [`DecoderSpec::ropes`].
    pub(crate) rope: usize,
}

/// The hyperparameters of a decoder, whatever file format its weights come in.
#[derive(Debug, Clone)]
pub(crate) struct DecoderSpec {
    pub(crate) hidden: usize,
    pub(crate) heads: usize,
    pub(crate) kv_heads: usize,
    pub(crate) head_dim: usize,
    pub(crate) intermediate: usize,
    /// Rows of the LM head (the logit width).
    pub(crate) vocab: usize,
    pub(crate) eps: f64,
    pub(crate) norm: NormKind,
    pub(crate) act: Activation,
    /// Gemma multiplies embeddings by sqrt(hidden), rounded to the model dtype.
    pub(crate) embed_scale: Option<f64>,
    /// Multiplies q·k (head_dim^-0.5, or Gemma's query_pre_attn_scalar^-0.5).
    pub(crate) attn_scale: f64,
    /// `tanh(s / cap) * cap` on the attention scores (Gemma 2, optionally Gemma 3).
    pub(crate) attn_softcap: Option<f64>,
    /// `tanh(l / cap) * cap` on the logits (Gemma 2).
    pub(crate) final_softcap: Option<f64>,
    pub(crate) layers: Vec<LayerKind>,
    pub(crate) ropes: Vec<RopeSpec>,
    pub(crate) rope_style: RopeStyle,
    /// config.json `max_position_embeddings`.
    pub(crate) max_positions: usize,
}

/// The tensors of one block, in the model dtype (norm weights as stored).
pub(crate) struct LayerWeights {
    pub(crate) qkv: Qkv,
    pub(crate) o: Proj,
    pub(crate) gate_up: GateUp,
    pub(crate) down: Proj,
    /// Before attention (`input_layernorm`).
    pub(crate) attn_norm: Tensor,
    /// On the attention output, before the residual (Gemma's `post_attention_layernorm`).
    pub(crate) attn_out_norm: Option<Tensor>,
    /// Before the MLP (Llama's `post_attention_layernorm`, Gemma's `pre_feedforward_layernorm`).
    pub(crate) mlp_norm: Tensor,
    /// On the MLP output, before the residual (Gemma's `post_feedforward_layernorm`).
    pub(crate) mlp_out_norm: Option<Tensor>,
    /// Per-head norms of q and k (Qwen 3, Gemma 3), over head_dim.
    pub(crate) q_norm: Option<Tensor>,
    pub(crate) k_norm: Option<Tensor>,
}

/// Every tensor of a decoder.
pub(crate) struct DecoderWeights {
    /// (vocab, hidden)
    pub(crate) embed: Tensor,
    pub(crate) layers: Vec<LayerWeights>,
    /// (hidden)
    pub(crate) norm: Tensor,
    /// (vocab, hidden): the embedding itself when tied.
    pub(crate) lm_head: Proj,
}

/// An RMS norm computed as transformers does in every dtype.
struct Norm {
    /// `Scale`: the weight in the model dtype; `OffsetOne`: `1 + w` in f32.
    weight: Tensor,
    /// Ones in f32, for `Scale` in half precision (normalise in f32, then cast, then scale).
    unit: Option<Tensor>,
    kind: NormKind,
    eps: f32,
}

impl Norm {
    fn new(weight: Tensor, kind: NormKind, eps: f64) -> candle::Result<Self> {
        let (weight, unit) = match kind {
            NormKind::OffsetOne => ((weight.to_dtype(DType::F32)? + 1.0)?, None),
            NormKind::Scale if weight.dtype() == DType::F32 => (weight, None),
            NormKind::Scale => {
                let unit = Tensor::ones(weight.dims1()?, DType::F32, weight.device())?;
                (weight, Some(unit))
            }
        };
        Ok(Self {
            weight,
            unit,
            kind,
            eps: eps as f32,
        })
    }

    fn forward(&self, x: &Tensor) -> candle::Result<Tensor> {
        let dtype = x.dtype();
        let x = x.contiguous()?;
        match (self.kind, &self.unit) {
            // f32 Llama norm: candle's fused kernel is the same computation.
            (NormKind::Scale, None) => candle_nn::ops::rms_norm(&x, &self.weight, self.eps),
            // https://github.com/huggingface/transformers/blob/v5.24.0/src/transformers/models/llama/modeling_llama.py
            // `LlamaRMSNorm`: normalised in f32, cast to the input dtype, then scaled there.
            (NormKind::Scale, Some(unit)) => {
                candle_nn::ops::rms_norm(&x.to_dtype(DType::F32)?, unit, self.eps)?
                    .to_dtype(dtype)?
                    .broadcast_mul(&self.weight)
            }
            // `Gemma2RMSNorm`: everything in f32, cast once at the end.
            (NormKind::OffsetOne, _) => {
                candle_nn::ops::rms_norm(&x.to_dtype(DType::F32)?, &self.weight, self.eps)?
                    .to_dtype(dtype)
            }
        }
    }
}

struct Layer {
    qkv: Qkv,
    o: Proj,
    gate_up: GateUp,
    down: Proj,
    attn_norm: Norm,
    attn_out_norm: Option<Norm>,
    mlp_norm: Norm,
    mlp_out_norm: Option<Norm>,
    q_norm: Option<Norm>,
    k_norm: Option<Norm>,
    kind: LayerKind,
}

/// The per-batch inputs every layer shares.
struct Context {
    /// One additive (b, 1, 1, t, t) f32 mask per distinct window, indexed like `windows`.
    masks: Vec<(Option<usize>, Tensor)>,
    /// One set of tables per rope.
    ropes: Vec<RopeTables>,
}

impl Context {
    fn mask(&self, window: Option<usize>) -> candle::Result<&Tensor> {
        self.masks
            .iter()
            .find(|(w, _)| *w == window)
            .map(|(_, m)| m)
            .ok_or_else(|| candle::Error::Msg("no mask built for this window".into()))
    }
}

/// A causal LM built from a [`DecoderSpec`] and its [`DecoderWeights`].
pub(crate) struct Decoder {
    spec: DecoderSpec,
    embed: Tensor,
    layers: Vec<Layer>,
    norm: Norm,
    lm_head: Proj,
    rotary: Vec<Rotary>,
    windows: Vec<Option<usize>>,
}

impl Decoder {
    pub(crate) fn new(spec: DecoderSpec, weights: DecoderWeights) -> candle::Result<Self> {
        if weights.layers.len() != spec.layers.len() {
            candle::bail!(
                "{} layers of weights for {} layer kinds",
                weights.layers.len(),
                spec.layers.len()
            );
        }
        let norm = |w: Tensor| Norm::new(w, spec.norm, spec.eps);
        let opt_norm = |w: Option<Tensor>| w.map(norm).transpose();
        let layers = weights
            .layers
            .into_iter()
            .zip(&spec.layers)
            .map(|(w, kind)| {
                Ok(Layer {
                    qkv: w.qkv,
                    o: w.o,
                    gate_up: w.gate_up,
                    down: w.down,
                    attn_norm: norm(w.attn_norm)?,
                    attn_out_norm: opt_norm(w.attn_out_norm)?,
                    mlp_norm: norm(w.mlp_norm)?,
                    mlp_out_norm: opt_norm(w.mlp_out_norm)?,
                    q_norm: opt_norm(w.q_norm)?,
                    k_norm: opt_norm(w.k_norm)?,
                    kind: kind.clone(),
                })
            })
            .collect::<candle::Result<Vec<_>>>()?;
        let device = weights.embed.device().clone();
        let rotary = spec
            .ropes
            .iter()
            .map(|r| Rotary::new(r, &device))
            .collect::<candle::Result<Vec<_>>>()?;
        let mut windows: Vec<Option<usize>> = Vec::new();
        for kind in &spec.layers {
            if !windows.contains(&kind.window) {
                windows.push(kind.window);
            }
        }
        Ok(Self {
            norm: norm(weights.norm)?,
            embed: weights.embed,
            lm_head: weights.lm_head,
            layers,
            rotary,
            windows,
            spec,
        })
    }

    fn device(&self) -> &Device {
        self.embed.device()
    }

    /// (b, t) ids → (b, t, hidden) embeddings, scaled where the family scales them.
    fn embed(&self, ids: &Tensor) -> candle::Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let x =
            self.embed
                .index_select(&ids.flatten_all()?, 0)?
                .reshape((b, t, self.spec.hidden))?; // (b, t, h)
        match self.spec.embed_scale {
            Some(scale) => {
                // transformers multiplies by `embed_scale.to(weight.dtype)`: the scale rounded
                // to the model dtype (sqrt(3072) becomes 55.5 in bf16).
                let scale = Tensor::new(scale as f32, self.device())?.to_dtype(x.dtype())?;
                x.broadcast_mul(&scale)
            }
            None => Ok(x),
        }
    }

    /// (b, 1, 1, t, t) additive f32 mask: 0 where query q may see key k (k <= q, within the
    /// window, k a real token), f32::MIN elsewhere. Finite, so a row with nothing to see (a
    /// padding row) gets a uniform softmax instead of NaN; padding rows are never read.
    fn mask(&self, attention_mask: &Tensor, window: Option<usize>) -> candle::Result<Tensor> {
        let (_b, t) = attention_mask.dims2()?;
        self.mask_at(&attention_mask.ne(0u32)?, t, window)
    }

    /// (b, 1, 1, t_q, t_k) additive f32 mask of the last `t_q` of `t_k` columns as queries
    /// against every column as a key: 0 where query column q may see key column k (k <= q,
    /// q - k within the window, `keys` (b, t_k) u8 nonzero at k), f32::MIN elsewhere. Columns
    /// are positions shifted by a row's left padding, so differences are positions' differences.
    fn mask_at(&self, keys: &Tensor, t_q: usize, window: Option<usize>) -> candle::Result<Tensor> {
        let (b, t_k) = keys.dims2()?;
        let past = t_k - t_q;
        let cols = |from: usize, n: usize| -> candle::Result<Tensor> {
            Tensor::arange(from as u32, (from + n) as u32, self.device())?.to_dtype(DType::F32)
        };
        // q - k: (t_q, t_k), rows are queries.
        let diff = cols(past, t_q)?
            .reshape((t_q, 1))?
            .broadcast_sub(&cols(0, t_k)?.reshape((1, t_k))?)?;
        let mut allowed = diff.ge(0f64)?; // (t_q, t_k) u8
        if let Some(w) = window {
            allowed = allowed.mul(&diff.lt(w as f64)?)?;
        }
        let keys = keys.to_dtype(DType::U8)?.reshape((b, 1, t_k))?; // (b, 1, t_k)
        let allowed = allowed.unsqueeze(0)?.broadcast_mul(&keys)?; // (b, t_q, t_k)
                                                                   // allowed * MAX + MIN is exactly 0 or MIN.
        allowed
            .to_dtype(DType::F32)?
            .affine(f32::MAX as f64, f32::MIN as f64)?
            .reshape((b, 1, 1, t_q, t_k))
    }

    fn context(&self, batch: &Batch, dtype: DType) -> candle::Result<Context> {
        let (_b, t) = batch.input_ids.dims2()?;
        let masks = self
            .windows
            .iter()
            .map(|&w| Ok((w, self.mask(&batch.attention_mask, w)?)))
            .collect::<candle::Result<Vec<_>>>()?;
        let lengths = batch.attention_mask.to_dtype(DType::F32)?.sum(1)?; // (b)
        let ropes = self
            .rotary
            .iter()
            .map(|r| r.tables(t, &lengths, dtype))
            .collect::<candle::Result<Vec<_>>>()?;
        Ok(Context { masks, ropes })
    }

    fn rotate(&self, x: &Tensor, rope: &RopeTables) -> candle::Result<Tensor> {
        let d = self.spec.head_dim;
        let apply = |x: &Tensor| match self.spec.rope_style {
            RopeStyle::Half => candle_nn::rotary_emb::rope(x, &rope.cos, &rope.sin),
            RopeStyle::Interleaved => candle_nn::rotary_emb::rope_i(x, &rope.cos, &rope.sin),
        };
        if rope.rotary_dim == d {
            return apply(x);
        }
        // Phi-3's partial rotation: the leading rotary_dim dims turn, the rest pass.
        let turned = apply(&x.narrow(D::Minus1, 0, rope.rotary_dim)?.contiguous()?)?;
        let kept = x.narrow(D::Minus1, rope.rotary_dim, d - rope.rotary_dim)?;
        Tensor::cat(&[&turned, &kept], D::Minus1)
    }

    /// Attention of the `t` positions of `x` over themselves, or, with a cache slot, over the
    /// slot's earlier keys and values followed by their own (which are appended to it).
    fn attention(
        &self,
        layer: &Layer,
        x: &Tensor,
        cx: &Context,
        slot: Option<&mut Option<(Tensor, Tensor)>>,
    ) -> candle::Result<Tensor> {
        let s = &self.spec;
        let (b, t, _) = x.dims3()?;
        let (h, kv, d) = (s.heads, s.kv_heads, s.head_dim);
        let (q, k, v) = match &layer.qkv {
            Qkv::Fused(p) => {
                let qkv = p.forward(x)?; // (b, t, (h + 2kv) d)
                (
                    qkv.narrow(2, 0, h * d)?,
                    qkv.narrow(2, h * d, kv * d)?,
                    qkv.narrow(2, (h + kv) * d, kv * d)?,
                )
            }
            Qkv::Split { q, k, v } => (q.forward(x)?, k.forward(x)?, v.forward(x)?),
        };
        let heads = |x: Tensor, n: usize, norm: &Option<Norm>| -> candle::Result<Tensor> {
            let x = x.contiguous()?.reshape((b, t, n, d))?; // (b, t, n, d)
            let x = match norm {
                Some(norm) => norm.forward(&x)?,
                None => x,
            };
            x.transpose(1, 2)?.contiguous() // (b, n, t, d)
        };
        let rope = &cx.ropes[layer.kind.rope];
        let q = self.rotate(&heads(q, h, &layer.q_norm)?, rope)?; // (b, h, t, d)
        let k = self.rotate(&heads(k, kv, &layer.k_norm)?, rope)?; // (b, kv, t, d)
        let v = heads(v, kv, &None)?; // (b, kv, t, d)
        let (k, v) = match slot {
            None => (k, v),
            Some(slot) => {
                let (k, v) = match slot.take() {
                    // NOTE: candle concatenates along an inner dim through a transposed copy;
                    // the matmuls below need contiguous keys and values.
                    Some((past_k, past_v)) => (
                        Tensor::cat(&[&past_k, &k], 2)?.contiguous()?, // (b, kv, t_k, d)
                        Tensor::cat(&[&past_v, &v], 2)?.contiguous()?,
                    ),
                    None => (k, v),
                };
                *slot = Some((k.clone(), v.clone()));
                (k, v)
            }
        };
        let t_k = k.dim(2)?;

        // Grouped-query attention without repeating k and v: the g = h / kv query heads that
        // share a kv head are stacked along the rows (head i uses kv head i / g, as repeat_kv).
        let g = h / kv;
        let q = q.reshape((b, kv, g * t, d))?;
        let scores = q
            .matmul(&k.t()?)? // (b, kv, g t, t_k)
            .affine(s.attn_scale, 0.0)?;
        let scores = match s.attn_softcap {
            Some(cap) => ((scores / cap)?.tanh()? * cap)?,
            None => scores,
        };
        let dtype = scores.dtype();
        let probs = scores
            .to_dtype(DType::F32)?
            .reshape((b, kv, g, t, t_k))?
            .broadcast_add(cx.mask(layer.kind.window)?)?;
        let probs = candle_nn::ops::softmax_last_dim(&probs)?
            .to_dtype(dtype)?
            .reshape((b, kv, g * t, t_k))?;
        let out = probs.matmul(&v)?; // (b, kv, g t, d)
        let out = out
            .reshape((b, h, t, d))?
            .transpose(1, 2)?
            .reshape((b, t, h * d))?; // (b, t, h d)
        layer.o.forward(&out)
    }

    fn mlp(&self, layer: &Layer, x: &Tensor) -> candle::Result<Tensor> {
        let (gate, up) = match &layer.gate_up {
            GateUp::Fused(p) => {
                let gu = p.forward(x)?; // (b, t, 2i)
                let i = self.spec.intermediate;
                (gu.narrow(D::Minus1, 0, i)?, gu.narrow(D::Minus1, i, i)?)
            }
            GateUp::Split { gate, up } => (gate.forward(x)?, up.forward(x)?),
        };
        let hidden = (self.spec.act.forward(&gate)? * up)?; // (b, t, i)
        layer.down.forward(&hidden)
    }

    fn block(
        &self,
        layer: &Layer,
        x: &Tensor,
        cx: &Context,
        slot: Option<&mut Option<(Tensor, Tensor)>>,
    ) -> candle::Result<Tensor> {
        let a = self.attention(layer, &layer.attn_norm.forward(x)?, cx, slot)?;
        let a = match &layer.attn_out_norm {
            Some(n) => n.forward(&a)?,
            None => a,
        };
        let x = (x + a)?;
        let m = self.mlp(layer, &layer.mlp_norm.forward(&x)?)?;
        let m = match &layer.mlp_out_norm {
            Some(n) => n.forward(&m)?,
            None => m,
        };
        x + m
    }
}

impl CausalLm for Decoder {
    fn vocab_size(&self) -> usize {
        self.spec.vocab
    }

    fn max_positions(&self) -> usize {
        self.spec.max_positions
    }

    fn hidden(&self, batch: &Batch) -> candle::Result<Tensor> {
        let mut x = self.embed(&batch.input_ids)?; // (b, t, h)
        let cx = self.context(batch, x.dtype())?;
        for layer in &self.layers {
            x = self.block(layer, &x, &cx, None)?; // (b, t, h)
        }
        self.norm.forward(&x)
    }

    fn hidden_cached(&self, ids: &Tensor, cache: &mut KvCache) -> candle::Result<Tensor> {
        let (b, t) = ids.dims2()?;
        if b != cache.rows() {
            candle::bail!("{b} rows of ids for a cache of {} rows", cache.rows());
        }
        if cache.layers.is_empty() {
            cache.layers = vec![None; self.layers.len()];
        }
        let total = cache.len + t;
        if let Some(&pad) = cache.pads.iter().find(|&&p| p >= total) {
            candle::bail!("a row of {pad} padding columns has no token in {total} columns");
        }
        let lengths: Vec<usize> = cache.pads.iter().map(|&p| total - p).collect();
        let long: Vec<bool> = lengths
            .iter()
            .map(|&l| {
                self.rotary
                    .iter()
                    .any(|r| r.long_after().is_some_and(|o| l > o))
            })
            .collect();
        if !cache.is_empty() && long != cache.long {
            // A row past LongRoPE's pretraining length now takes the long frequencies, and its
            // cached keys were rotated with the short ones: rerun every column, as transformers'
            // `Phi3ForCausalLM.prepare_inputs_for_generation` drops the cache at that point.
            // https://github.com/huggingface/transformers/blob/v5.24.0/src/transformers/models/phi3/modeling_phi3.py
            let earlier = cache
                .ids
                .clone()
                .ok_or_else(|| candle::Error::Msg("a non-empty cache without its ids".into()))?;
            let all = Tensor::cat(&[&earlier, ids], 1)?; // (b, total)
            let mut fresh = KvCache::new(cache.pads.clone());
            let hidden = self.hidden_cached(&all, &mut fresh)?; // (b, total, h)
            *cache = fresh;
            return hidden.narrow(1, total - t, t); // (b, t, h)
        }
        let device = self.device();
        let past = cache.len;
        let mut positions = Vec::with_capacity(b * t);
        let mut keys = Vec::with_capacity(b * total);
        for &pad in &cache.pads {
            positions.extend((past..total).map(|c| c.saturating_sub(pad) as f32));
            keys.extend((0..total).map(|c| u8::from(c >= pad)));
        }
        let positions = Tensor::from_vec(positions, (b, t), device)?;
        let keys = Tensor::from_vec(keys, (b, total), device)?;
        let lengths_t = Tensor::from_vec(
            lengths.iter().map(|&l| l as f32).collect::<Vec<_>>(),
            b,
            device,
        )?;

        let mut x = self.embed(ids)?; // (b, t, h)
        let masks = self
            .windows
            .iter()
            .map(|&w| Ok((w, self.mask_at(&keys, t, w)?)))
            .collect::<candle::Result<Vec<_>>>()?;
        let ropes = self
            .rotary
            .iter()
            .map(|r| r.tables_at(&positions, &lengths_t, x.dtype()))
            .collect::<candle::Result<Vec<_>>>()?;
        let cx = Context { masks, ropes };
        for (layer, slot) in self.layers.iter().zip(cache.layers.iter_mut()) {
            x = self.block(layer, &x, &cx, Some(slot))?; // (b, t, h)
        }
        cache.ids = Some(match &cache.ids {
            Some(earlier) => Tensor::cat(&[earlier, ids], 1)?, // (b, total)
            None => ids.clone(),
        });
        cache.len = total;
        cache.long = long;
        self.norm.forward(&x)
    }

    fn logits(&self, hidden: &Tensor) -> candle::Result<Tensor> {
        let logits = self.lm_head.forward(hidden)?; // (..., vocab)
        match self.spec.final_softcap {
            Some(cap) => (logits / cap)?.tanh()? * cap,
            None => Ok(logits),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::decoder_load::{fixture_parts, Layout};
    use super::super::lm_testing::fixture_dir;
    use super::super::testing::Tolerance;
    use super::*;
    use candle::quantized::{GgmlDType, QTensor};

    /// The llama fixture: GQA 4/2 heads, head_dim 16, hidden 32, untied.
    fn llama() -> (DecoderSpec, DecoderWeights) {
        fixture_parts(
            &fixture_dir("llama"),
            super::super::llama::DEFAULTS,
            Layout::default(),
        )
    }

    fn batch() -> Batch {
        let ids = Tensor::new(
            &[
                [1u32, 40, 41, 42, 43, 44, 45, 46, 47],
                [1, 50, 51, 0, 0, 0, 0, 0, 0],
            ],
            &Device::Cpu,
        )
        .unwrap();
        let mask = Tensor::new(
            &[[1u32, 1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0, 0, 0, 0]],
            &Device::Cpu,
        )
        .unwrap();
        Batch {
            token_type_ids: ids.zeros_like().unwrap(),
            input_ids: ids,
            attention_mask: mask,
        }
    }

    fn rows(model: &Decoder) -> Vec<Vec<f32>> {
        let b = batch();
        let logits = model.logits(&model.hidden(&b).unwrap()).unwrap(); // (2, 9, v)
        let v = logits.dim(2).unwrap();
        // The second row's padding positions are not compared.
        let real = Tensor::cat(
            &[
                logits.get(0).unwrap(),
                logits.get(1).unwrap().narrow(0, 0, 3).unwrap(),
            ],
            0,
        )
        .unwrap();
        assert_eq!(real.dims(), [12, v]);
        real.to_vec2::<f32>().unwrap()
    }

    fn dense(p: &Proj) -> (Tensor, Option<Tensor>) {
        match p {
            Proj::Dense(l) => (l.weight().clone(), l.bias().cloned()),
            Proj::Quantized { .. } => {
                unreachable!("the safetensors loader builds dense projections")
            }
        }
    }

    fn quantize(weight: &Tensor, bias: Option<Tensor>, dtype: GgmlDType) -> Proj {
        let q = QTensor::quantize(weight, dtype).unwrap();
        Proj::Quantized {
            weight: QMatMul::from_qtensor(q).unwrap(),
            bias,
        }
    }

    /// Every projection quantized (`dtype` where the input width allows it, else f32) and the
    /// fused q/k/v and gate/up split back apart, as a GGUF loader will build them.
    fn gguf_like(weights: DecoderWeights, spec: &DecoderSpec, dtype: GgmlDType) -> DecoderWeights {
        let q = |p: &Proj| {
            let (w, b) = dense(p);
            let fits = w.dim(1).unwrap() % dtype.block_size() == 0;
            quantize(&w, b, if fits { dtype } else { GgmlDType::F32 })
        };
        let d = spec.head_dim;
        let (qo, kvo) = (spec.heads * d, spec.kv_heads * d);
        let layers = weights
            .layers
            .into_iter()
            .map(|l| {
                let Qkv::Fused(qkv) = &l.qkv else {
                    unreachable!()
                };
                let GateUp::Fused(gu) = &l.gate_up else {
                    unreachable!()
                };
                let (w, _) = dense(qkv);
                let (g, _) = dense(gu);
                let i = spec.intermediate;
                // NOTE: `force_contiguous`, not `contiguous`: a row range of a contiguous tensor
                // is already contiguous, and candle 0.11's `QTensor::quantize` reads the storage
                // from its start, ignoring the view's offset.
                let part = |w: &Tensor, s: usize, n: usize| {
                    let rows = w.narrow(0, s, n).unwrap().force_contiguous().unwrap();
                    q(&Proj::dense(rows, None))
                };
                LayerWeights {
                    qkv: Qkv::Split {
                        q: part(&w, 0, qo),
                        k: part(&w, qo, kvo),
                        v: part(&w, qo + kvo, kvo),
                    },
                    gate_up: GateUp::Split {
                        gate: part(&g, 0, i),
                        up: part(&g, i, i),
                    },
                    o: q(&l.o),
                    down: q(&l.down),
                    ..l
                }
            })
            .collect();
        DecoderWeights {
            lm_head: q(&weights.lm_head),
            layers,
            ..weights
        }
    }

    #[test]
    fn quantized_split_projections_match_dense_ones() {
        let (spec, weights) = llama();
        let want = rows(&Decoder::new(spec.clone(), weights).unwrap());
        // f32 "quantization" is exact: only the plumbing differs.
        let (_, weights) = llama();
        let exact = Decoder::new(spec.clone(), gguf_like(weights, &spec, GgmlDType::F32)).unwrap();
        Tolerance {
            rel: 1e-5,
            abs: 1e-5,
        }
        .assert_close(&rows(&exact), &want, "f32 qtensors");
        // 8-bit blocks through the quantized matmul kernel: close, not equal.
        let (_, weights) = llama();
        let q8 = Decoder::new(spec.clone(), gguf_like(weights, &spec, GgmlDType::Q8_0)).unwrap();
        let got = rows(&q8);
        Tolerance {
            rel: 5e-2,
            abs: 5e-2,
        }
        .assert_close(&got, &want, "q8_0 qtensors");
        assert!(got != want, "q8_0 should round the weights");
    }

    /// llama.cpp's converter permutes the q and k rows of each head so that adjacent pairs
    /// rotate together (`convert_hf_to_gguf.py` `LlamaModel.permute`); interleaved rotation of
    /// permuted weights is transformers' rotate_half rotation of the originals.
    #[test]
    fn interleaved_rotation_of_permuted_weights_is_rotate_half() {
        let (spec, weights) = llama();
        let want = rows(&Decoder::new(spec.clone(), weights).unwrap());
        let (_, weights) = llama();
        let d = spec.head_dim;
        let permute = |w: Tensor, heads: usize| {
            let (out, inp) = w.dims2().unwrap();
            w.reshape((heads, 2, d / 2, inp))
                .unwrap()
                .transpose(1, 2)
                .unwrap()
                .contiguous()
                .unwrap()
                .reshape((out, inp))
                .unwrap()
        };
        let (qo, kvo) = (spec.heads * d, spec.kv_heads * d);
        let layers = weights
            .layers
            .into_iter()
            .map(|l| {
                let Qkv::Fused(qkv) = &l.qkv else {
                    unreachable!()
                };
                let (w, _) = dense(qkv);
                let q = permute(w.narrow(0, 0, qo).unwrap(), spec.heads);
                let k = permute(w.narrow(0, qo, kvo).unwrap(), spec.kv_heads);
                let v = w.narrow(0, qo + kvo, kvo).unwrap();
                LayerWeights {
                    qkv: Qkv::Fused(Proj::dense(Tensor::cat(&[q, k, v], 0).unwrap(), None)),
                    ..l
                }
            })
            .collect();
        let spec = DecoderSpec {
            rope_style: RopeStyle::Interleaved,
            ..spec
        };
        let got = rows(&Decoder::new(spec, DecoderWeights { layers, ..weights }).unwrap());
        Tolerance {
            rel: 1e-5,
            abs: 1e-5,
        }
        .assert_close(&got, &want, "interleaved");
    }

    #[test]
    fn the_head_applies_to_any_chunk_of_positions() {
        let (spec, weights) = llama();
        let model = Decoder::new(spec, weights).unwrap();
        let hidden = model.hidden(&batch()).unwrap(); // (2, 9, h)
        let full = model.logits(&hidden).unwrap(); // (2, 9, v)
        let chunk = model.logits(&hidden.narrow(1, 2, 4).unwrap()).unwrap(); // (2, 4, v)
        let want = full.narrow(1, 2, 4).unwrap();
        let close = |a: &Tensor, b: &Tensor| {
            let diff = (a - b).unwrap().abs().unwrap().max_all().unwrap();
            diff.to_scalar::<f32>().unwrap()
        };
        assert!(close(&chunk, &want) < 1e-6);
        let flat = model.logits(&hidden.flatten_to(1).unwrap()).unwrap(); // (18, v)
        assert_eq!(flat.dims(), [18, model.vocab_size()]);
        assert!(close(&flat, &full.flatten_to(1).unwrap()) < 1e-6);
    }

    #[test]
    fn masks_follow_causality_windows_and_padding() {
        let (spec, weights) = llama();
        let model = Decoder::new(spec, weights).unwrap();
        let mask = Tensor::new(&[[1u32, 1, 1, 1], [1, 1, 0, 0]], &Device::Cpu).unwrap();
        let m = model.mask(&mask, Some(2)).unwrap(); // (2, 1, 1, 4, 4)
        let m = m.reshape((2, 4, 4)).unwrap().to_vec3::<f32>().unwrap();
        let seen = |row: &[f32]| -> Vec<usize> {
            row.iter()
                .enumerate()
                .filter(|(_, &v)| v == 0.0)
                .map(|(k, _)| k)
                .collect()
        };
        // Window 2: a query sees itself and the key before it.
        assert_eq!(seen(&m[0][0]), [0]);
        assert_eq!(seen(&m[0][3]), [2, 3]);
        // Padding keys are never seen; a padding query may see nothing (f32::MIN, not -inf).
        assert_eq!(seen(&m[1][1]), [0, 1]);
        assert_eq!(seen(&m[1][3]), Vec::<usize>::new());
        assert!(m[1][3].iter().all(|&v| v == f32::MIN));
        let full = model.mask(&mask, None).unwrap().reshape((2, 4, 4)).unwrap();
        let full = full.to_vec3::<f32>().unwrap();
        assert_eq!(seen(&full[0][3]), [0, 1, 2, 3]);
        assert_eq!(seen(&full[1][3]), [0, 1]);
    }
}
