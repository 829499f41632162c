//! mapfs-fsx: a randomized file-operation checker in the style of fsx.
//!
//! It runs random operations (pread, pwrite, mmap reads and writes,
//! ftruncate, fallocate in its modes, fsync, cache invalidation, remounts,
//! with `--direct` aligned O_DIRECT preads and pwrites, and with
//! `--shift-align` collapse and insert range) on one or more
//! files and compares every result with an in-memory model of each file's
//! bytes and size.  Nothing in it is specific to mapfs: the
//! same run on XFS or ext4 tells a mapfs bug from a test bug.
//!
//! The library exists so the parts can be unit-tested; the binary is a thin
//! wrapper around [`app::main_with_args`].

pub mod app;
pub mod cli;
pub mod gen;
pub mod model;
pub mod op;
pub mod prng;
pub mod report;
pub mod runner;
pub mod sys;
pub mod weights;
