// expect: E0308
//! Issue 11, item 5: `iomap_zero_range` on a directory, on an inode being
//! evicted, or without `i_rwsem` and `invalidate_lock` (from inside a
//! mapping hook: a deadlock on the folio lock). `zero_range` takes a
//! `FileGuard`, which only the wrappers make, for a regular file whose two
//! locks they hold; a directory's `Locked` is not one.
#![forbid(unsafe_code)]

use crate::kfs::iomap::zero_range;
use crate::kfs::vfs::Locked;
use crate::MapFs;
use kernel::prelude::*;

pub(crate) fn zero_dir(dir: &Locked<MapFs>) -> Result {
    zero_range(dir, 0, 4096)?;
    Ok(())
}
