//! Python bindings for tcpkit (module `tcpkit._native`).
//!
//! The full binding is in `native.rs`, written against the `stack::Stack`
//! API of docs/DESIGN.md; it becomes this crate's root once the `stack`
//! branch providing that API is merged (until then this placeholder keeps
//! the workspace compiling).
use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
