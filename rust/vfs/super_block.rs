// SPDX-License-Identifier: GPL-2.0

//! Super blocks (`struct super_block`).
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).

use super::FileSystem;
use core::marker::PhantomData;
use kernel::{bindings, str::CStrExt, types::Opaque};

/// A super block that `fill_super` is setting up.
///
/// It is borrowed for the duration of [`FileSystem::fill_super`]: the VFS holds
/// `s_umount` for writing and the super block is not yet visible to anyone else.
#[repr(transparent)]
pub struct NewSuperBlock<T: FileSystem> {
    sb: Opaque<bindings::super_block>,
    _p: PhantomData<T>,
}

impl<T: FileSystem> NewSuperBlock<T> {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point at a super block being filled by `fill_super` for a
    /// filesystem of type `T`, valid for the lifetime `'a`, and no other Rust
    /// reference to it may exist during `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::super_block) -> &'a mut Self {
        // SAFETY: `Self` is `repr(transparent)` over `Opaque<super_block>`, and
        // the caller guarantees validity and exclusivity for `'a`.
        unsafe { &mut *ptr.cast::<Self>() }
    }

    /// The device the filesystem is being mounted from, as the kernel names it
    /// (`s_id`, e.g. `vdb`).
    pub fn id(&self) -> &kernel::str::CStr {
        // SAFETY: `s_id` is a NUL-terminated array filled in by `sget_fc`
        // before `fill_super` runs, and lives as long as the super block.
        unsafe { kernel::str::CStr::from_char_ptr((*self.sb.get()).s_id.as_ptr()) }
    }
}
