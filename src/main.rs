//! The `distill-eval` command line: argument parsing, output files and exit codes.
//!
//! Exit codes: 0 success, 1 a quality gate failed, 2 an error (bad input, missing file...).

#[cfg(feature = "accelerate")]
extern crate accelerate_src;
#[cfg(feature = "mkl")]
extern crate intel_mkl_src;

mod cli;

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::run() {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let mut stderr = std::io::stderr().lock();
            // NOTE: the one place the binary prints an error; everything else returns it.
            let _ = writeln!(stderr, "distill-eval: {}", message(&err));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, each cause only when the messages before it do not already say it
/// (our errors name their source in their own message), without backtraces.
fn message(err: &anyhow::Error) -> String {
    let mut msg = without_backtrace(&err.to_string());
    for cause in err.chain().skip(1) {
        let text = without_backtrace(&cause.to_string());
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
    }
    msg
}

/// `text` without the stack frames candle appends to its errors when `RUST_BACKTRACE` is set
/// (indented `N: function` and `at file:line` lines): the message is for the user, and the
/// hint after the frames must stay visible.
fn without_backtrace(text: &str) -> String {
    let is_frame = |line: &str| {
        let trimmed = line.trim_start();
        if trimmed.len() == line.len() {
            return false;
        }
        let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
        (digits > 0 && trimmed[digits..].starts_with(": ")) || trimmed.starts_with("at ")
    };
    if !text.lines().any(is_frame) {
        return text.to_owned();
    }
    // The frames come after a blank line; drop it with them.
    text.lines()
        .filter(|line| !is_frame(line) && !line.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A closed pipe (`distill-eval score ... | head`) is not an error (ripgrep `main.rs`).
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backtrace_frames_are_dropped_and_the_hint_kept() {
        let text = "weights do not match: shape mismatch\n\n   0: candle_core::error::Error::bt\n             at /src/error.rs:10:5\n  12: distill_eval::main\nhint: check the checkpoint";
        assert_eq!(
            without_backtrace(text),
            "weights do not match: shape mismatch\nhint: check the checkpoint"
        );
        let plain = "cannot read x.npy: line 3: label 1.5 is not a class id\nhint: fix it";
        assert_eq!(without_backtrace(plain), plain);
    }
}
