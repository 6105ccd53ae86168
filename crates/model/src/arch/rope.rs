//! Rotary position embeddings for the causal LMs: reading a config's RoPE settings in either
//! style transformers has written (transformers 5's `rope_parameters` object; the older top-level
//! `rope_theta` / `rope_scaling` / `partial_rotary_factor`), the inverse frequencies of each
//! supported `rope_type` (`default`, `linear`, `llama3`, `longrope`), and the cos/sin tables of
//! a batch.
//!
//! Upstream: transformers `modeling_rope_utils.py` (`RotaryEmbeddingConfigMixin`
//! `convert_rope_params_to_dict` / `standardize_rope_params`, `_compute_*_parameters`,
//! `dynamic_rope_update`) and each family's `*RotaryEmbedding.forward`. The inverse
//! frequencies are computed in f32 as there; cos and sin are computed in f32, scaled by the
//! attention factor and only then cast to the model dtype, as `*RotaryEmbedding.forward` does.
use candle::{DType, Device, Tensor};
use serde::Deserialize;
use serde_json::Value;

/// Why a config's RoPE settings cannot be used: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RopeIssue {
    /// e.g. "rope_parameters.rope_type is dynamic, ...".
    pub(crate) reason: String,
    /// The remedy line.
    pub(crate) hint: &'static str,
}

const TYPES_HINT: &str = "supported rope_type values are default, linear, llama3 and longrope (Phi-3); use a checkpoint with one of them";

/// One RoPE object (`rope_parameters`, `rope_scaling`, or one layer type's entry of a nested
/// `rope_parameters`), every key optional.
#[derive(Debug, Clone, Default, Deserialize)]
struct RopeObject {
    #[serde(default)]
    rope_type: Option<String>,
    /// transformers 4's older spelling of `rope_type`.
    #[serde(default, rename = "type")]
    legacy_type: Option<String>,
    #[serde(default)]
    rope_theta: Option<f64>,
    #[serde(default)]
    partial_rotary_factor: Option<f64>,
    #[serde(default)]
    factor: Option<f64>,
    #[serde(default)]
    low_freq_factor: Option<f64>,
    #[serde(default)]
    high_freq_factor: Option<f64>,
    #[serde(default)]
    original_max_position_embeddings: Option<usize>,
    #[serde(default)]
    short_factor: Option<Vec<f64>>,
    #[serde(default)]
    long_factor: Option<Vec<f64>>,
    #[serde(default)]
    attention_factor: Option<f64>,
}

/// What a family fixes about reading RoPE settings.
#[derive(Debug, Clone)]
pub(crate) struct RopeContext {
    /// Per-head width.
    pub(crate) head_dim: usize,
    /// config.json `max_position_embeddings`.
    pub(crate) max_positions: usize,
    /// The top-level `rope_theta`, when the config has one (older style).
    pub(crate) theta: Option<f64>,
    /// The family's `default_theta` when no theta is given anywhere.
    pub(crate) default_theta: f64,
    /// The top-level `partial_rotary_factor`, when the config has one.
    pub(crate) partial_rotary_factor: Option<f64>,
    /// Whether the family's attention rotates only part of each head (Phi-3's
    /// `apply_rotary_pos_emb`); other families refuse a factor below 1.
    pub(crate) allow_partial: bool,
    /// Phi-3 keeps `original_max_position_embeddings` at the top level, and it wins over the
    /// one inside the RoPE object (`standardize_rope_params`).
    pub(crate) original_max_override: Option<usize>,
    /// Phi-3's `convert_rope_params_to_dict` reads the old `su` and `yarn` types as `longrope`,
    /// and its `validate_rope` accepts only `default` and `longrope`.
    pub(crate) phi3: bool,
}

/// LongRoPE's second set of frequencies, used for the rows longer than the pretraining length.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LongFrequencies {
    /// (rotary_dim / 2) inverse frequencies with the long factors.
    pub(crate) inv_freq: Vec<f32>,
    /// A row of more tokens than this uses `inv_freq` (transformers: `seq_len >
    /// original_max_position_embeddings`, with `seq_len` that row's length).
    pub(crate) original_max_positions: usize,
}

