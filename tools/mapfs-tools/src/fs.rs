//! Filesystem access for the tools, on top of the shared format code.

use std::fmt;
use std::io;

use mapfs_format::bitmap;
use mapfs_format::crc32c::fs_seed;
use mapfs_format::dir;
use mapfs_format::extent::{Extent, ExtentList};
use mapfs_format::inode::{FileType, Inode, InodeError, INODE_DATA_SIZE};
use mapfs_format::layout::{Geometry, Region, INODE_SIZE, SUPERBLOCK_SIZE};
use mapfs_format::xattr::{InodeExt, XattrError, EXT_OFFSET};
use mapfs_format::super_block::{backup_sb_block, SbError, Superblock};
use mapfs_format::tree::{self, TreeCtx, TreeItem, WalkError};

use crate::dev::Device;

/// Errors of the filesystem layer.
#[derive(Debug)]
pub enum FsError {
    /// I/O error.
    Io(io::Error),
    /// Bad superblock.
    Sb(SbError),
    /// Bad inode.
    Inode(u32, InodeError),
    /// Bad extent tree (inode, block or `None` for the root, error).
    Tree(u32, Option<u64>, tree::TreeError),
    /// Bad directory block.
    Dir(u32, dir::DirError),
    /// No free space or inodes.
    NoSpace,
    /// Anything else.
    Other(String),
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "I/O error: {e}"),
            Self::Sb(e) => write!(f, "superblock: {e}"),
            Self::Inode(i, e) => write!(f, "inode {i}: {e}"),
            Self::Tree(i, Some(b), e) => write!(f, "inode {i}: extent tree block {b}: {e}"),
            Self::Tree(i, None, e) => write!(f, "inode {i}: extent tree root: {e}"),
            Self::Dir(i, e) => write!(f, "directory {i}: {e}"),
            Self::NoSpace => write!(f, "no space left"),
            Self::Other(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for FsError {}

impl From<io::Error> for FsError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// An in-memory bitmap used as an allocator (blocks or inodes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitmapAlloc {
    /// The bits (1 = in use).
    pub bits: Vec<u8>,
    /// Number of valid bits.
    pub nbits: u64,
}

impl BitmapAlloc {
    /// All clear.
    pub fn new(nbits: u64) -> Self {
        Self {
            bits: vec![0; nbits.div_ceil(8) as usize],
            nbits,
        }
    }

    /// Bit value (false when out of range).
    pub fn get(&self, i: u64) -> bool {
        i < self.nbits && bitmap::test_bit(&self.bits, i).unwrap_or(false)
    }

    /// Sets or clears `start..start+len` (ignored when out of range).
    pub fn set_range(&mut self, start: u64, len: u64, v: bool) {
        if start.checked_add(len).is_some_and(|e| e <= self.nbits) {
            let _ = if v {
                bitmap::set_bits(&mut self.bits, start, len)
            } else {
                bitmap::clear_bits(&mut self.bits, start, len)
            };
        }
    }

    /// Number of clear bits.
    pub fn count_free(&self) -> u64 {
        bitmap::count_free(&self.bits, self.nbits)
    }

    /// Allocates a run of up to `max` near `goal` (within `lo..self.nbits`).
    pub fn alloc(&mut self, lo: u64, goal: u64, max: u64) -> Option<(u64, u64)> {
        let goal = goal.max(lo);
        let (s, l) = bitmap::find_free_run(&self.bits, self.nbits, goal, max)?;
        let (s, l) = if s < lo {
            // Wrapped below the allowed area: search it from `lo` only.
            let s = bitmap::find_zero(&self.bits, self.nbits, lo)?;
            (s, bitmap::zero_run_len(&self.bits, self.nbits, s, max))
        } else {
            (s, l)
        };
        self.set_range(s, l, true);
        Some((s, l))
    }
}

/// Open filesystem: device plus decoded superblock.
#[derive(Debug)]
pub struct Fs<D> {
    /// The device.
    pub dev: D,
    /// The superblock as last read or set.
    pub sb: Superblock,
    /// Validated geometry.
    pub geo: Geometry,
    /// Checksum seed.
    pub seed: u32,
    /// Block size in bytes.
    pub bs: usize,
}

