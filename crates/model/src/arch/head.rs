//! The sequence-classification head transformers puts on an encoder, written once for every
//! family (as text-embeddings-inference factors its `ClassificationHead`): a dense layer and an
//! activation on the pooled vector, an optional LayerNorm, then the output projection.
//!
//! | family | dense | activation | norm | output |
//! | --- | --- | --- | --- | --- |
//! | BERT | `bert.pooler.dense` | tanh | | `classifier` |
//! | DistilBERT | `pre_classifier` | ReLU | | `classifier` |
//! | RoBERTa, XLM-R | `classifier.dense` | tanh | | `classifier.out_proj` |
//! | DeBERTa-v2 | `pooler.dense` | `pooler_hidden_act` | | `classifier` |
//! | ModernBERT | `head.dense` | `classifier_activation` | `head.norm` | `classifier` |
use candle::{Module, Tensor};
use candle_nn::{Activation, LayerNorm, Linear, VarBuilder};

/// The non-linearity between the head's dense layer and its output projection.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Squash {
    /// BERT's pooler and RoBERTa's head.
    Tanh,
    /// One of candle's activations (ReLU, GELU...).
    Act(Activation),
}

/// dense → squash → (norm) → out, on a pooled `(b, h)` vector.
pub(crate) struct ClassificationHead {
    dense: Linear,
    squash: Squash,
    norm: Option<LayerNorm>,
    out: Linear,
    num_labels: usize,
}

impl ClassificationHead {
    /// A head from layers already built (for checkpoints whose dense layer has no bias).
    pub(crate) fn new(dense: Linear, squash: Squash, out: Linear, num_labels: usize) -> Self {
        Self {
            dense,
            squash,
            norm: None,
            out,
            num_labels,
        }
    }

    /// Loads a `hidden → hidden` dense layer from `dense` and a `hidden → num_labels` output
    /// projection from `out`, both with biases.
    pub(crate) fn load(
        dense: VarBuilder,
        out: VarBuilder,
        hidden: usize,
        num_labels: usize,
        squash: Squash,
    ) -> candle::Result<Self> {
        Ok(Self::new(
            candle_nn::linear(hidden, hidden, dense)?,
            squash,
            candle_nn::linear(hidden, num_labels, out)?,
            num_labels,
        ))
    }

    /// Adds a LayerNorm after the activation (ModernBERT).
    pub(crate) fn with_norm(mut self, norm: LayerNorm) -> Self {
        self.norm = Some(norm);
        self
    }

    /// Output classes.
    pub(crate) fn num_labels(&self) -> usize {
        self.num_labels
    }

    /// `(b, h)` pooled → `(b, num_labels)` logits.
    pub(crate) fn forward(&self, pooled: &Tensor) -> candle::Result<Tensor> {
        let x = self.dense.forward(pooled)?; // (b, h)
        let x = match self.squash {
            Squash::Tanh => x.tanh()?,
            Squash::Act(act) => act.forward(&x)?,
        };
        let x = match &self.norm {
            Some(norm) => norm.forward(&x)?,
            None => x,
        };
        self.out.forward(&x) // (b, n)
    }
}