/// The rotation of one kind of layer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RopeSpec {
    /// (rotary_dim / 2) inverse frequencies; LongRoPE's short set.
    pub(crate) inv_freq: Vec<f32>,
    /// LongRoPE's long set.
    pub(crate) long: Option<LongFrequencies>,
    /// cos and sin are multiplied by this (LongRoPE's attention factor, else 1).
    pub(crate) attention_scaling: f64,
    /// How many leading dims of each head rotate (`head_dim * partial_rotary_factor`).
    pub(crate) rotary_dim: usize,
}

/// `1 / base^(2i / dim)` in f32, as `torch.arange(0, dim, 2, dtype=torch.float) / dim` and a
/// float32 power compute it.
fn default_inv_freq(base: f64, dim: usize) -> Vec<f32> {
    (0..dim)
        .step_by(2)
        .map(|i| 1.0 / (base as f32).powf(i as f32 / dim as f32))
        .collect()
}

fn parse_object(value: &Value, field: &str) -> Result<RopeObject, RopeIssue> {
    RopeObject::deserialize(value).map_err(|e| RopeIssue {
        reason: format!("{field} is not a valid RoPE object: {e}"),
        hint: "rope_parameters (or rope_scaling) must be an object such as {\"rope_type\": \"default\", \"rope_theta\": 10000.0}",
    })
}

/// An object that is present and not empty (`rope_scaling: null` and `{}` mean "none").
fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| match v {
        Value::Null => false,
        Value::Object(o) => !o.is_empty(),
        _ => true,
    })
}

/// The RoPE of a family whose layers all rotate alike: `rope_scaling` when present (it wins, as
/// in `convert_rope_params_to_dict`), else `rope_parameters`, with the top-level `rope_theta`
/// and `partial_rotary_factor` as fallbacks.
pub(crate) fn flat(
    rope_parameters: Option<&Value>,
    rope_scaling: Option<&Value>,
    cx: &RopeContext,
) -> Result<RopeSpec, RopeIssue> {
    let (value, field) = match (present(rope_scaling), present(rope_parameters)) {
        (Some(v), _) => (Some(v), "rope_scaling"),
        (None, Some(v)) => (Some(v), "rope_parameters"),
        (None, None) => (None, "rope_parameters"),
    };
    let object = match value {
        Some(v) => parse_object(v, field)?,
        None => RopeObject::default(),
    };
    build(object, field, cx)
}

/// One entry of a nested `rope_parameters` (Gemma 3's `full_attention` / `sliding_attention`),
/// `extra` (the legacy `rope_scaling`) merged over it, `theta` its fallback base.
pub(crate) fn nested(
    entry: Option<&Value>,
    extra: Option<&Value>,
    field: &str,
    cx: &RopeContext,
) -> Result<RopeSpec, RopeIssue> {
    let mut merged = match present(entry) {
        Some(Value::Object(o)) => o.clone(),
        Some(_) => {
            return Err(RopeIssue {
                reason: format!("{field} is not an object"),
                hint: "rope_parameters must map each layer type to an object such as {\"rope_type\": \"default\", \"rope_theta\": 10000.0}",
            })
        }
        None => serde_json::Map::new(),
    };
    if let Some(Value::Object(extra)) = present(extra) {
        for (k, v) in extra {
            merged.insert(k.clone(), v.clone());
        }
    }
    let object = parse_object(&Value::Object(merged), field)?;
    build(object, field, cx)
}

