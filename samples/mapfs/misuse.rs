// SPDX-License-Identifier: GPL-2.0

//! Misuse on purpose, compiled only into the test variant of the module
//! (`--cfg mapfs_misuse`, built by `tools/misuse`, never by `make
//! modules`): safe code doing what safe code can do and a filesystem must
//! not, so that a test shows what the wrappers then guarantee. Each misuse
//! is asked for by a name or a mount option no real use has:
//!
//! - looking up `misuse-leak-ref` leaks a reference to the inode found
//!   (`mem::forget` of an `ARef`): the wrappers must keep the module loaded
//!   after the unmount, so that the inode the VFS keeps stays valid;
//! - looking up `misuse-sleep-in-rcu` reads a block inside an RCU read-side
//!   section: the types cannot stop it, the debug kernel must report it
//!   (`CONFIG_DEBUG_ATOMIC_SLEEP`);
//! - `-o misuse=errno`: the option hook answers `ERESTARTSYS`, which the
//!   wrappers must turn into `EIO` with a line in dmesg;
//! - `-o misuse=maxbytes`: `fill_super` sets a negative `s_maxbytes`,
//!   which the wrappers must keep within what the VFS accepts;
//! - `-o misuse=isize`: every regular file read in gets the size -1,
//!   which the wrappers must refuse (`EUCLEAN`) rather than install as
//!   `i_size`.
//!
//! The misuse a mount option asks for is returned by [`set_option`] and
//! kept in [`crate::Options`]; the module name and the filesystem name stay
//! `mapfs`, so the variant is loaded in a VM boot of its own.

#![forbid(unsafe_code)]

use crate::kfs::vfs::{INode, NewINode, NewSuperBlock};
use crate::{MapFs, Options};
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};
use kernel::{prelude::*, sync::aref::ARef};

/// The choices of the `misuse=` mount option, in order.
pub(crate) const CHOICES: &[&CStr] = &[c"errno", c"maxbytes", c"isize"];

/// `misuse=errno`.
const ERRNO: usize = 0;
/// `misuse=maxbytes`.
const MAXBYTES: usize = 1;
/// `misuse=isize`.
const ISIZE: usize = 2;

/// Whether the last mount asked for `misuse=isize` (the test variant is
/// mounted once at a time).
static NEGATIVE_SIZE: AtomicBool = AtomicBool::new(false);

/// Records `misuse=CHOICE`: an error for the one that misuses the option
/// hook itself.
pub(crate) fn set_option(options: &mut Options, choice: usize) -> Result {
    if choice == ERRNO {
        return Err(ERESTARTSYS);
    }
    options.misuse = Some(choice);
    Ok(())
}

/// After `fill_super`: the misuse the mount options ask for.
pub(crate) fn after_fill_super(sb: &mut NewSuperBlock<MapFs>, options: &Options) {
    if options.misuse == Some(MAXBYTES) {
        pr_info!("{}: misuse: s_maxbytes set to -1\n", sb.id());
        sb.set_max_bytes(-1);
    }
    NEGATIVE_SIZE.store(options.misuse == Some(ISIZE), Relaxed);
}

/// The size a regular file read in from disk gets: -1 with `misuse=isize`.
pub(crate) fn inode_size(new: &NewINode<MapFs>, regular: bool, size: i64) -> i64 {
    if regular && NEGATIVE_SIZE.load(Relaxed) {
        pr_info!("{}: misuse: inode {} read in with size -1\n", new.super_block().id(), new.ino());
        return -1;
    }
    size
}

/// After a lookup of `name` in `dir` found `found`.
pub(crate) fn after_lookup(dir: &INode<MapFs>, name: &[u8], found: &Option<ARef<INode<MapFs>>>) {
    match name {
        b"misuse-leak-ref" => {
            if let Some(inode) = found {
                pr_info!("{}: misuse: leaking a reference to inode {}\n", dir.super_block().id(), inode.ino());
                core::mem::forget(inode.clone());
            }
        }
        b"misuse-sleep-in-rcu" => {
            pr_info!("{}: misuse: reading a block under rcu_read_lock\n", dir.super_block().id());
            // Block 0 first outside: in the buffer cache, so the read
            // inside is the fast path, which sleeps only in principle.
            drop(dir.super_block().read_block(0));
            let _rcu = kernel::sync::rcu::read_lock();
            drop(dir.super_block().read_block(0));
        }
        _ => {}
    }
}
