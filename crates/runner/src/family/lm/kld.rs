//! llama.cpp's base files: what `llama-perplexity --kl-divergence-base FILE` writes, read as a
//! causal-LM teacher (`--teacher-logits FILE.kld`).
//!
//! Layout (`perplexity()` and `log_softmax()` in llama.cpp's `tools/perplexity/perplexity.cpp`),
//! little-endian:
//! - the magic `_logits_` (8 bytes), then `n_ctx` (u32), `n_vocab` (i32), `n_chunk` (i32);
//! - the evaluated tokens, `n_chunk * n_ctx` i32 (as tokenized, before any BOS replacement);
//! - per chunk, per scored position (`n_ctx - 1 - n_ctx / 2` of them: positions `n_ctx / 2`
//!   to `n_ctx - 2`, each predicting the next token), `2 * ((n_vocab + 1) / 2) + 4` u16: two
//!   f32, `scale` and `min_log_prob`, then `n_vocab` u16 `v` (padded to an even count) with
//!   log p = `scale * v + min_log_prob`. Logits more than 16 below the maximum are stored as 0,
//!   the floor.
//!
//! Parsing is bounded: the header's sizes are checked against the file's length before
//! anything is allocated, and rows are read one piece at a time.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The file's first bytes.
pub const MAGIC: &[u8; 8] = b"_logits_";
/// Bytes before the tokens: magic, n_ctx, n_vocab, n_chunk.
const HEADER: u64 = 20;
/// The largest context and vocabulary accepted (2^24), far above any real model's.
const MAX_SIZE: u64 = 1 << 24;

/// A llama.cpp base file, header and tokens read, log-probabilities left on disk.
#[derive(Debug, Clone)]
pub struct KldBase {
    /// The file.
    pub path: PathBuf,
    /// Tokens per chunk (llama.cpp's `-c`).
    pub n_ctx: usize,
    /// Width of each stored distribution.
    pub n_vocab: usize,
    /// Chunks.
    pub n_chunk: usize,
    /// The evaluated tokens, `n_chunk * n_ctx`.
    pub tokens: Vec<u32>,
}

/// Whether `path` starts with llama.cpp's base-file magic.
pub fn is_kld(path: &Path) -> bool {
    let mut head = [0u8; 8];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == MAGIC
}

impl KldBase {
    /// Scored positions per chunk.
    pub fn scored(&self) -> usize {
        self.n_ctx - 1 - self.n_ctx / 2
    }

    fn row_bytes(&self) -> u64 {
        row_bytes(self.n_vocab as u64)
    }

    /// Reads and checks the header and tokens of `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::BadKldFile {
            path: path.to_owned(),
            reason,
        };
        let read_err = |source| Error::Read {
            path: path.to_owned(),
            source,
        };
        let mut file = File::open(path).map_err(read_err)?;
        let len = file.metadata().map_err(read_err)?.len();
        if len < HEADER {
            return Err(bad(format!(
                "holds {len} bytes, fewer than the {HEADER} of a base file's header"
            )));
        }
        let mut head = [0u8; HEADER as usize];
        file.read_exact(&mut head).map_err(read_err)?;
        if &head[..8] != MAGIC {
            return Err(bad(
                "does not start with `_logits_`: not a llama.cpp base file".to_owned(),
            ));
        }
        let word = |i: usize| [head[i], head[i + 1], head[i + 2], head[i + 3]];
        let n_ctx = u64::from(u32::from_le_bytes(word(8)));
        let n_vocab = i64::from(i32::from_le_bytes(word(12)));
        let n_chunk = i64::from(i32::from_le_bytes(word(16)));
        if !(3..=MAX_SIZE).contains(&n_ctx) {
            return Err(bad(format!(
                "its header gives n_ctx {n_ctx}, outside 3 to {MAX_SIZE}"
            )));
        }
        if !(1..=MAX_SIZE as i64).contains(&n_vocab) {
            return Err(bad(format!(
                "its header gives n_vocab {n_vocab}, outside 1 to {MAX_SIZE}"
            )));
        }
        if n_chunk < 1 {
            return Err(bad(format!("its header gives n_chunk {n_chunk}, not a count of chunks")));
        }
        let (n_vocab, n_chunk) = (n_vocab as u64, n_chunk as u64);
        let scored = n_ctx - 1 - n_ctx / 2;
        // Each factor is below 2^31 and 2^25: these products fit in u64 (2^31 * 2^24 * 2^26).
        let token_bytes = 4 * n_chunk * n_ctx;
        let expected = HEADER + token_bytes + n_chunk * scored * row_bytes(n_vocab);
        let shape = format!("n_ctx {n_ctx}, n_vocab {n_vocab}, n_chunk {n_chunk}");
        if len < expected {
            return Err(bad(format!(
                "is truncated: its header ({shape}) needs {expected} bytes but the file has {len}"
            )));
        }
        if len > expected {
            return Err(bad(format!(
                "holds {} bytes after the last chunk's log-probabilities that its header ({shape}) does not account for",
                len - expected
            )));
        }
        let mut raw = vec![0u8; token_bytes as usize];
        file.read_exact(&mut raw).map_err(read_err)?;
        let mut tokens = Vec::with_capacity(raw.len() / 4);
        for (i, w) in raw.chunks_exact(4).enumerate() {
            let t = i32::from_le_bytes([w[0], w[1], w[2], w[3]]);
            if t < 0 || t as u64 >= n_vocab {
                return Err(bad(format!(
                    "token {i} is {t}, outside its vocabulary of {n_vocab}"
                )));
            }
            tokens.push(t as u32);
        }
        Ok(Self {
            path: path.to_owned(),
            n_ctx: n_ctx as usize,
            n_vocab: n_vocab as usize,
            n_chunk: n_chunk as usize,
            tokens,
        })
    }

    /// A reader of the stored log-probabilities.
    pub fn reader(&self) -> Result<BaseReader<'_>> {
        let file = File::open(&self.path).map_err(|source| Error::Read {
            path: self.path.clone(),
            source,
        })?;
        Ok(BaseReader {
            base: self,
            file,
            buf: Vec::new(),
        })
    }
}