fn build(object: RopeObject, field: &str, cx: &RopeContext) -> Result<RopeSpec, RopeIssue> {
    let missing = |key: &str, why: &str| RopeIssue {
        reason: format!("{field}.{key} is missing ({why})"),
        hint: "add the field to config.json as transformers writes it for this rope_type",
    };
    let mut rope_type = object
        .rope_type
        .clone()
        .or(object.legacy_type.clone())
        .unwrap_or_else(|| "default".to_owned());
    if cx.phi3 && (rope_type == "su" || rope_type == "yarn") {
        rope_type = "longrope".to_owned();
    }
    let base = object.rope_theta.or(cx.theta).unwrap_or(cx.default_theta);
    if !(base.is_finite() && base > 0.0) {
        return Err(RopeIssue {
            reason: format!("{field}.rope_theta is {base}, not a positive number"),
            hint: "set rope_theta to the base the model was trained with (e.g. 10000.0)",
        });
    }
    let factor_p = object
        .partial_rotary_factor
        .or(cx.partial_rotary_factor)
        .unwrap_or(1.0);
    let rotary_dim = (cx.head_dim as f64 * factor_p) as usize;
    if rotary_dim != cx.head_dim && !cx.allow_partial {
        return Err(RopeIssue {
            reason: format!("partial_rotary_factor is {factor_p}: this family's attention rotates every dim of a head"),
            hint: "only Phi-3 rotates part of each head here; remove partial_rotary_factor from config.json if the model rotates whole heads",
        });
    }
    if rotary_dim == 0 || rotary_dim % 2 != 0 || rotary_dim > cx.head_dim {
        return Err(RopeIssue {
            reason: format!(
                "head_dim {} with partial_rotary_factor {factor_p} rotates {rotary_dim} dims, which must be even and between 2 and head_dim",
                cx.head_dim
            ),
            hint: "check head_dim and partial_rotary_factor in config.json",
        });
    }
    let original = object
        .original_max_position_embeddings
        .unwrap_or(cx.max_positions);
    let mut spec = RopeSpec {
        inv_freq: default_inv_freq(base, rotary_dim),
        long: None,
        attention_scaling: 1.0,
        rotary_dim,
    };
    if cx.phi3 && rope_type != "default" && rope_type != "longrope" {
        return Err(RopeIssue {
            reason: format!(
                "{field}.rope_type is {rope_type}; Phi-3 takes only default and longrope (su)"
            ),
            hint: TYPES_HINT,
        });
    }
    match rope_type.as_str() {
        "default" => {}
        "linear" => {
            let factor = object
                .factor
                .ok_or_else(|| missing("factor", "linear scaling divides the frequencies by it"))?;
            positive(factor, field, "factor")?;
            let factor = factor as f32;
            spec.inv_freq.iter_mut().for_each(|f| *f /= factor);
        }
        "llama3" => {
            let factor = object
                .factor
                .ok_or_else(|| missing("factor", "llama3 scaling"))?;
            let low = object
                .low_freq_factor
                .ok_or_else(|| missing("low_freq_factor", "llama3 scaling"))?;
            let high = object
                .high_freq_factor
                .ok_or_else(|| missing("high_freq_factor", "llama3 scaling"))?;
            positive(factor, field, "factor")?;
            positive(low, field, "low_freq_factor")?;
            if high <= low {
                return Err(RopeIssue {
                    reason: format!("{field}.high_freq_factor ({high}) must exceed low_freq_factor ({low})"),
                    hint: "llama3 rope scaling interpolates between the two; use the values the model was trained with",
                });
            }
            spec.inv_freq = llama3(&spec.inv_freq, factor, low, high, original);
        }
        "longrope" => {
            let original = cx.original_max_override.unwrap_or(original);
            let short = object
                .short_factor
                .ok_or_else(|| missing("short_factor", "longrope scaling"))?;
            let long = object
                .long_factor
                .ok_or_else(|| missing("long_factor", "longrope scaling"))?;
            for (key, factors) in [("short_factor", &short), ("long_factor", &long)] {
                if factors.len() != rotary_dim / 2 {
                    return Err(RopeIssue {
                        reason: format!(
                            "{field}.{key} has {} entries but the rotary dims need {}",
                            factors.len(),
                            rotary_dim / 2
                        ),
                        hint: "longrope needs one factor per rotated pair of dims (rotary_dim / 2)",
                    });
                }
            }
            if original == 0 {
                return Err(missing(
                    "original_max_position_embeddings",
                    "longrope scaling",
                ));
            }
            // https://github.com/huggingface/transformers/blob/v5.24.0/src/transformers/modeling_rope_utils.py
            // `_compute_longrope_parameters`: `factor` defaults to max / original, the attention
            // factor to sqrt(1 + ln(factor) / ln(original)).
            let factor = object
                .factor
                .unwrap_or(cx.max_positions as f64 / original as f64);
            spec.attention_scaling = match object.attention_factor {
                Some(a) => a,
                None if factor <= 1.0 => 1.0,
                None => (1.0 + factor.ln() / (original as f64).ln()).sqrt(),
            };
            spec.inv_freq = longrope(base, rotary_dim, &short);
            spec.long = Some(LongFrequencies {
                inv_freq: longrope(base, rotary_dim, &long),
                original_max_positions: original,
            });
        }
        other => {
            return Err(RopeIssue {
                reason: format!("{field}.rope_type is {other}, which is not implemented"),
                hint: TYPES_HINT,
            })
        }
    }
    Ok(spec)
}

