//! Feeds arbitrary bytes to every mapfs decoder. The first byte picks the
//! block size; the rest is the block. Tree walks read further "blocks"
//! from the same input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mapfs_format::bitmap;
use mapfs_format::dir;
use mapfs_format::extent::{Extent, ExtentList};
use mapfs_format::inode::Inode;
use mapfs_format::layout::Geometry;
use mapfs_format::super_block::Superblock;
use mapfs_format::symlink;
use mapfs_format::tree::{self, NodeKind, TreeCtx};

const SEED: u32 = 0x1234;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, buf)) = data.split_first() else { return };
    let log = 10 + u32::from(sel % 3);
    let Ok(geo) = Geometry::compute(log, 1 << 20, 4096) else { return };
    let bs = geo.block_size() as usize;

    if let Ok(sb) = Superblock::decode_raw(buf) {
        let _ = sb.validate(u64::from(sel) << 30);
    }
    let _ = Superblock::decode(buf);
    if let Ok(i) = Inode::decode_raw(buf) {
        let _ = i.validate(geo.block_size());
        let _ = symlink::inline_target(&i);
    }
    let _ = Inode::decode(buf, SEED, 3);
    let _ = tree::check_header(buf, NodeKind::Block(geo.block_size()), None);
    if let Ok(depth) = tree::root_depth(buf) {
        let mut scratch = vec![0u8; bs * usize::from(depth)];
        let ctx = TreeCtx { geo: &geo, ino: 3, seed: SEED };
        let mut reads = 0usize;
        let _ = tree::walk(
            &ctx,
            buf,
            sel & 4 == 0,
            &mut scratch,
            |b, out: &mut [u8]| {
                reads += 1;
                if reads > 1000 {
                    return Err(());
                }
                let start = (b as usize).wrapping_mul(31) % buf.len().max(1);
                for (i, o) in out.iter_mut().enumerate() {
                    *o = buf.get((start + i) % buf.len().max(1)).copied().unwrap_or(0);
                }
                Ok(())
            },
            |_| Ok(()),
        );
    }
    let mut ext: Vec<Extent> = (0..16).filter_map(|i| tree::leaf_entry(buf, i)).collect();
    let n = ext.len();
    ext.resize(n + 4, Extent::default());
    if let Ok(mut l) = ExtentList::new(&mut ext, n) {
        let _ = l.lookup(u64::from(sel) * 7);
        let _ = l.insert(Extent { file_block: u64::from(sel), disk_block: 99, len: 5, unwritten: true }, |_| {});
        let _ = l.mark_written(0, 100);
        let _ = l.remove(3, 10, |_| {});
    }
    if buf.len() >= bs {
        let blk = &buf[..bs];
        let _ = dir::check_block(blk);
        let _ = dir::verify_csum(blk, SEED, 3);
        for e in dir::iter_from(blk, usize::from(sel) * 4) {
            let _ = e;
        }
        let mut copy = blk.to_vec();
        let _ = dir::insert(&mut copy, SEED, 3, 5, b"fuzz", 1);
        let _ = dir::remove(&mut copy, SEED, 3, usize::from(sel) * 4);
        let _ = bitmap::verify_block_csum(SEED, 1, blk);
        if let Ok(bits) = bitmap::block_bits(blk) {
            let _ = bitmap::find_free_run(bits, bits.len() as u64 * 8, u64::from(sel) * 13, 50);
            let _ = bitmap::count_free(bits, u64::MAX);
        }
    }
});
