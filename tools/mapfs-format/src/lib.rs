//! mapfs on-disk format, built for the host from the same source the kernel
//! module compiles (`samples/mapfs/format/`).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

#[path = "../../../samples/mapfs/format/mod.rs"]
mod format;
pub use format::*;