fn positive(value: f64, field: &str, key: &str) -> Result<(), RopeIssue> {
    if value.is_finite() && value > 0.0 {
        return Ok(());
    }
    Err(RopeIssue {
        reason: format!("{field}.{key} is {value}, not a positive number"),
        hint: "use the rope scaling values the model was trained with",
    })
}

/// `_compute_llama3_parameters`, in f32 as torch computes it.
fn llama3(inv_freq: &[f32], factor: f64, low: f64, high: f64, original: usize) -> Vec<f32> {
    let (factor, low, high, old) = (factor as f32, low as f32, high as f32, original as f32);
    let low_wavelen = old / low;
    let high_wavelen = old / high;
    inv_freq
        .iter()
        .map(|&f| {
            let wavelen = 2.0 * std::f32::consts::PI / f;
            let scaled = if wavelen > low_wavelen { f / factor } else { f };
            if wavelen < high_wavelen || wavelen > low_wavelen {
                scaled
            } else {
                let smooth = (old / wavelen - low) / (high - low);
                (1.0 - smooth) * scaled / factor + smooth * scaled
            }
        })
        .collect()
}

/// `_compute_longrope_parameters`: `1 / (ext_factor_i * base^(2i / dim))` in f32.
pub(crate) fn longrope(base: f64, dim: usize, factors: &[f64]) -> Vec<f32> {
    (0..dim)
        .step_by(2)
        .zip(factors)
        .map(|(i, &ext)| 1.0 / (ext as f32 * (base as f32).powf(i as f32 / dim as f32)))
        .collect()
}

/// The cos/sin of one kind of layer, for one batch: (t, rotary_dim / 2), or (b, t, rotary_dim /
/// 2) when LongRoPE picks the frequencies of each row by its length.
#[derive(Debug, Clone)]
pub(crate) struct RopeTables {
    pub(crate) cos: Tensor,
    pub(crate) sin: Tensor,
    pub(crate) rotary_dim: usize,
}

/// Device-side frequencies of one [`RopeSpec`].
#[derive(Debug, Clone)]
pub(crate) struct Rotary {
    inv_freq: Tensor,
    long: Option<(Tensor, usize)>,
    attention_scaling: f64,
    rotary_dim: usize,
}

impl Rotary {
    pub(crate) fn new(spec: &RopeSpec, device: &Device) -> candle::Result<Self> {
        let n = spec.inv_freq.len();
        let inv_freq = Tensor::from_slice(&spec.inv_freq, (1, n), device)?;
        let long = match &spec.long {
            Some(l) => Some((
                Tensor::from_slice(&l.inv_freq, (1, n), device)?,
                l.original_max_positions,
            )),
            None => None,
        };
        Ok(Self {
            inv_freq,
            long,
            attention_scaling: spec.attention_scaling,
            rotary_dim: spec.rotary_dim,
        })
    }

    /// cos and sin of `positions` (any shape, f32) times the frequencies: shape
    /// `positions` + (n), in f32, scaled.
    fn table(&self, inv_freq: &Tensor, positions: &Tensor) -> candle::Result<(Tensor, Tensor)> {
        let n = inv_freq.dim(1)?;
        let mut shape = positions.dims().to_vec();
        shape.push(1);
        let mut freq_shape = vec![1; shape.len() - 1];
        freq_shape.push(n);
        let freqs = positions
            .reshape(shape)?
            .broadcast_mul(&inv_freq.reshape(freq_shape)?)?; // (..., n)
        let (cos, sin) = (freqs.cos()?, freqs.sin()?);
        if self.attention_scaling == 1.0 {
            return Ok((cos, sin));
        }
        Ok((
            cos.affine(self.attention_scaling, 0.0)?,
            sin.affine(self.attention_scaling, 0.0)?,
        ))
    }

    /// LongRoPE's pretraining length: a row of more tokens takes the long frequencies.
    pub(crate) fn long_after(&self) -> Option<usize> {
        self.long.as_ref().map(|(_, original)| *original)
    }

    /// Whether each row of `lengths` (b) f32 takes LongRoPE's long frequencies: (b) u8, `None`
    /// without LongRoPE.
    pub(crate) fn is_long(&self, lengths: &Tensor) -> candle::Result<Option<Tensor>> {
        match &self.long {
            None => Ok(None),
            // transformers picks one set per forward from max(position_ids) + 1; a row run
            // alone has its own length there, so each row of the batch picks by its length.
            Some((_, original)) => Ok(Some(lengths.gt(*original as f64)?)),
        }
    }

