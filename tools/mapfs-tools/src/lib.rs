//! mkfs.mapfs and fsck.mapfs, as a library (the binaries are thin wrappers)
//! plus a builder that creates files in an image, used by mkfs and tests,
//! and a structure-aware image corrupter ([`corrupt`]) for tests.

pub mod builder;
pub mod cli;
pub mod corrupt;
pub mod dev;
pub mod fs;
pub mod fsck;
pub mod mkfs;
pub mod mount;
pub mod probe;