/// `2 * ((n_vocab + 1) / 2) + 4` u16 per stored position.
fn row_bytes(n_vocab: u64) -> u64 {
    2 * (2 * n_vocab.div_ceil(2) + 4)
}

/// Reads rows of a [`KldBase`].
#[derive(Debug)]
pub struct BaseReader<'a> {
    base: &'a KldBase,
    file: File,
    buf: Vec<u8>,
}

impl BaseReader<'_> {
    /// The log-probabilities of `count` scored positions of `chunk` from its `from`-th, appended
    /// to `out` as `count * n_vocab` f32 (row-major), dequantized as llama.cpp does
    /// (`scale * v + min_log_prob` in f32). A row whose scale or floor is impossible for a
    /// log-softmax is refused as corrupt.
    pub fn rows(&mut self, chunk: usize, from: usize, count: usize, out: &mut Vec<f32>) -> Result<()> {
        let b = self.base;
        let row = b.row_bytes();
        let at = HEADER
            + 4 * (b.n_chunk * b.n_ctx) as u64
            + ((chunk * b.scored() + from) as u64) * row;
        let io = |source| Error::Read {
            path: b.path.clone(),
            source,
        };
        self.file.seek(SeekFrom::Start(at)).map_err(io)?;
        self.buf.resize(row as usize * count, 0);
        self.file.read_exact(&mut self.buf).map_err(io)?;
        // llama.cpp's floor is 16 below the maximum logit: scale = (max - min) / 65535.
        let max_scale = 16.0 / 65535.0 * (1.0 + 1e-4);
        for (k, r) in self.buf.chunks_exact(row as usize).enumerate() {
            let scale = f32::from_le_bytes([r[0], r[1], r[2], r[3]]);
            let min = f32::from_le_bytes([r[4], r[5], r[6], r[7]]);
            if !(scale.is_finite() && (0.0..=max_scale).contains(&scale) && min.is_finite() && min <= 1e-6) {
                return Err(Error::BadKldFile {
                    path: b.path.clone(),
                    reason: format!(
                        "chunk {chunk}, scored position {}: scale {scale} and minimum log-probability {min} are not those of a log-softmax (corrupt file)",
                        from + k
                    ),
                });
            }
            out.extend(
                r[8..8 + 2 * b.n_vocab]
                    .chunks_exact(2)
                    .map(|v| scale * f32::from(u16::from_le_bytes([v[0], v[1]])) + min),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Encodes logit rows as llama.cpp's `log_softmax(n_vocab, logits, log_prob, tok)` does.
    pub(crate) fn encode_row(logits: &[f32]) -> Vec<u8> {
        let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let min = logits.iter().cloned().fold(f32::INFINITY, f32::min).max(max - 16.0);
        let sum: f64 = logits.iter().map(|&l| f64::from((l - max).exp())).sum();
        let lse = sum.ln() as f32;
        let scale = (max - min) / 65535.0;
        let mut out = Vec::new();
        out.extend(scale.to_le_bytes());
        out.extend((min - max - lse).to_le_bytes());
        for &l in logits {
            let v = if scale > 0.0 && l > min { ((l - min) / scale).round() as u16 } else { 0 };
            out.extend(v.to_le_bytes());
        }
        if logits.len() % 2 == 1 {
            out.extend([0, 0]);
        }
        out
    }

    /// A whole file: `rows[chunk][position]` are the logits of the scored positions.
    pub(crate) fn write(n_ctx: u32, n_vocab: i32, tokens: &[u32], rows: &[Vec<Vec<f32>>]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend(n_ctx.to_le_bytes());
        out.extend(n_vocab.to_le_bytes());
        out.extend((rows.len() as i32).to_le_bytes());
        for &t in tokens {
            out.extend((t as i32).to_le_bytes());
        }
        for chunk in rows {
            for r in chunk {
                out.extend(encode_row(r));
            }
        }
        out
    }

    fn case() -> (Vec<u32>, Vec<Vec<Vec<f32>>>) {
        // n_ctx 6: positions 3 and 4 scored, 2 rows per chunk; a 3-token vocabulary (padded).
        let tokens: Vec<u32> = vec![0, 1, 2, 1, 0, 2, 2, 2, 1, 0, 1, 1];
        let rows = vec![
            vec![vec![1.0, 2.0, 0.5], vec![0.0, 0.0, 0.0]],
            vec![vec![3.0, -30.0, 0.0], vec![-1.0, 4.0, 2.0]],
        ];
        (tokens, rows)
    }

    #[test]
    fn reads_what_llama_cpp_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("base.kld");
        let (tokens, rows) = case();
        std::fs::write(&path, write(6, 3, &tokens, &rows)).unwrap();
        assert!(is_kld(&path));
        let base = KldBase::open(&path).unwrap();
        assert_eq!((base.n_ctx, base.n_vocab, base.n_chunk, base.scored()), (6, 3, 2, 2));
        assert_eq!(base.tokens, tokens);
        let mut got = Vec::new();
        base.reader().unwrap().rows(1, 0, 2, &mut got).unwrap();
        assert_eq!(got.len(), 6);
        // Within the 16-bit step (16 / 65535) of the exact log-softmax, the floor aside.
        for (r, logits) in rows[1].iter().enumerate() {
            let lse = logits.iter().map(|&l| f64::from(l).exp()).sum::<f64>().ln();
            for (i, &l) in logits.iter().enumerate() {
                let exact = f64::from(l) - lse;
                let g = f64::from(got[r * 3 + i]);
                if f64::from(l) < f64::from(logits.iter().cloned().fold(f32::MIN, f32::max)) - 16.0 {
                    // The floor: max - 16 - lse.
                    assert!((g - (3.0 - 16.0 - lse)).abs() < 1e-4, "{g}");
                } else {
                    assert!((g - exact).abs() < 2e-4, "{g} vs {exact}");
                }
            }
        }
        // A uniform row has scale 0: every log-probability is ln(1/3).
        let mut uniform = Vec::new();
        base.reader().unwrap().rows(0, 1, 1, &mut uniform).unwrap();
        for v in uniform {
            assert!((f64::from(v) + 3f64.ln()).abs() < 1e-6);
        }
    }

    #[test]
    fn bad_files_are_named_without_allocating_what_they_claim() {
        let dir = tempfile::tempdir().unwrap();
        let (tokens, rows) = case();
        let good = write(6, 3, &tokens, &rows);
        let mut huge = good[..20].to_vec();
        huge[16..20].copy_from_slice(&i32::MAX.to_le_bytes()); // 2^31 chunks
        let mut bad_token = good.clone();
        bad_token[20..24].copy_from_slice(&7i32.to_le_bytes());
        let mut zero_vocab = good.clone();
        zero_vocab[12..16].copy_from_slice(&0i32.to_le_bytes());
        let mut trailing = good.clone();
        trailing.extend([1, 2]);
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("short", good[..10].to_vec(), "fewer than the 20"),
            ("magic", b"_logitz_".iter().chain(&good[8..]).copied().collect(), "_logits_"),
            ("cut", good[..good.len() - 1].to_vec(), "is truncated"),
            ("huge", huge, "is truncated"),
            ("token", bad_token, "token 0 is 7"),
            ("vocab", zero_vocab, "n_vocab 0"),
            ("trailing", trailing, "2 bytes after"),
        ];
        for (name, bytes, needle) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let err = KldBase::open(&path).unwrap_err().to_string();
            assert!(err.contains(needle) && err.contains(name) && err.contains("hint:"), "{name}: {err}");
        }
        // A row whose scale is garbage.
        let mut corrupt = good.clone();
        let first_row = 20 + 4 * tokens.len();
        corrupt[first_row..first_row + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        let path = dir.path().join("corrupt");
        std::fs::write(&path, corrupt).unwrap();
        let base = KldBase::open(&path).unwrap();
        let err = base.reader().unwrap().rows(0, 0, 1, &mut Vec::new()).unwrap_err().to_string();
        assert!(err.contains("chunk 0, scored position 0") && err.contains("corrupt"), "{err}");
    }
}