    /// The tables for a right-padded batch: positions 0..t in every row; `lengths` (b) f32 are
    /// the rows' real lengths (only LongRoPE reads them).
    pub(crate) fn tables(
        &self,
        t: usize,
        lengths: &Tensor,
        dtype: DType,
    ) -> candle::Result<RopeTables> {
        let positions =
            Tensor::arange(0u32, t as u32, self.inv_freq.device())?.to_dtype(DType::F32)?;
        let (cos, sin) = self.table(&self.inv_freq, &positions)?; // (t, n)
        let (cos, sin) = match (&self.long, self.is_long(lengths)?) {
            (Some((long_freq, _)), Some(is_long)) => {
                let (long_cos, long_sin) = self.table(long_freq, &positions)?;
                let b = lengths.dim(0)?;
                let n = self.rotary_dim / 2;
                let is_long = is_long
                    .reshape((b, 1, 1))?
                    .broadcast_as((b, t, n))?
                    .contiguous()?; // (b, t, n) u8
                let pick = |long: &Tensor, short: &Tensor| {
                    is_long.where_cond(
                        &long.unsqueeze(0)?.broadcast_as((b, t, n))?,
                        &short.unsqueeze(0)?.broadcast_as((b, t, n))?,
                    )
                };
                (pick(&long_cos, &cos)?, pick(&long_sin, &sin)?)
            }
            _ => (cos, sin),
        };
        Ok(RopeTables {
            cos: cos.to_dtype(dtype)?.contiguous()?,
            sin: sin.to_dtype(dtype)?.contiguous()?,
            rotary_dim: self.rotary_dim,
        })
    }

