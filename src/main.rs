//! The `distill-eval` command line.
fn main() {}
