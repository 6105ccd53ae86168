//! Mistral (`MistralForCausalLM`), every position's logits.
//!
//! Mistral 7B, <https://arxiv.org/abs/2310.06825>. Upstream: transformers
//! `models/mistral/modeling_mistral.py` (v5.24.0): Llama's block without biases, and a sliding
//! window of `sliding_window` keys on every layer (`create_sliding_window_causal_mask` whenever
//! the config sets one; `layer_types` is ignored there, with a warning, and so here).
use candle::DType;
use serde::Deserialize;

use super::decoder_load::{BaseConfig, Defaults, Family, Layout};
use super::{Architecture, LoadContext, Loaded, Task};
use crate::Result;

/// https://github.com/huggingface/transformers/blob/v5.24.0/src/transformers/models/mistral/configuration_mistral.py
#[derive(Debug, Clone, Deserialize)]
struct Config {
    #[serde(flatten)]
    base: BaseConfig,
    /// Absent: 4096 (the class default); `null`: no window.
    #[serde(default = "default_window")]
    sliding_window: Option<usize>,
}

fn default_window() -> Option<usize> {
    Some(4096)
}

/// HF `model_type`.
const MODEL_TYPE: &str = "mistral";

const DEFAULTS: Defaults = Defaults {
    head_dim: None,
    rms_norm_eps: 1e-6,
    max_position_embeddings: 4096 * 32,
    tie_word_embeddings: false,
    hidden_act: "silu",
    rope_theta: 10_000.0,
};

pub(crate) struct Mistral;

impl Architecture for Mistral {
    fn model_type(&self) -> &'static str {
        MODEL_TYPE
    }

    fn hf_classes(&self) -> &'static [&'static str] {
        &["MistralForCausalLM"]
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
        if cfg.sliding_window == Some(0) {
            return Err(family.unsupported(
                "sliding_window is 0".into(),
                "set sliding_window to the window the model was trained with, or null for none",
            ));
        }
        for layer in &mut spec.layers {
            layer.window = cfg.sliding_window;
        }
        family.load(spec, Layout::default())
    }
}

#[cfg(test)]
mod tests {
    use super::super::lm_testing::{check_fixture, test_device};
    use candle::Device;

    fn mistral_window_matches_transformers(dev: &Device) {
        check_fixture("mistral", dev);
    }
    test_device!(mistral_window_matches_transformers, mistral_cpu, mistral_cuda, mistral_metal);
}
