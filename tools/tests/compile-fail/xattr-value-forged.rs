// expect: E0451
//! The `getxattr(2)` buffer protocol (size 0 asks for the size, a value
//! larger than the buffer is `ERANGE`) is kept by the wrapper's
//! `XattrValue`: a filesystem answers through `put` and cannot make one
//! of its own around a buffer, or claim a length it did not copy.
#![forbid(unsafe_code)]

use crate::kfs::vfs::XattrValue;

pub(crate) fn forge(buf: &mut [u8]) -> XattrValue<'_> {
    XattrValue { buf: Some(buf), len: Some(4096) }
}
