// SPDX-License-Identifier: GPL-2.0

//! Directory iteration (`struct dir_context`, `dir_emit`).
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).

use crate::kfs::bindings as b;

/// The reader of a directory: `getdents(2)` through `iterate_shared`.
///
/// Its position ([`Self::pos`]) is the filesystem's cookie for "where to go on
/// from"; `telldir`/`seekdir` hand it back unchanged, so it must stay meaningful
/// while entries are added and removed.
pub struct DirEmitter {
    ctx: *mut b::dir_context,
}

impl DirEmitter {
    /// # Safety
    ///
    /// `ctx` must be the `dir_context` passed to `iterate_shared`, valid and
    /// used by no one else until this value is dropped.
    pub(crate) unsafe fn new(ctx: *mut b::dir_context) -> Self {
        Self { ctx }
    }

    /// The position to continue from.
    pub fn pos(&self) -> i64 {
        // SAFETY: `ctx` is valid and ours (type invariant).
        unsafe { (*self.ctx).pos }
    }

    /// Sets the position to continue from after the entry just emitted.
    pub fn set_pos(&mut self, pos: i64) {
        // SAFETY: `ctx` is valid and ours (type invariant).
        unsafe { (*self.ctx).pos = pos };
    }

    /// Emits one entry; `false` means the reader's buffer is full: stop
    /// without advancing the position.
    pub fn emit(&mut self, name: &[u8], ino: u64, dtype: u8) -> bool {
        let Ok(len) = i32::try_from(name.len()) else {
            return false;
        };
        // SAFETY: `ctx` is valid and ours; `name` is valid for `len` bytes for
        // the duration of the call (dir_emit copies it).
        unsafe {
            b::mapfs_helper_dir_emit(self.ctx, name.as_ptr().cast(), len, ino, u32::from(dtype))
        }
    }
}
