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
/// (our errors name their source in their own message).
fn message(err: &anyhow::Error) -> String {
    let mut msg = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
    }
    msg
}

/// A closed pipe (`distill-eval score ... | head`) is not an error (ripgrep `main.rs`).
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
