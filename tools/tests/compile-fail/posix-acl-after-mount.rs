// expect: E0599
//! `SB_POSIXACL` changes how the VFS treats the umask of every create:
//! it may only be set while the super block is being filled (through
//! `NewSuperBlock`, which no one else sees), never on a mounted one.
#![forbid(unsafe_code)]

use crate::kfs::vfs::SuperBlock;
use crate::MapFs;
use kernel::prelude::*;

pub(crate) fn later(sb: &SuperBlock<MapFs>) -> Result {
    sb.enable_posix_acl()
}
