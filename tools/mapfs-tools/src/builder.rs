//! Creating files in an image through the format code.
//!
//! mkfs uses this to create the root directory and `/lost+found`; the tests
//! use it to populate images with real content (files with contiguous or
//! fragmented extents, nested directories, symlinks, hard links) for fsck to
//! check. Bitmaps are kept in memory and written by [`Builder::commit`].

use mapfs_format::xattr;
use mapfs_format::dir;
use mapfs_format::extent::{mapped_blocks, Extent};
use mapfs_format::inode::{FileType, Inode, Timestamp};
use mapfs_format::layout::ROOT_INO;
use mapfs_format::symlink;
use mapfs_format::tree;

use crate::dev::Device;
use crate::fs::{insert_extent, BitmapAlloc, Fs, FsError};

/// Adds files to a filesystem.
#[derive(Debug)]
pub struct Builder<D> {
    /// The filesystem.
    pub fs: Fs<D>,
    /// Inode bitmap (in memory until commit).
    pub inodes: BitmapAlloc,
    /// Block bitmap (in memory until commit).
    pub blocks: BitmapAlloc,
    /// Timestamp given to new inodes.
    pub now: i64,
    next_generation: u32,
}

impl<D: Device> Builder<D> {
    /// Opens a filesystem and loads its bitmaps.
    pub fn open(dev: D) -> Result<Self, FsError> {
        let mut fs = Fs::open(dev)?;
        let inodes = fs.read_bitmap(fs.sb.inode_bitmap, u64::from(fs.sb.inode_count))?;
        let blocks = fs.read_bitmap(fs.sb.block_bitmap, fs.sb.block_count)?;
        let now = fs.sb.write_time;
        Ok(Self {
            fs,
            inodes,
            blocks,
            now,
            next_generation: 1,
        })
    }

    /// Writes bitmaps and superblock counts, syncs, and returns the device.
    pub fn commit(mut self) -> Result<D, FsError> {
        let (ir, br) = (self.fs.sb.inode_bitmap, self.fs.sb.block_bitmap);
        self.fs.write_bitmap(&self.inodes, ir)?;
        self.fs.write_bitmap(&self.blocks, br)?;
        self.fs.sb.free_inodes = u32::try_from(self.inodes.count_free()).unwrap_or(0);
        self.fs.sb.free_blocks = self.blocks.count_free();
        self.fs.write_sb()?;
        self.fs.dev.sync()?;
        Ok(self.fs.dev)
    }

    fn new_inode(&mut self, ft: FileType, perm: u16) -> Result<(u32, Inode), FsError> {
        let (ino, _) = self.inodes.alloc(1, 1, 1).ok_or(FsError::NoSpace)?;
        let ino = u32::try_from(ino).map_err(|_| FsError::NoSpace)?;
        // A fresh slot: no attributes left from an earlier inode.
        self.fs.clear_inode(ino)?;
        self.fs.write_ext(ino, &mapfs_format::xattr::InodeExt::default())?;
        let t = Timestamp {
            sec: self.now,
            nsec: 0,
        };
        let mut inode = Inode {
            mode: ft.mode_bits() | (perm & 0o7777),
            nlink: 1,
            atime: t,
            mtime: t,
            ctime: t,
            crtime: t,
            generation: self.next_generation,
            ..Inode::default()
        };
        self.next_generation += 1;
        tree::init_root(&mut inode.data).map_err(|e| FsError::Tree(ino, None, e))?;
        Ok((ino, inode))
    }

    /// Allocates `n` blocks as extents near `goal` (as few runs as the free
    /// space allows), mapping file blocks from `first_fb`.
    fn alloc_extents(&mut self, first_fb: u64, n: u64, goal: u64) -> Result<Vec<Extent>, FsError> {
        let mut out = Vec::new();
        let mut fb = first_fb;
        let mut left = n;
        let mut goal = goal;
        let max_run = u64::from(mapfs_format::extent::MAX_EXTENT_LEN);
        while left > 0 {
            let (s, l) = self
                .blocks
                .alloc(self.fs.geo.data_start, goal, left.min(max_run))
                .ok_or(FsError::NoSpace)?;
            let len = u32::try_from(l).map_err(|_| FsError::NoSpace)?;
            insert_extent(
                &mut out,
                Extent {
                    file_block: fb,
                    disk_block: s,
                    len,
                    unwritten: false,
                },
            )?;
            fb += l;
            left -= l;
            goal = s + l;
        }
        Ok(out)
    }

    /// Writes the extent tree and the inode.
    fn finish_inode(&mut self, ino: u32, inode: &mut Inode, ext: &[Extent]) -> Result<(), FsError> {
        let tb = self.fs.write_tree(ino, inode, ext, &[], &mut self.blocks)?;
        inode.blocks = mapped_blocks(ext) + tb.len() as u64;
        self.fs.write_inode(ino, inode)?;
        Ok(())
    }

