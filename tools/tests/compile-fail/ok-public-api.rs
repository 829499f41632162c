// expect: ok
//! Positive control: what a filesystem legitimately does with the wrapper
//! types compiles, so the failures of the other cases are theirs alone.
#![forbid(unsafe_code)]
#![allow(dead_code)]

use crate::kfs::iomap::{truncate_page, zero_range};
use crate::kfs::vfs::{FileGuard, INode, INodeView, Locked, MountOption, NewSuperBlock, OptionKind, OptionValue, SuperBlock};
use crate::MapFs;
use kernel::{prelude::*, sync::aref::ARef};

fn take_ref(inode: &INode<MapFs>) -> ARef<INode<MapFs>> {
    ARef::from(inode)
}

fn view(inode: &INodeView<MapFs>) -> u64 {
    inode.ino() + inode.block_bits() as u64
}

fn zero(file: &FileGuard<MapFs>) -> Result {
    zero_range(file, 0, 1)?;
    truncate_page(file, 0)?;
    Ok(())
}

fn dir_size(dir: &Locked<MapFs>) -> Result {
    dir.set_size(0)
}

fn read_then_resize(sb: &mut NewSuperBlock<MapFs>) -> Result {
    {
        let buf = sb.read_block(0)?;
        let _bytes = buf.lock()?.data().len();
    }
    sb.set_block_size(4096)
}

fn buffer(sb: &SuperBlock<MapFs>) -> Result<usize> {
    let buf = sb.read_block(1)?;
    let guard = buf.lock()?;
    Ok(guard.data().len())
}

fn acls_while_filling(sb: &mut NewSuperBlock<MapFs>) -> Result {
    sb.enable_posix_acl()
}

fn answer(out: &mut crate::kfs::vfs::XattrValue<'_>, list: &mut crate::kfs::vfs::XattrList<'_>) -> Result {
    out.put(b"value")?;
    list.push(crate::kfs::vfs::XattrNamespace::User, b"name")
}

// A mount option with a 'static name (mount-option-name-borrowed's control).
const OPTION: MountOption = MountOption { name: c"flag", kind: OptionKind::Choice(&[c"a", c"b"]) };

fn option_value(v: OptionValue) -> Option<usize> {
    match v {
        OptionValue::Choice(i) => Some(i),
        OptionValue::Flag | OptionValue::U32(_) => None,
    }
}
