// expect: E0603
//! Issue 11, item 7: the filesystem names no raw binding or C helper: the
//! module-local bindings are private to the wrapper tree (`crate::kfs`).
#![forbid(unsafe_code)]

use crate::kfs::bindings::kfs_helper_i_size_write;

pub(crate) fn f() -> usize {
    kfs_helper_i_size_write as usize
}
