//! The key/value cache of incremental decoding: per layer, the rotated keys and the values of
//! every column run so far, for a batch of left-padded rows.
//!
//! Rows of different lengths decode together by left padding: row `i`'s first `pads[i]`
//! columns are padding, never seen as keys, and its real tokens sit at positions
//! `column - pads[i]`, so every row's next token is in the same (last) column. The cache keeps
//! every column (sliding-window layers mask the old ones rather than drop them), plus the ids
//! run so far, which a decoder needs to recompute the cache when a row's rotary frequencies
//! change (Phi-3's LongRoPE, past its pretraining length).
use candle::{Device, Tensor};

/// The keys and values a decoder has computed for a batch of left-padded rows.
#[derive(Debug, Clone)]
pub struct KvCache {
    /// Left-padding columns of each row.
    pub(crate) pads: Vec<usize>,
    /// Columns held, padding included.
    pub(crate) len: usize,
    /// Per layer: (b, kv_heads, len, head_dim) keys (rotated) and values; empty before the
    /// first pass.
    pub(crate) layers: Vec<Option<(Tensor, Tensor)>>,
    /// (b, len) u32: every column's id, padding included.
    pub(crate) ids: Option<Tensor>,
    /// Per row: whether its keys were rotated with LongRoPE's long frequencies.
    pub(crate) long: Vec<bool>,
}

impl KvCache {
    /// An empty cache for rows whose first `pads[i]` columns will be padding.
    pub fn new(pads: Vec<usize>) -> Self {
        Self {
            long: vec![false; pads.len()],
            pads,
            len: 0,
            layers: Vec::new(),
            ids: None,
        }
    }

    /// Rows in the batch.
    pub fn rows(&self) -> usize {
        self.pads.len()
    }

    /// Columns held, padding included.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been run yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Each row's real tokens held (its columns minus its padding).
    pub fn lengths(&self) -> Vec<usize> {
        self.pads
            .iter()
            .map(|&p| self.len.saturating_sub(p))
            .collect()
    }

    /// Keeps only the rows `keep` (indices into the current rows, in the new order), so that
    /// finished rows stop costing compute, and drops the leading columns that are padding in
    /// every remaining row.
    pub fn retain(&mut self, keep: &[usize], device: &Device) -> candle::Result<()> {
        if keep.is_empty() {
            candle::bail!("a cache must keep at least one row");
        }
        if let Some(&bad) = keep.iter().find(|&&r| r >= self.rows()) {
            candle::bail!("row {bad} is not in a cache of {} rows", self.rows());
        }
        let index = Tensor::from_vec(
            keep.iter().map(|&r| r as u32).collect::<Vec<_>>(),
            keep.len(),
            device,
        )?;
        let pads: Vec<usize> = keep.iter().map(|&r| self.pads[r]).collect();
        let drop = pads.iter().copied().min().unwrap_or(0).min(self.len);
        let cut = |x: &Tensor, dim: usize| -> candle::Result<Tensor> {
            let x = x.index_select(&index, 0)?;
            if drop == 0 {
                return Ok(x);
            }
            let n = x.dim(dim)?;
            x.narrow(dim, drop, n - drop)?.contiguous()
        };
        for layer in self.layers.iter_mut().flatten() {
            // (b, kv, len, d)
            *layer = (cut(&layer.0, 2)?, cut(&layer.1, 2)?);
        }
        if let Some(ids) = &self.ids {
            self.ids = Some(cut(ids, 1)?); // (b, len)
        }
        self.long = keep.iter().map(|&r| self.long[r]).collect();
        self.pads = pads.into_iter().map(|p| p - drop).collect();
        self.len -= drop;
        Ok(())
    }
}
