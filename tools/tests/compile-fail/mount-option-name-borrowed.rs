// expect: E0597
//! The C parser keeps the name of every mount option (`fs_parameter_spec`)
//! for as long as the filesystem type is registered, so `MountOption` takes
//! only a `&'static CStr`: a name borrowed from a buffer that goes away
//! (here a local) cannot be put in the table.
#![forbid(unsafe_code)]

use crate::kfs::vfs::{MountOption, OptionKind};
use kernel::prelude::*;

pub(crate) fn option_named(bytes: [u8; 8]) -> Option<MountOption> {
    let local = bytes;
    let name = CStr::from_bytes_with_nul(&local).ok()?;
    Some(MountOption { name, kind: OptionKind::Flag })
}