    fn link_into(
        &mut self,
        parent: u32,
        name: &str,
        ino: u32,
        ft: FileType,
    ) -> Result<(), FsError> {
        self.fs
            .dir_add(parent, name.as_bytes(), ino, ft, &mut self.blocks)
    }

    fn bump_nlink(&mut self, ino: u32, delta: i32) -> Result<(), FsError> {
        let mut i = self.fs.read_inode(ino)?;
        i.nlink = i.nlink.saturating_add_signed(delta);
        self.fs.write_inode(ino, &i)?;
        Ok(())
    }

    /// Gives inode `ino` the extended attributes `list` (entries back to
    /// back, see [`mapfs_format::xattr`]): the in-inode part and, when they
    /// do not all fit there, an xattr block counted in the inode's blocks.
    /// The inode must have none yet.
    pub fn set_xattrs(&mut self, ino: u32, list: &[u8]) -> Result<(), FsError> {
        let bad = |e: xattr::XattrError| FsError::Other(format!("inode {ino}: extended attributes: {e}"));
        xattr::check_list(list).map_err(bad)?;
        let bs = self.fs.geo.block_size();
        let cut = xattr::split(list);
        let mut block = 0;
        if xattr::placement(list, bs).map_err(bad)? {
            let lo = self.fs.geo.data_start;
            block = self.blocks.alloc(lo, lo, 1).ok_or(FsError::NoSpace)?.0;
            let mut buf = vec![0u8; self.fs.bs];
            xattr::encode_block(&mut buf, self.fs.seed, ino, block, &list[cut..]).map_err(bad)?;
            self.fs.write_block(block, &buf)?;
            let mut inode = self.fs.read_inode(ino)?;
            inode.blocks += 1;
            self.fs.write_inode(ino, &inode)?;
        }
        let ext = xattr::InodeExt::new(&list[..cut], block).map_err(bad)?;
        self.fs.write_ext(ino, &ext)?;
        Ok(())
    }

    /// Creates the root directory (inode 1, its own parent).
    pub fn make_root(&mut self, perm: u16) -> Result<u32, FsError> {
        let (ino, mut inode) = self.new_inode(FileType::Directory, perm)?;
        if ino != ROOT_INO {
            return Err(FsError::Other(format!("root got inode {ino}")));
        }
        self.init_dir(ino, ino, &mut inode)?;
        inode.nlink = 2;
        self.finish_inode_keep(ino, &inode)
    }

    fn finish_inode_keep(&mut self, ino: u32, inode: &Inode) -> Result<u32, FsError> {
        self.fs.write_inode(ino, inode)?;
        Ok(ino)
    }

    fn init_dir(&mut self, ino: u32, parent: u32, inode: &mut Inode) -> Result<(), FsError> {
        let goal = self.fs.geo.data_start;
        let ext = self.alloc_extents(0, 1, goal)?;
        let db = ext[0].disk_block;
        let mut buf = vec![0u8; self.fs.bs];
        dir::init_first_block(&mut buf, self.fs.seed, ino, parent)
            .map_err(|e| FsError::Dir(ino, e))?;
        self.fs.write_block(db, &buf)?;
        inode.size = self.fs.bs as u64;
        self.finish_inode(ino, inode, &ext)
    }

    /// Creates directory `name` in `parent`.
    pub fn mkdir(&mut self, parent: u32, name: &str, perm: u16) -> Result<u32, FsError> {
        let (ino, mut inode) = self.new_inode(FileType::Directory, perm)?;
        inode.nlink = 2;
        self.init_dir(ino, parent, &mut inode)?;
        self.link_into(parent, name, ino, FileType::Directory)?;
        self.bump_nlink(parent, 1)?;
        Ok(ino)
    }

    /// Creates a regular file with `data`, stored contiguously where free
    /// space allows.
    pub fn create_file(&mut self, parent: u32, name: &str, data: &[u8]) -> Result<u32, FsError> {
        let (ino, mut inode) = self.new_inode(FileType::Regular, 0o644)?;
        let bs = self.fs.bs;
        let n = data.len().div_ceil(bs) as u64;
        let ext = self.alloc_extents(0, n, self.fs.geo.data_start)?;
        for (i, chunk) in data.chunks(bs).enumerate() {
            let db = crate::fs::map_block(&ext, i as u64).ok_or(FsError::NoSpace)?;
            let mut buf = vec![0u8; bs];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.fs.write_block(db, &buf)?;
        }
        inode.size = data.len() as u64;
        self.finish_inode(ino, &mut inode, &ext)?;
        self.link_into(parent, name, ino, FileType::Regular)?;
        Ok(ino)
    }

