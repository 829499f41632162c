// SPDX-License-Identifier: GPL-2.0

//! Printing values that implement only `core::fmt::Display` with `pr_*!`.
//!
//! The kernel's print macros take `kernel::fmt::Display`, which the kernel
//! implements for its own and the primitive types. Types that know nothing of
//! the kernel (the on-disk format, shared with userspace) implement
//! `core::fmt::Display`; wrap them in [`Shown`] to print them.

/// Prints its content through `core::fmt::Display`.
pub struct Shown<T>(pub T);

impl<T: core::fmt::Display> kernel::fmt::Display for Shown<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.0, f)
    }
}
