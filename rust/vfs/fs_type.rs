// SPDX-License-Identifier: GPL-2.0

//! Filesystem types (`struct file_system_type`) mounted with the fs_context API
//! on a block device.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h).
//!
//! A filesystem implements [`FileSystem`] and keeps a [`Registration`] pinned in
//! its module (use [`kernel::InPlaceModule`]): `file_system_type` holds lockdep
//! class keys, which must live in static storage, and a module's data is static
//! storage for lockdep.
//!
//! ```ignore
//! struct MyFs;
//! impl FileSystem for MyFs {
//!     const NAME: &'static CStr = c"myfs";
//!     fn fill_super(sb: &mut NewSuperBlock<Self>) -> Result { /* read the disk */ }
//! }
//! ```

use super::NewSuperBlock;
use crate::kfs::bindings as b;
use core::marker::PhantomData;
use kernel::{error::from_result, prelude::*, str::CStrExt, types::Opaque, ThisModule};

/// A block-device filesystem.
pub trait FileSystem: Sized + Send + Sync + 'static {
    /// The name `mount -t` and `/proc/filesystems` use.
    const NAME: &'static CStr;

    /// Sets up a new super block from the device.
    ///
    /// Called by `get_tree_bdev` with `s_umount` held for writing, the block
    /// device opened and claimed for this super block. An error fails the mount
    /// with that errno; the VFS then tears the super block down.
    fn fill_super(sb: &mut NewSuperBlock<Self>) -> Result;
}

/// A registered filesystem type; unregistered when dropped.
#[pin_data(PinnedDrop)]
pub struct Registration<T: FileSystem> {
    #[pin]
    fs: Opaque<kernel::bindings::file_system_type>,
    _p: PhantomData<T>,
}

// SAFETY: After registration the VFS owns all mutation of the
// `file_system_type` (under its own locks); Rust code never touches it again
// until `unregister_filesystem`, which the VFS serialises too.
unsafe impl<T: FileSystem> Send for Registration<T> {}
// SAFETY: See `Send`: shared references expose no access to the C object.
unsafe impl<T: FileSystem> Sync for Registration<T> {}

impl<T: FileSystem> Registration<T> {
    /// Registers `T` as a filesystem type owned by `module`.
    pub fn new(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            fs <- Opaque::try_ffi_init(|ptr: *mut kernel::bindings::file_system_type| {
                // SAFETY: `try_ffi_init` hands us valid, writable, pinned
                // memory for a `file_system_type`. All-zero is its "empty"
                // value (no flags, NULL pointers, unlinked list heads).
                unsafe { ptr.write(kernel::bindings::file_system_type::default()) };
                // SAFETY: `ptr` was just initialised above and nothing else
                // refers to it yet.
                let fs = unsafe { &mut *ptr };
                fs.name = T::NAME.as_char_ptr();
                fs.fs_flags = b::FS_REQUIRES_DEV as i32;
                fs.owner = module.as_ptr();
                fs.init_fs_context = Some(Tables::<T>::init_fs_context);
                fs.kill_sb = Some(b::kill_block_super);
                // SAFETY: `ptr` is a fully initialised `file_system_type` in
                // pinned storage that outlives the registration (it is
                // unregistered in `drop` before the memory goes away).
                kernel::error::to_result(unsafe { b::register_filesystem(ptr) })
            }),
            _p: PhantomData,
        })
    }
}

#[pinned_drop]
impl<T: FileSystem> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `new` only returns once `register_filesystem` succeeded, so
        // the type is registered; the module cannot be unloaded while a super
        // block of this type exists (`owner` pins the module).
        unsafe { b::unregister_filesystem(self.fs.get()) };
    }
}

struct Tables<T: FileSystem>(PhantomData<T>);

impl<T: FileSystem> Tables<T> {
    const CONTEXT_OPS: b::fs_context_operations = b::fs_context_operations {
        get_tree: Some(Self::get_tree),
        // SAFETY: all-zero is a valid `fs_context_operations` (no callbacks).
        ..unsafe { core::mem::zeroed() }
    };

    /// # Safety
    ///
    /// Called by the VFS with a valid, newly allocated `fs_context` of this
    /// filesystem type.
    unsafe extern "C" fn init_fs_context(fc: *mut kernel::bindings::fs_context) -> kernel::ffi::c_int {
        let fc = fc.cast::<b::fs_context>();
        // SAFETY: `fc` is valid (guaranteed by the caller); `CONTEXT_OPS` is a
        // promoted constant and so lives for `'static`.
        unsafe { (*fc).ops = &Self::CONTEXT_OPS };
        0
    }

    /// # Safety
    ///
    /// Called by the VFS with the `fs_context` set up by `init_fs_context`.
    unsafe extern "C" fn get_tree(fc: *mut b::fs_context) -> kernel::ffi::c_int {
        // SAFETY: `fc` is valid (guaranteed by the caller) and `fill_super`
        // matches the callback type `get_tree_bdev` expects.
        unsafe { b::get_tree_bdev(fc, Some(Self::fill_super)) }
    }

    /// # Safety
    ///
    /// Called by `get_tree_bdev` with a new super block of this type, with
    /// `s_umount` held for writing.
    unsafe extern "C" fn fill_super(sb: *mut b::super_block, _fc: *mut b::fs_context) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: `sb` is a new super block of filesystem `T`, exclusively
            // ours until `fill_super` returns (caller guarantee).
            let sb = unsafe { NewSuperBlock::<T>::from_raw(sb) };
            T::fill_super(sb)?;
            Ok(0)
        })
    }
}
