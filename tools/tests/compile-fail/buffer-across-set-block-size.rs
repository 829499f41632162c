// expect: E0502
//! Issue 11, item 5: a buffer head read at one block size and used after
//! `sb_set_blocksize` changed it. `Buffer<'sb>` borrows the super block;
//! `set_block_size` needs it mutably.
#![forbid(unsafe_code)]

use crate::kfs::vfs::NewSuperBlock;
use crate::MapFs;
use kernel::prelude::*;

pub(crate) fn fill(sb: &mut NewSuperBlock<MapFs>) -> Result {
    let buf = sb.read_block(0)?;
    sb.set_block_size(4096)?;
    let _len = buf.lock()?.data().len();
    Ok(())
}