    /// Creates a regular file of `n` one-block extents at every other file
    /// block and every other free disk block (so nothing merges), every
    /// third extent unwritten: a fragmented file with a multi-level tree.
    pub fn create_fragmented(&mut self, parent: u32, name: &str, n: u64) -> Result<u32, FsError> {
        let (ino, mut inode) = self.new_inode(FileType::Regular, 0o600)?;
        let mut ext: Vec<Extent> = Vec::new();
        let mut goal = self.fs.geo.data_start;
        for i in 0..n {
            let (b, _) = self
                .blocks
                .alloc(self.fs.geo.data_start, goal, 1)
                .ok_or(FsError::NoSpace)?;
            let fill = vec![(i % 251) as u8; self.fs.bs];
            self.fs.write_block(b, &fill)?;
            ext.push(Extent {
                file_block: 2 * i,
                disk_block: b,
                len: 1,
                unwritten: i % 3 == 2,
            });
            goal = b + 2;
        }
        inode.size = 2 * n * self.fs.bs as u64;
        self.finish_inode(ino, &mut inode, &ext)?;
        self.link_into(parent, name, ino, FileType::Regular)?;
        Ok(ino)
    }

    /// Creates a regular file of `n` one-block extents at consecutive file
    /// and disk blocks, alternately written (even file blocks) and
    /// unwritten (odd ones), so that none merge: the most extents `n`
    /// blocks can hold. Every block holds `k % 251` on disk (`k` its file
    /// block), so an unwritten block that did not read as zeros shows.
    /// Blocks are written in runs, one write per run.
    pub fn create_striped(&mut self, parent: u32, name: &str, n: u64) -> Result<u32, FsError> {
        let (ino, mut inode) = self.new_inode(FileType::Regular, 0o644)?;
        let runs = self.alloc_extents(0, n, self.fs.geo.data_start)?;
        let bs = self.fs.bs;
        let mut ext = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
        for run in &runs {
            for k in 0..u64::from(run.len) {
                let fb = run.file_block + k;
                ext.push(Extent {
                    file_block: fb,
                    disk_block: run.disk_block + k,
                    len: 1,
                    unwritten: fb % 2 == 1,
                });
            }
            // One write per 4096 blocks of the run.
            let mut k = 0u64;
            while k < u64::from(run.len) {
                let m = (u64::from(run.len) - k).min(4096);
                let mut buf = vec![0u8; m as usize * bs];
                for (j, block) in buf.chunks_mut(bs).enumerate() {
                    block.fill(((run.file_block + k + j as u64) % 251) as u8);
                }
                self.fs.write_block(run.disk_block + k, &buf)?;
                k += m;
            }
        }
        inode.size = n * bs as u64;
        self.finish_inode(ino, &mut inode, &ext)?;
        self.link_into(parent, name, ino, FileType::Regular)?;
        Ok(ino)
    }

    /// Creates a symbolic link (inline when short, else in one block).
    pub fn symlink(&mut self, parent: u32, name: &str, target: &str) -> Result<u32, FsError> {
        let (ino, mut inode) = self.new_inode(FileType::Symlink, 0o777)?;
        let t = target.as_bytes();
        if symlink::is_inline_len(t.len()) {
            symlink::set_inline(&mut inode, t).map_err(|e| FsError::Other(e.to_string()))?;
            self.fs.write_inode(ino, &inode)?;
        } else {
            symlink::set_block_target(&mut inode, t.len(), self.fs.geo.block_size())
                .map_err(|e| FsError::Other(e.to_string()))?;
            let ext = self.alloc_extents(0, 1, self.fs.geo.data_start)?;
            let mut buf = vec![0u8; self.fs.bs];
            buf[..t.len()].copy_from_slice(t);
            self.fs.write_block(ext[0].disk_block, &buf)?;
            self.finish_inode(ino, &mut inode, &ext)?;
        }
        self.link_into(parent, name, ino, FileType::Symlink)?;
        Ok(ino)
    }

    /// Creates a character device, FIFO or socket node (no data).
    pub fn mknod(
        &mut self,
        parent: u32,
        name: &str,
        ft: FileType,
        rdev: u32,
    ) -> Result<u32, FsError> {
        let (ino, mut inode) = self.new_inode(ft, 0o644)?;
        inode.data = [0; mapfs_format::inode::INODE_DATA_SIZE];
        inode.rdev = rdev;
        self.fs.write_inode(ino, &inode)?;
        self.link_into(parent, name, ino, ft)?;
        Ok(ino)
    }

    /// Adds a hard link to a non-directory.
    pub fn link(&mut self, parent: u32, name: &str, ino: u32) -> Result<(), FsError> {
        let inode = self.fs.read_inode(ino)?;
        let ft = inode.file_type().ok_or(FsError::Other("bad mode".into()))?;
        self.link_into(parent, name, ino, ft)?;
        self.bump_nlink(ino, 1)
    }
}
