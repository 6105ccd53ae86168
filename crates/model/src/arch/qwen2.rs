//! Qwen2 and Qwen2.5 (`Qwen2ForCausalLM`), every position's logits.
//!
//! Qwen2 Technical Report, <https://arxiv.org/abs/2407.10671>. Upstream: transformers
//! `models/qwen2/modeling_qwen2.py` (v5.24.0): Llama's block with biases on q, k and v (not on
//! o), and sliding-window layers by `layer_types`, which older configs leave to
//! `use_sliding_window` and `max_window_layers` (layers from `max_window_layers` on slide).
use candle::DType;
use serde::Deserialize;

use super::decoder::LayerKind;
use super::decoder_load::{BaseConfig, Defaults, Family, Layout};
use super::{Architecture, LoadContext, Loaded, Task};
use crate::Result;

/// The sliding-window fields Qwen2 and Qwen3 share.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Windows {
    #[serde(default)]
    use_sliding_window: bool,
    #[serde(default = "default_window")]
    sliding_window: Option<usize>,
    #[serde(default = "default_max_window_layers")]
    max_window_layers: usize,
    #[serde(default)]
    layer_types: Option<Vec<String>>,
}

fn default_window() -> Option<usize> {
    Some(4096)
}
fn default_max_window_layers() -> usize {
    28
}

impl Windows {
    /// `Qwen2Config.__post_init__`: the window only counts with `use_sliding_window`, and
    /// without `layer_types` the layers from `max_window_layers` on slide.
    pub(crate) fn layer_kinds(&self, family: &Family<'_>) -> Result<Vec<LayerKind>> {
        let window = self.sliding_window.filter(|_| self.use_sliding_window);
        let derived;
        let types = match &self.layer_types {
            Some(t) => t,
            None => {
                derived = (0..family.base.num_hidden_layers)
                    .map(|i| {
                        if window.is_some() && i >= self.max_window_layers {
                            "sliding_attention".to_owned()
                        } else {
                            "full_attention".to_owned()
                        }
                    })
                    .collect::<Vec<_>>();
                &derived
            }
        };
        family.layer_kinds(types, window, 0, 0)
    }
}

/// https://github.com/huggingface/transformers/blob/v5.24.0/src/transformers/models/qwen2/configuration_qwen2.py
#[derive(Debug, Clone, Deserialize)]
struct Config {
    #[serde(flatten)]
    base: BaseConfig,
    #[serde(flatten)]
    windows: Windows,
}

/// HF `model_type`.
const MODEL_TYPE: &str = "qwen2";

const DEFAULTS: Defaults = Defaults {
    head_dim: None,
    rms_norm_eps: 1e-6,
    max_position_embeddings: 32768,
    tie_word_embeddings: false,
    hidden_act: "silu",
    rope_theta: 10_000.0,
};

pub(crate) struct Qwen2;

impl Architecture for Qwen2 {
    fn model_type(&self) -> &'static str {
        MODEL_TYPE
    }

    fn hf_classes(&self) -> &'static [&'static str] {
        &["Qwen2ForCausalLM"]
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
            qkv_bias: true,
            ..Layout::default()
        };
        family.load(spec, layout)
    }
}

#[cfg(test)]
mod tests {
    use super::super::lm_testing::{check_conformance, check_fixture, test_device};
    use candle::Device;

    fn qwen2_window_matches_transformers(dev: &Device) {
        check_fixture("qwen2", dev);
    }
    test_device!(qwen2_window_matches_transformers, qwen2_cpu, qwen2_cuda, qwen2_metal);

    fn qwen2_conformance_matches_transformers(dev: &Device) {
        check_conformance("qwen2", dev);
    }
    test_device!(qwen2_conformance_matches_transformers, qwen2_conformance_cpu, qwen2_conformance_cuda, qwen2_conformance_metal);
}
