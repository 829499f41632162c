// SPDX-License-Identifier: GPL-2.0

//! Mounting mapfs: reading and checking the super block.

use crate::kfs::vfs::{FileSystem, NewSuperBlock};
use kernel::prelude::*;

/// The mapfs filesystem type.
pub(crate) struct MapFs;

impl FileSystem for MapFs {
    const NAME: &'static CStr = c"mapfs";

    fn fill_super(sb: &mut NewSuperBlock<Self>) -> Result {
        // Mounting arrives with the read-write filesystem; until then the type
        // is registered but refuses every mount with a reason.
        pr_err!("{}: mounting is not supported by this build of mapfs\n", sb.id().to_str().unwrap_or("?"));
        Err(EOPNOTSUPP)
    }
}
