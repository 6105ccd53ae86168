//! Bidirectional multi-head self-attention shared by the BERT-style encoders written here
//! (`bert.rs`, `distilbert.rs`): the query, key and value projections are fused into one matmul
//! at load time, and the softmax is candle's fused last-dim kernel.
use candle::{Module, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::with_tracing::Linear;

/// The projections' names in the checkpoint, e.g. `["query", "key", "value"]`.
pub(crate) struct QkvNames<'a>(pub(crate) [&'a str; 3]);

pub(crate) struct SelfAttention {
    qkv: Linear,
    heads: usize,
    head_dim: usize,
    span: tracing::Span,
}

impl SelfAttention {
    /// Loads the three `hidden → hidden` projections and concatenates them into one
    /// `hidden → 3 * hidden` linear.
    pub(crate) fn load(
        vb: VarBuilder,
        names: QkvNames<'_>,
        hidden: usize,
        heads: usize,
    ) -> candle::Result<Self> {
        if heads == 0 || hidden % heads != 0 {
            candle::bail!("hidden size {hidden} is not a multiple of the {heads} attention heads");
        }
        let mut weights = Vec::with_capacity(3);
        let mut biases = Vec::with_capacity(3);
        for name in names.0 {
            let vb = vb.pp(name);
            weights.push(vb.get((hidden, hidden), "weight")?);
            biases.push(vb.get(hidden, "bias")?);
        }
        let weight = Tensor::cat(&weights, 0)?; // (3h, h)
        let bias = Tensor::cat(&biases, 0)?; // (3h)
        Ok(Self {
            qkv: Linear::from_weights(weight, Some(bias)),
            heads,
            head_dim: hidden / heads,
            span: tracing::span!(tracing::Level::TRACE, "self-attn"),
        })
    }

    /// x (b, t, h) and an additive mask (b, 1, 1, t) → context (b, t, h), before the output
    /// projection.
    pub(crate) fn forward(&self, x: &Tensor, mask: &Tensor) -> candle::Result<Tensor> {
        let _enter = self.span.enter();
        let (b, t, h) = x.dims3()?;
        let qkv = self
            .qkv
            .forward(x)? // (b, t, 3h)
            .reshape((b, t, 3, self.heads, self.head_dim))?
            .permute((2, 0, 3, 1, 4))?; // (3, b, heads, t, hd)
        let q = qkv.get(0)?.contiguous()?; // (b, heads, t, hd)
        let k = qkv.get(1)?.contiguous()?;
        let v = qkv.get(2)?.contiguous()?;
        // transformers scales the scores (BERT) or the queries (DistilBERT); the two agree to
        // float rounding.
        let q = (q * (1.0 / (self.head_dim as f64).sqrt()))?;
        let scores = q.matmul(&k.t()?)?.broadcast_add(mask)?; // (b, heads, t, t)
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        probs
            .matmul(&v)? // (b, heads, t, hd)
            .transpose(1, 2)?
            .reshape((b, t, h)) // (b, t, h)
    }
}
