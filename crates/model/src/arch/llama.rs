//! Llama 1-3 (`LlamaForCausalLM`; SmolLM and most Llama-shaped checkpoints), every position's
//! logits.
//!
//! LLaMA: Open and Efficient Foundation Language Models, <https://arxiv.org/abs/2302.13971>;
//! The Llama 3 Herd of Models, <https://arxiv.org/abs/2407.21783>. Upstream: transformers
//! `models/llama/modeling_llama.py` (v5.24.0), the shape of the shared [`super::decoder`] core.
//!
//! Reads `rope_parameters` (transformers 5) or top-level `rope_theta` / `rope_scaling`
//! (transformers 4), with rope types `default`, `linear` and `llama3`; `attention_bias` and
//! `mlp_bias`; tied or untied embeddings; grouped-query attention and any `head_dim`.
//! `pretraining_tp` > 1 only changes how transformers slices its matmuls, not the result.
use candle::DType;
use serde::Deserialize;

use super::decoder_load::{BaseConfig, Defaults, Family, Layout};
use super::{Architecture, LoadContext, Loaded, Task};
use crate::Result;

/// https://github.com/huggingface/transformers/blob/v5.24.0/src/transformers/models/llama/configuration_llama.py
#[derive(Debug, Clone, Deserialize)]
struct Config {
    #[serde(flatten)]
    base: BaseConfig,
    #[serde(default)]
    attention_bias: bool,
    #[serde(default)]
    mlp_bias: bool,
}

/// HF `model_type`.
const MODEL_TYPE: &str = "llama";

pub(crate) const DEFAULTS: Defaults = Defaults {
    head_dim: None,
    rms_norm_eps: 1e-6,
    max_position_embeddings: 2048,
    tie_word_embeddings: false,
    hidden_act: "silu",
    rope_theta: 10_000.0,
};

pub(crate) struct Llama;

impl Architecture for Llama {
    fn model_type(&self) -> &'static str {
        MODEL_TYPE
    }

    fn hf_classes(&self) -> &'static [&'static str] {
        &["LlamaForCausalLM"]
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
        let layout = Layout {
            qkv_bias: cfg.attention_bias,
            o_bias: cfg.attention_bias,
            mlp_bias: cfg.mlp_bias,
            ..Layout::default()
        };
        family.load(family.spec(rope), layout)
    }
}

#[cfg(test)]
mod tests {
    use super::super::lm_testing::{check_conformance, check_fixture, test_device};
    use candle::Device;

    fn llama_matches_transformers(dev: &Device) {
        check_fixture("llama", dev);
    }
    test_device!(llama_matches_transformers, llama_cpu, llama_cuda, llama_metal);

    fn llama3_legacy_sharded_matches_transformers(dev: &Device) {
        check_fixture("llama3_legacy", dev);
    }
    test_device!(llama3_legacy_sharded_matches_transformers, llama3_legacy_cpu, llama3_legacy_cuda, llama3_legacy_metal);

    fn teacher_llama_matches_transformers(dev: &Device) {
        check_conformance("teacher_llama", dev);
    }
    test_device!(teacher_llama_matches_transformers, teacher_llama_cpu, teacher_llama_cuda, teacher_llama_metal);

    fn llama_small_matches_transformers(dev: &Device) {
        check_conformance("llama_small", dev);
    }
    test_device!(llama_small_matches_transformers, llama_small_cpu, llama_small_cuda, llama_small_metal);
}
