// SPDX-License-Identifier: GPL-2.0

//! Bindings for the kernel headers that `kernel::bindings` does not cover.
//!
//! `generated.rs` is written at build time by `gen.sh` from
//! `bindings_helper.h` and `bindgen_parameters`. It starts with a glob import of
//! `kernel::bindings`, so this module is a superset of it: a type that the
//! kernel crate defines completely is reused from there, and the types the
//! kernel crate knows only as opaque stubs (`fs_context`, `iomap_ops`,
//! `buffer_head`, ...) are defined here in full. Where a `kernel::bindings`
//! struct points at such a stub, the wrappers cast between the two views of the
//! same C type.

#![allow(
    dead_code,
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    unnecessary_transmutes,
    improper_ctypes,
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    clippy::ptr_as_ptr,
    clippy::ref_as_ptr,
    clippy::cast_lossless,
    clippy::as_underscore
)]

include!("generated.rs");