    /// (b, t, n) tables for explicit positions (b, t) f32 (left-padded or cached batches);
    /// `lengths` (b) f32 are the rows' real lengths including these positions (only LongRoPE
    /// reads them).
    pub(crate) fn tables_at(
        &self,
        positions: &Tensor,
        lengths: &Tensor,
        dtype: DType,
    ) -> candle::Result<RopeTables> {
        let (b, t) = positions.dims2()?;
        let n = self.rotary_dim / 2;
        let (cos, sin) = self.table(&self.inv_freq, positions)?; // (b, t, n)
        let (cos, sin) = match (&self.long, self.is_long(lengths)?) {
            (Some((long_freq, _)), Some(is_long)) => {
                let (long_cos, long_sin) = self.table(long_freq, positions)?;
                let is_long = is_long
                    .reshape((b, 1, 1))?
                    .broadcast_as((b, t, n))?
                    .contiguous()?; // (b, t, n) u8
                (
                    is_long.where_cond(&long_cos, &cos)?,
                    is_long.where_cond(&long_sin, &sin)?,
                )
            }
            _ => (cos, sin),
        };
        Ok(RopeTables {
            cos: cos.to_dtype(dtype)?.contiguous()?,
            sin: sin.to_dtype(dtype)?.contiguous()?,
            rotary_dim: self.rotary_dim,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cx() -> RopeContext {
        RopeContext {
            head_dim: 16,
            max_positions: 64,
            theta: None,
            default_theta: 10_000.0,
            partial_rotary_factor: None,
            allow_partial: false,
            original_max_override: None,
            phi3: false,
        }
    }

    #[test]
    fn both_config_styles_give_the_same_rotation() {
        let v5 = json!({"rope_type": "default", "rope_theta": 500000.0});
        let a = flat(Some(&v5), None, &cx()).unwrap();
        let legacy = RopeContext {
            theta: Some(500000.0),
            ..cx()
        };
        let b = flat(None, Some(&Value::Null), &legacy).unwrap();
        assert_eq!(a, b);
        // 1 / 500000^(2/16) = exp(-ln(500000) / 8) = 0.19392; the first frequency is always 1.
        assert_eq!(a.inv_freq[0], 1.0);
        assert!((a.inv_freq[1] - 0.193_92).abs() < 1e-5, "{}", a.inv_freq[1]);
        // No theta anywhere: the family default.
        let c = flat(None, None, &cx()).unwrap();
        assert_eq!(c.inv_freq, default_inv_freq(10_000.0, 16));
    }

    #[test]
    fn rope_scaling_wins_over_rope_parameters() {
        let params = json!({"rope_type": "default", "rope_theta": 10000.0});
        let scaling = json!({"type": "linear", "factor": 2.0});
        let spec = flat(Some(&params), Some(&scaling), &cx()).unwrap();
        assert_eq!(spec.inv_freq[0], 0.5);
    }

    #[test]
    fn llama3_keeps_high_and_divides_low_frequencies() {
        let scaling = json!({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 64});
        let spec = flat(None, Some(&scaling), &cx()).unwrap();
        let plain = default_inv_freq(10_000.0, 16);
        // wavelength 2π < 64 / 4: kept.
        assert_eq!(spec.inv_freq[0], plain[0]);
        // the lowest frequency (wavelength 2π·10000^(14/16) > 64): divided by 8.
        assert!((spec.inv_freq[7] - plain[7] / 8.0).abs() < 1e-9);
    }

    #[test]
    fn unknown_and_incomplete_rope_types_are_refused() {
        let err = flat(
            Some(&json!({"rope_type": "dynamic", "factor": 2.0})),
            None,
            &cx(),
        )
        .unwrap_err();
        assert!(
            err.reason.contains("rope_parameters.rope_type is dynamic"),
            "{err:?}"
        );
        let err = flat(
            None,
            Some(&json!({"rope_type": "llama3", "factor": 8.0})),
            &cx(),
        )
        .unwrap_err();
        assert!(
            err.reason.contains("rope_scaling.low_freq_factor"),
            "{err:?}"
        );
        let err = flat(Some(&json!({"rope_type": "linear"})), None, &cx()).unwrap_err();
        assert!(err.reason.contains("rope_parameters.factor"), "{err:?}");
        let err = flat(Some(&json!([1, 2])), None, &cx()).unwrap_err();
        assert!(err.reason.contains("not a valid RoPE object"), "{err:?}");
        let err = flat(Some(&json!({"partial_rotary_factor": 0.5})), None, &cx()).unwrap_err();
        assert!(err.reason.contains("partial_rotary_factor"), "{err:?}");
    }

    #[test]
    fn phi3_reads_su_as_longrope_and_refuses_llama3() {
        let phi3 = RopeContext {
            phi3: true,
            allow_partial: true,
            original_max_override: Some(16),
            ..cx()
        };
        let su = json!({"type": "su", "short_factor": vec![1.0; 8], "long_factor": vec![2.0; 8]});
        let spec = flat(None, Some(&su), &phi3).unwrap();
        let long = spec.long.as_ref().unwrap();
        assert_eq!(long.original_max_positions, 16);
        assert_eq!(long.inv_freq[0], 0.5);
        assert_eq!(spec.inv_freq[0], 1.0);
        // factor 64 / 16 = 4: sqrt(1 + ln 4 / ln 16) = sqrt(1.5).
        assert!((spec.attention_scaling - 1.5f64.sqrt()).abs() < 1e-12);
        let bad = json!({"type": "su", "short_factor": [1.0], "long_factor": vec![2.0; 8]});
        let err = flat(None, Some(&bad), &phi3).unwrap_err();
        assert!(err.reason.contains("short_factor has 1 entries"), "{err:?}");
        let err = flat(
            None,
            Some(&json!({"rope_type": "llama3", "factor": 8.0})),
            &phi3,
        )
        .unwrap_err();
        assert!(err.reason.contains("Phi-3 takes only"), "{err:?}");
    }

    #[test]
    fn longrope_picks_each_rows_frequencies_by_its_length() {
        let spec = RopeSpec {
            inv_freq: vec![1.0],
            long: Some(LongFrequencies {
                inv_freq: vec![0.5],
                original_max_positions: 3,
            }),
            attention_scaling: 1.0,
            rotary_dim: 2,
        };
        let rotary = Rotary::new(&spec, &Device::Cpu).unwrap();
        let lengths = Tensor::new(&[4f32, 3.0], &Device::Cpu).unwrap();
        let tables = rotary.tables(4, &lengths, DType::F32).unwrap();
        assert_eq!(tables.cos.dims(), [2, 4, 1]);
        let cos = tables.cos.to_vec3::<f32>().unwrap();
        // Row 0 (4 tokens > 3) rotates at 0.5 rad per position, row 1 at 1 rad.
        assert!((cos[0][2][0] - 1f32.cos()).abs() < 1e-6);
        assert!((cos[1][2][0] - 2f32.cos()).abs() < 1e-6);
    }
}
