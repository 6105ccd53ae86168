//! Phi-3 (`Phi3ForCausalLM`: Phi-3, Phi-3.5 and Phi-4-mini), every position's logits.
//!
//! Phi-3 Technical Report, <https://arxiv.org/abs/2404.14219>. Upstream: transformers
//! `models/phi3/modeling_phi3.py` (v5.24.0). Llama's block with one fused `qkv_proj` and one
//! fused `gate_up_proj` (gate first), partial rotation (`partial_rotary_factor`: only the
//! leading dims of each head turn), an optional sliding window on every layer, and LongRoPE
//! (`longrope`, spelled `su` by older configs): `short_factor` frequencies for a sequence of at
//! most `original_max_position_embeddings` tokens, `long_factor` ones beyond, cos and sin
//! scaled by the attention factor. transformers decides short or long once per forward from the
//! longest position; a document run alone decides by its own length, and so does each row of
//! our padded batches, so a row's logits do not depend on its batch.
use candle::DType;
use serde::Deserialize;

use super::decoder_load::{BaseConfig, Defaults, Family, Layout};
use super::rope::RopeContext;
use super::{Architecture, LoadContext, Loaded, Task};
use crate::Result;

/// https://github.com/huggingface/transformers/blob/v5.24.0/src/transformers/models/phi3/configuration_phi3.py
#[derive(Debug, Clone, Deserialize)]
struct Config {
    #[serde(flatten)]
    base: BaseConfig,
    /// A class field (default 4096) that wins over the one inside the RoPE object.
    #[serde(default = "default_original_max")]
    original_max_position_embeddings: usize,
    #[serde(default)]
    sliding_window: Option<usize>,
}

fn default_original_max() -> usize {
    4096
}

/// HF `model_type`.
const MODEL_TYPE: &str = "phi3";

const DEFAULTS: Defaults = Defaults {
    head_dim: None,
    rms_norm_eps: 1e-5,
    max_position_embeddings: 4096,
    tie_word_embeddings: false,
    hidden_act: "silu",
    rope_theta: 10_000.0,
};

pub(crate) struct Phi3;

impl Architecture for Phi3 {
    fn model_type(&self) -> &'static str {
        MODEL_TYPE
    }

    fn hf_classes(&self) -> &'static [&'static str] {
        &["Phi3ForCausalLM"]
    }

    fn task(&self) -> Task {
        Task::CausalLm
    }

    fn dtypes(&self) -> &'static [DType] {
        &[DType::F32, DType::F16, DType::BF16]
    }

    fn load(&self, cx: LoadContext<'_>) -> Result<Loaded> {
        let cfg: Config = cx.parse(MODEL_TYPE)?;
        let family = Family::new(&cx, MODEL_TYPE, &cfg.base, DEFAULTS)?;
        let rope_cx = RopeContext {
            allow_partial: true,
            original_max_override: Some(cfg.original_max_position_embeddings),
            phi3: true,
            ..family.rope_context()
        };
        let rope = family.flat_rope(&rope_cx)?;
        let mut spec = family.spec(rope);
        if cfg.sliding_window == Some(0) {
            return Err(family.unsupported(
                "sliding_window is 0".into(),
                "set sliding_window to the window the model was trained with, or null for none",
            ));
        }
        for layer in &mut spec.layers {
            layer.window = cfg.sliding_window;
        }
        let layout = Layout {
            fused_qkv: true,
            fused_gate_up: true,
            ..Layout::default()
        };
        family.load(spec, layout)
    }
}

#[cfg(test)]
mod tests {
    use super::super::lm_testing::{check_fixture, test_device};
    use candle::Device;

    fn phi3_longrope_matches_transformers(dev: &Device) {
        check_fixture("phi3", dev);
    }
    test_device!(phi3_longrope_matches_transformers, phi3_cpu, phi3_cuda, phi3_metal);
}