impl<D: Device> Fs<D> {
    /// Reads and validates the superblock (magic, checksum, fields).
    pub fn open(mut dev: D) -> Result<Self, FsError> {
        let mut buf = vec![0u8; SUPERBLOCK_SIZE];
        dev.read_at(0, &mut buf)?;
        let sb = Superblock::decode(&buf).map_err(FsError::Sb)?;
        let geo = sb.validate(dev.size()).map_err(FsError::Sb)?;
        Ok(Self::with_superblock(dev, sb, geo))
    }

    /// Uses an already validated superblock.
    pub fn with_superblock(dev: D, sb: Superblock, geo: Geometry) -> Self {
        let bs = geo.block_size() as usize;
        Self {
            dev,
            seed: fs_seed(&sb.uuid),
            sb,
            geo,
            bs,
        }
    }

    /// Tree context for inode `ino`.
    pub fn tree_ctx(&self, ino: u32) -> TreeCtx<'_> {
        TreeCtx {
            geo: &self.geo,
            ino,
            seed: self.seed,
        }
    }

    /// Reads block `b`.
    pub fn read_block(&mut self, b: u64) -> io::Result<Vec<u8>> {
        let mut v = vec![0u8; self.bs];
        self.dev.read_at(block_offset(b, self.bs as u64)?, &mut v)?;
        Ok(v)
    }

    /// Writes block `b`.
    pub fn write_block(&mut self, b: u64, data: &[u8]) -> io::Result<()> {
        self.dev.write_at(block_offset(b, self.bs as u64)?, data)
    }

    /// Writes the superblock (with fresh checksum).
    pub fn write_sb(&mut self) -> io::Result<()> {
        let mut buf = vec![0u8; SUPERBLOCK_SIZE];
        self.sb
            .encode(&mut buf)
            .map_err(|e| io::Error::other(e.to_string()))?;
        self.dev.write_at(0, &buf)
    }

    /// Writes the superblock as it is in memory (with fresh checksum) to
    /// the backup superblock block, the rest of the block zeroed; nothing
    /// when the filesystem has no backup superblock. Returns the block.
    pub fn write_backup_sb(&mut self) -> io::Result<Option<u64>> {
        let Some(b) = backup_sb_block(&self.sb) else {
            return Ok(None);
        };
        let mut buf = vec![0u8; self.bs];
        self.sb
            .encode(&mut buf)
            .map_err(|e| io::Error::other(e.to_string()))?;
        self.write_block(b, &buf)?;
        Ok(Some(b))
    }

    fn inode_off(&self, ino: u32) -> io::Result<u64> {
        let (b, off) = self.geo.inode_location(ino).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("inode {ino} out of range"),
            )
        })?;
        block_offset(b, self.bs as u64)?
            .checked_add(off as u64)
            .ok_or_else(|| out_of_range(format!("inode {ino}")))
    }

    /// Raw 256 bytes of inode `ino`.
    pub fn read_inode_raw(&mut self, ino: u32) -> io::Result<[u8; INODE_SIZE]> {
        let mut buf = [0u8; INODE_SIZE];
        let off = self.inode_off(ino)?;
        self.dev.read_at(off, &mut buf)?;
        Ok(buf)
    }

    /// Reads and checksums inode `ino`.
    pub fn read_inode(&mut self, ino: u32) -> Result<Inode, FsError> {
        let raw = self.read_inode_raw(ino)?;
        Inode::decode(&raw, self.seed, ino).map_err(|e| FsError::Inode(ino, e))
    }

    /// Writes inode `ino`.
    pub fn write_inode(&mut self, ino: u32, inode: &Inode) -> io::Result<()> {
        let mut buf = [0u8; INODE_SIZE];
        inode
            .encode(&mut buf, self.seed, ino)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let off = self.inode_off(ino)?;
        self.dev.write_at(off, &buf)
    }

    /// Zeroes inode slot `ino` (frees it), extension included.
    pub fn clear_inode(&mut self, ino: u32) -> io::Result<()> {
        let off = self.inode_off(ino)?;
        self.dev.write_at(off, &vec![0u8; self.geo.inode_bytes()])
    }

    /// The whole slot of inode `ino` (256 or 512 bytes).
    pub fn read_slot(&mut self, ino: u32) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; self.geo.inode_bytes()];
        let off = self.inode_off(ino)?;
        self.dev.read_at(off, &mut buf)?;
        Ok(buf)
    }

    /// The extension of inode `ino`, checked (`Ok(None)` without the
    /// xattr feature).
    pub fn read_ext(&mut self, ino: u32) -> io::Result<Option<Result<InodeExt, XattrError>>> {
        if !self.geo.has_xattrs() {
            return Ok(None);
        }
        let slot = self.read_slot(ino)?;
        Ok(Some(InodeExt::decode(&slot, self.seed, ino)))
    }

    /// Writes the extension of inode `ino` (nothing without the xattr
    /// feature); the base inode is left as it is.
    pub fn write_ext(&mut self, ino: u32, ext: &InodeExt) -> io::Result<()> {
        if !self.geo.has_xattrs() {
            return Ok(());
        }
        let mut slot = self.read_slot(ino)?;
        ext.encode(&mut slot, self.seed, ino).map_err(|e| io::Error::other(e.to_string()))?;
        let off = self.inode_off(ino)?;
        self.dev.write_at(off + EXT_OFFSET as u64, &slot[EXT_OFFSET..])
    }

    /// Walks the extent tree of an inode (strict): its extents and tree blocks.
    pub fn read_extents(
        &mut self,
        ino: u32,
        inode: &Inode,
    ) -> Result<(Vec<Extent>, Vec<u64>), FsError> {
        let mut ext = Vec::new();
        let mut nodes = Vec::new();
        if !inode.has_extents() {
            return Ok((ext, nodes));
        }
        let depth = tree::root_depth(&inode.data).map_err(|e| FsError::Tree(ino, None, e))?;
        let mut scratch = vec![0u8; self.bs * usize::from(depth)];
        let geo = self.geo;
        let ctx = TreeCtx {
            geo: &geo,
            ino,
            seed: self.seed,
        };
        let bs = self.bs as u64;
        let dev = &mut self.dev;
        let r = tree::walk(
            &ctx,
            &inode.data,
            true,
            &mut scratch,
            |b, buf| dev.read_at(block_offset(b, bs)?, buf),
            |item| {
                match item {
                    TreeItem::Node { disk_block, .. } => nodes.push(disk_block),
                    TreeItem::Extent(e) => ext.push(e),
                }
                Ok(())
            },
        );
        match r {
            Ok(()) => Ok((ext, nodes)),
            Err(WalkError::Io(e)) => Err(FsError::Io(e)),
            Err(WalkError::Corrupt { block, error }) => Err(FsError::Tree(ino, block, error)),
        }
    }

    /// Writes `extents` as the extent tree of `inode` (root into
    /// `inode.data`, which the caller then writes), reusing the blocks of
    /// `old_tree` first, allocating more from `blocks` as needed and freeing
    /// leftovers there. Returns the new tree blocks. Does not change
    /// `inode.blocks`.
    pub fn write_tree(
        &mut self,
        ino: u32,
        inode: &mut Inode,
        extents: &[Extent],
        old_tree: &[u64],
        blocks: &mut BitmapAlloc,
    ) -> Result<Vec<u64>, FsError> {
        let p = tree::plan(extents.len(), self.geo.block_size())
            .map_err(|e| FsError::Tree(ino, None, e))?;
        let mut tb: Vec<u64> = old_tree.iter().copied().take(p.blocks).collect();
        for &b in old_tree.iter().skip(p.blocks) {
            blocks.set_range(b, 1, false);
        }
        let goal = extents.last().map_or(self.geo.data_start, |e| e.disk_end());
        while tb.len() < p.blocks {
            let (b, _) = blocks
                .alloc(self.geo.data_start, goal, 1)
                .ok_or(FsError::NoSpace)?;
            tb.push(b);
        }
        let mut root = [0u8; INODE_DATA_SIZE];
        let mut scratch = vec![0u8; self.bs];
        let geo = self.geo;
        let ctx = TreeCtx {
            geo: &geo,
            ino,
            seed: self.seed,
        };
        let bs = self.bs as u64;
        let dev = &mut self.dev;
        tree::encode(&ctx, extents, &tb, &mut root, &mut scratch, |b, data| {
            dev.write_at(block_offset(b, bs)?, data)
        })
        .map_err(|e| match e {
            WalkError::Io(e) => FsError::Io(e),
            WalkError::Corrupt { block, error } => FsError::Tree(ino, block, error),
        })?;
        inode.data = root;
        Ok(tb)
    }

    /// Adds entry `name -> ino` to directory `dir_ino`, extending the
    /// directory by one block (allocated from `blocks`) when no block has
    /// room. Writes the directory inode if it changed.
    pub fn dir_add(
        &mut self,
        dir_ino: u32,
        name: &[u8],
        ino: u32,
        ft: FileType,
        blocks: &mut BitmapAlloc,
    ) -> Result<(), FsError> {
        let mut d = self.read_inode(dir_ino)?;
        let (mut ext, old_tree) = self.read_extents(dir_ino, &d)?;
        let nblocks = d.size / self.bs as u64;
        for fb in 0..nblocks {
            let Some(db) = map_block(&ext, fb) else {
                continue;
            };
            let mut buf = self.read_block(db)?;
            match dir::insert(&mut buf, self.seed, dir_ino, ino, name, ft.dirent_type()) {
                Ok(_) => {
                    self.write_block(db, &buf)?;
                    return Ok(());
                }
                Err(dir::DirError::NoRoom) => {}
                Err(e) => return Err(FsError::Dir(dir_ino, e)),
            }
        }
        // Extend the directory.
        let goal = ext.last().map_or(self.geo.data_start, |e| e.disk_end());
        let (db, _) = blocks
            .alloc(self.geo.data_start, goal, 1)
            .ok_or(FsError::NoSpace)?;
        let mut buf = vec![0u8; self.bs];
        dir::init_block(&mut buf, self.seed, dir_ino).map_err(|e| FsError::Dir(dir_ino, e))?;
        dir::insert(&mut buf, self.seed, dir_ino, ino, name, ft.dirent_type())
            .map_err(|e| FsError::Dir(dir_ino, e))?;
        self.write_block(db, &buf)?;
        let new = Extent {
            file_block: nblocks,
            disk_block: db,
            len: 1,
            unwritten: false,
        };
        insert_extent(&mut ext, new)?;
        let tb = self.write_tree(dir_ino, &mut d, &ext, &old_tree, blocks)?;
        d.size = nblocks
            .checked_add(1)
            .and_then(|n| n.checked_mul(self.bs as u64))
            .ok_or(FsError::NoSpace)?;
        d.blocks = mapfs_format::extent::mapped_blocks(&ext) + tb.len() as u64;
        self.write_inode(dir_ino, &d)?;
        Ok(())
    }

    /// Reads the whole on-disk bitmap in `region` covering `nbits` bits.
    /// The region may be longer than the bitmap needs (the format only
    /// requires it to be large enough): blocks wholly past `nbits` hold
    /// only padding and are not read.
    pub fn read_bitmap(&mut self, region: Region, nbits: u64) -> io::Result<BitmapAlloc> {
        let mut out = BitmapAlloc::new(nbits);
        let per = mapfs_format::layout::bits_per_bitmap_block(self.geo.block_size());
        for i in 0..region.len {
            let Some((first, n)) = bitmap_block_span(per, nbits, i) else {
                break;
            };
            let blk = self.read_block(region.start.saturating_add(i))?;
            let Ok(bits) = bitmap::block_bits(&blk) else {
                continue;
            };
            // `per` is a multiple of 8, so whole bytes line up.
            let (byte0, full) = ((first / 8) as usize, (n / 8) as usize);
            if let (Some(dst), Some(src)) = (
                out.bits.get_mut(byte0..byte0.saturating_add(full)),
                bits.get(..full),
            ) {
                dst.copy_from_slice(src);
            }
            for k in (full as u64 * 8)..n {
                if bitmap::test_bit(bits, k) == Some(true) {
                    out.set_range(first + k, 1, true);
                }
            }
        }
        Ok(out)
    }

    /// Encodes bitmap block `i` of a bitmap covering `nbits` bits (padding
    /// bits set, checksum for disk block `region.start + i`).
    pub fn encode_bitmap_block(&self, map: &BitmapAlloc, region: Region, i: u64) -> Vec<u8> {
        let per = mapfs_format::layout::bits_per_bitmap_block(self.geo.block_size());
        let disk = region.start.saturating_add(i);
        let mut blk = vec![0u8; self.bs];
        // A block wholly past the bitmap is all padding (0 valid bits).
        let (first, n) = bitmap_block_span(per, map.nbits, i).unwrap_or((0, 0));
        let _ = bitmap::init_block(self.seed, disk, &mut blk, n);
        if let Ok(bits) = bitmap::block_bits_mut(&mut blk) {
            let (byte0, full) = ((first / 8) as usize, (n / 8) as usize);
            if let (Some(dst), Some(src)) = (
                bits.get_mut(..full),
                map.bits.get(byte0..byte0.saturating_add(full)),
            ) {
                dst.copy_from_slice(src);
            }
            for k in (full as u64 * 8)..n {
                if map.get(first + k) {
                    let _ = bitmap::set_bits(bits, k, 1);
                }
            }
        }
        let _ = bitmap::set_block_csum(self.seed, disk, &mut blk);
        blk
    }

    /// Writes a whole bitmap.
    pub fn write_bitmap(&mut self, map: &BitmapAlloc, region: Region) -> io::Result<()> {
        for i in 0..region.len {
            let blk = self.encode_bitmap_block(map, region, i);
            self.write_block(region.start + i, &blk)?;
        }
        Ok(())
    }
}

