//! Shared bodies of the tcpkit fuzz targets (see `targets`), so that the
//! cargo-fuzz targets and the stable seeded drivers run the same code.

#[path = "abi.rs"]
pub mod abi;
#[path = "targets.rs"]
pub mod targets;
