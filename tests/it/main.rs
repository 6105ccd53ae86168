//! End-to-end tests of the `distill-eval` binary.
