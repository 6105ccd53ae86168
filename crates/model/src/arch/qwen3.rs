//! Qwen3 (`Qwen3ForCausalLM`, the dense models), every position's logits.
//!
//! Qwen3 Technical Report, <https://arxiv.org/abs/2505.09388>. Upstream: transformers
//! `models/qwen3/modeling_qwen3.py` (v5.24.0): Llama's block with RMS norms on each head of q
//! and k (before the rotation), `attention_bias` on all four projections, a default head_dim
//! of 128, and Qwen2's sliding-window layers.
use candle::DType;
use serde::Deserialize;

use super::decoder_load::{BaseConfig, Defaults, Family, Layout};
use super::qwen2::Windows;
use super::{Architecture, LoadContext, Loaded, Task};
use crate::Result;

/// https://github.com/huggingface/transformers/blob/v5.24.0/src/transformers/models/qwen3/configuration_qwen3.py
#[derive(Debug, Clone, Deserialize)]
struct Config {
    #[serde(flatten)]
    base: BaseConfig,
    #[serde(flatten)]
    windows: Windows,
    #[serde(default)]
    attention_bias: bool,
}

/// HF `model_type`.
const MODEL_TYPE: &str = "qwen3";

const DEFAULTS: Defaults = Defaults {
    head_dim: Some(128),
    rms_norm_eps: 1e-6,
    max_position_embeddings: 32768,
    tie_word_embeddings: false,
    hidden_act: "silu",
    rope_theta: 10_000.0,
};

pub(crate) struct Qwen3;

impl Architecture for Qwen3 {
    fn model_type(&self) -> &'static str {
        MODEL_TYPE
    }

    fn hf_classes(&self) -> &'static [&'static str] {
        &["Qwen3ForCausalLM"]
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
        let rope = family.flat_rope(&family.rope_context())?;
        let mut spec = family.spec(rope);
        spec.layers = cfg.windows.layer_kinds(&family)?;
        let layout = Layout {
            qkv_bias: cfg.attention_bias,
            o_bias: cfg.attention_bias,
            qk_norm: true,
            ..Layout::default()
        };
        family.load(spec, layout)
    }
}

#[cfg(test)]
mod tests {
    use super::super::lm_testing::{check_fixture, test_device};
    use candle::Device;

    fn qwen3_padded_vocab_matches_transformers(dev: &Device) {
        check_fixture("qwen3", dev);
    }
    test_device!(qwen3_padded_vocab_matches_transformers, qwen3_cpu, qwen3_cuda, qwen3_metal);
}
