//! Long documents scored in windows, as transformers' perplexity guide does: windows of
//! `context` tokens advancing by `stride`, each scoring only the tokens the previous window did
//! not reach. Every token but a document's first is scored exactly once, and each with at least
//! `context - stride` tokens before it in its window (or all of the document before it, when
//! that is shorter).

use crate::error::{Error, Result};

/// One window of one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The document (index into the documents).
    pub doc: usize,
    /// First token of the window in the document.
    pub begin: usize,
    /// One past its last token.
    pub end: usize,
    /// First scored target: tokens `score_from..end` are predicted here, each from the
    /// position before it.
    pub score_from: usize,
}

impl Window {
    /// Tokens the window holds.
    pub fn len(&self) -> usize {
        self.end - self.begin
    }

    /// Whether the window is empty (never, for planned windows).
    pub fn is_empty(&self) -> bool {
        self.end == self.begin
    }

    /// Targets it scores.
    pub fn scored(&self) -> usize {
        self.end - self.score_from
    }
}

/// Window length and stride, checked: `2 <= context <= max_positions`, `1 <= stride < context`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windowing {
    /// Tokens per window.
    pub context: usize,
    /// Tokens each window advances.
    pub stride: usize,
}

/// The most tokens a default window holds.
pub const DEFAULT_CONTEXT_CAP: usize = 2048;

impl Windowing {
    /// The windowing for a model of `max_positions`: `context` defaults to
    /// min(`max_positions`, 2048), `stride` to half of it.
    pub fn new(context: Option<usize>, stride: Option<usize>, max_positions: usize) -> Result<Self> {
        let bad = |reason: String| Error::BadWindow {
            reason,
            max_positions,
        };
        let context = context.unwrap_or(max_positions.min(DEFAULT_CONTEXT_CAP));
        if context < 2 || context > max_positions {
            return Err(bad(format!(
                "--context {context} is out of range: a window must hold 2 to {max_positions} tokens"
            )));
        }
        let stride = stride.unwrap_or(context / 2).max(1);
        if stride >= context {
            return Err(bad(format!(
                "--stride {stride} is not below --context {context}: each window must overlap the previous one so that every token keeps context"
            )));
        }
        Ok(Self { context, stride })
    }

    /// The windows of documents of `lens` tokens, in document order. A document of fewer than
    /// two tokens has none.
    pub fn plan(&self, lens: &[usize]) -> Vec<Window> {
        let mut out = Vec::new();
        for (doc, &len) in lens.iter().enumerate() {
            if len < 2 {
                continue;
            }
            let (mut begin, mut prev_end) = (0, 1);
            loop {
                let end = (begin + self.context).min(len);
                out.push(Window {
                    doc,
                    begin,
                    end,
                    score_from: prev_end.max(begin + 1),
                });
                if end == len {
                    break;
                }
                prev_end = end;
                begin += self.stride;
            }
        }
        out
    }
}

/// llama.cpp's `llama-perplexity` chunks (`perplexity()` in `tools/perplexity/perplexity.cpp`):
/// `stream` cut into `stream.len() / context` chunks of `context` tokens, each chunk's first
/// token replaced by `bos` when there is one, and positions `context / 2 .. context - 1`
/// predicting the token after them (targets `context / 2 + 1 .. context`). Returns the chunks,
/// one document each, and their windows.
pub fn llama_cpp_chunks(
    stream: &[u32],
    context: usize,
    bos: Option<u32>,
) -> (Vec<Vec<u32>>, Vec<Window>) {
    let chunks: Vec<Vec<u32>> = stream
        .chunks_exact(context)
        .map(|c| {
            let mut c = c.to_vec();
            if let Some(bos) = bos {
                c[0] = bos;
            }
            c
        })
        .collect();
    let windows = (0..chunks.len())
        .map(|doc| Window {
            doc,
            begin: 0,
            end: context,
            score_from: context / 2 + 1,
        })
        .collect();
    (chunks, windows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama_cpp_chunks_score_each_second_half() {
        let stream: Vec<u32> = (10..31).collect(); // 21 tokens
        let (chunks, windows) = llama_cpp_chunks(&stream, 8, Some(1));
        // Two whole chunks; the 5-token tail is dropped, as llama.cpp drops it.
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0], [1, 11, 12, 13, 14, 15, 16, 17]);
        assert_eq!(chunks[1], [1, 19, 20, 21, 22, 23, 24, 25]);
        // llama.cpp scores logits 4..7 (first = n_ctx / 2), predicting tokens 5..8: 3 per chunk.
        assert!(windows.iter().all(|w| (w.begin, w.end, w.score_from) == (0, 8, 5)));
        assert_eq!(windows.iter().map(Window::scored).sum::<usize>(), 6);
        let (chunks, _) = llama_cpp_chunks(&stream, 8, None);
        assert_eq!(chunks[1][0], 18, "no BOS: the stream's own token");
        assert!(llama_cpp_chunks(&stream, 32, None).0.is_empty());
    }

    #[test]
    fn every_token_is_scored_once_with_enough_context() {
        for (context, stride) in [(8, 4), (8, 1), (8, 7), (5, 3), (2, 1)] {
            let w = Windowing::new(Some(context), Some(stride), 64).unwrap();
            let lens = [1, 2, 7, 8, 9, 30, 0, 17];
            let windows = w.plan(&lens);
            for (doc, &len) in lens.iter().enumerate() {
                let mut seen = vec![0; len];
                for win in windows.iter().filter(|x| x.doc == doc) {
                    assert!(win.len() <= context && !win.is_empty());
                    for (j, s) in seen.iter_mut().enumerate().take(win.end).skip(win.score_from) {
                        *s += 1;
                        // Context before target j inside its window.
                        let ctx = j - win.begin;
                        assert!(ctx >= (context - stride).min(j), "{context}/{stride} {win:?} {j}");
                    }
                }
                if len >= 2 {
                    assert_eq!(seen[0], 0);
                    assert!(seen[1..].iter().all(|&c| c == 1), "{context}/{stride} doc {doc}: {seen:?}");
                } else {
                    assert!(windows.iter().all(|x| x.doc != doc));
                }
            }
        }
    }

    #[test]
    fn one_short_document_is_one_window() {
        let w = Windowing::new(None, None, 128).unwrap();
        assert_eq!((w.context, w.stride), (128, 64));
        assert_eq!(
            w.plan(&[10]),
            [Window {
                doc: 0,
                begin: 0,
                end: 10,
                score_from: 1
            }]
        );
        // transformers' guide: windows start every stride tokens.
        let w = Windowing::new(Some(4), Some(2), 128).unwrap();
        let starts: Vec<(usize, usize, usize)> =
            w.plan(&[9]).iter().map(|x| (x.begin, x.end, x.score_from)).collect();
        assert_eq!(starts, [(0, 4, 1), (2, 6, 4), (4, 8, 6), (6, 9, 8)]);
    }

    #[test]
    fn defaults_cap_the_window_and_bad_values_are_refused() {
        let w = Windowing::new(None, None, 8192).unwrap();
        assert_eq!((w.context, w.stride), (2048, 1024));
        for (c, s) in [(Some(1), None), (Some(129), None), (Some(8), Some(8)), (Some(8), Some(9))] {
            let err = Windowing::new(c, s, 128).unwrap_err().to_string();
            assert!(err.contains("hint: --context must be between 2 and the model's maximum positions (128)"), "{err}");
        }
    }
}
