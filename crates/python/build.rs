//! macOS links a Python extension with `-undefined dynamic_lookup` (its symbols come from the
//! interpreter that loads it); a no-op elsewhere.
fn main() {
    pyo3_build_config::add_extension_module_link_args();
}