/// Byte offset of block `b`, or an error if it does not fit in 64 bits
/// (a block number read from a damaged disk can be anything).
fn block_offset(b: u64, bs: u64) -> io::Result<u64> {
    b.checked_mul(bs)
        .ok_or_else(|| out_of_range(format!("block {b}")))
}

fn out_of_range(what: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{what} is beyond any device"),
    )
}

/// The bits bitmap block `i` holds of a bitmap of `nbits` bits, `per` to
/// a block: (first bit, number of bits), or `None` when the block lies
/// wholly past the bitmap.
fn bitmap_block_span(per: u64, nbits: u64, i: u64) -> Option<(u64, u64)> {
    let first = i.checked_mul(per)?;
    let n = per.min(nbits.checked_sub(first)?);
    (n > 0).then_some((first, n))
}

/// Disk block of file block `fb` if mapped and written.
pub fn map_block(ext: &[Extent], fb: u64) -> Option<u64> {
    match mapfs_format::extent::lookup(ext, fb) {
        mapfs_format::extent::Mapping::Mapped {
            disk_block,
            unwritten: false,
            ..
        } => Some(disk_block),
        _ => None,
    }
}

/// Inserts `e` into a `Vec` extent list through [`ExtentList`], growing the
/// vector as needed (the pattern the kernel uses too).
pub fn insert_extent(ext: &mut Vec<Extent>, e: Extent) -> Result<(), FsError> {
    let len = ext.len();
    ext.resize(len + 2, Extent::default());
    let mut l = ExtentList::new(ext, len).map_err(|e| FsError::Other(e.to_string()))?;
    l.insert(e, |_| {})
        .map_err(|e| FsError::Other(e.to_string()))?;
    let n = l.len();
    ext.truncate(n);
    Ok(())
}
