//! Extent tree encode/walk round trips and corruption handling.

use std::collections::HashMap;

use mapfs_format::extent::Extent;
use mapfs_format::inode::INODE_DATA_SIZE;
use mapfs_format::layout::Geometry;
use mapfs_format::tree::{self, TreeCtx, TreeError, TreeItem, WalkError};
use proptest::prelude::*;

struct Disk {
    blocks: HashMap<u64, Vec<u8>>,
}

fn build(extents: &[Extent], geo: &Geometry, first_tree_block: u64) -> (Vec<u8>, Disk, Vec<u64>) {
    let bs = geo.block_size();
    let p = tree::plan(extents.len(), bs).unwrap();
    let blocks: Vec<u64> = (0..p.blocks as u64).map(|i| first_tree_block + i).collect();
    let mut root = vec![0u8; INODE_DATA_SIZE];
    let mut scratch = vec![0u8; bs as usize];
    let mut disk = Disk {
        blocks: HashMap::new(),
    };
    let ctx = TreeCtx {
        geo,
        ino: 7,
        seed: 99,
    };
    tree::encode::<()>(
        &ctx,
        extents,
        &blocks,
        &mut root,
        &mut scratch,
        |b, data| {
            disk.blocks.insert(b, data.to_vec());
            Ok(())
        },
    )
    .unwrap();
    (root, disk, blocks)
}

fn walk(
    root: &[u8],
    disk: &Disk,
    geo: &Geometry,
    strict: bool,
) -> Result<(Vec<Extent>, Vec<u64>), WalkError<()>> {
    let bs = geo.block_size() as usize;
    let depth = tree::root_depth(root).map_err(|e| WalkError::Corrupt {
        block: None,
        error: e,
    })?;
    let mut scratch = vec![0u8; bs * usize::from(depth)];
    let mut ext = Vec::new();
    let mut nodes = Vec::new();
    let ctx = TreeCtx {
        geo,
        ino: 7,
        seed: 99,
    };
    tree::walk(
        &ctx,
        root,
        strict,
        &mut scratch,
        |b, buf| match disk.blocks.get(&b) {
            Some(d) => {
                buf.copy_from_slice(d);
                Ok(())
            }
            None => Err(()),
        },
        |item| {
            match item {
                TreeItem::Node { disk_block, .. } => nodes.push(disk_block),
                TreeItem::Extent(e) => ext.push(e),
            }
            Ok(())
        },
    )?;
    Ok((ext, nodes))
}

/// `n` fragmented extents: one block each, every other block.
fn fragmented(n: usize, data_start: u64) -> Vec<Extent> {
    (0..n as u64)
        .map(|i| Extent {
            file_block: i * 3,
            disk_block: data_start + 2 * i,
            len: 1,
            unwritten: i % 5 == 0,
        })
        .collect()
}

fn roundtrip(n: usize, log_bs: u32) {
    let geo = Geometry::compute(log_bs, 1 << 22, 1024).unwrap();
    let ext = fragmented(n, geo.data_start);
    let first_tree = geo.data_start + 2 * n as u64 + 10;
    let (root, disk, blocks) = build(&ext, &geo, first_tree);
    let (got, mut nodes) = walk(&root, &disk, &geo, true).unwrap();
    assert_eq!(got, ext);
    nodes.sort();
    assert_eq!(nodes, blocks);
}

#[test]
fn roundtrip_sizes() {
    for log in 10..=12 {
        for n in [0usize, 1, 2, 9, 10, 63, 64, 567, 568, 1000] {
            roundtrip(n, log);
        }
    }
}

#[test]
fn roundtrip_100k_at_1k() {
    let p = tree::plan(100_000, 1024).unwrap();
    assert_eq!(p.depth, 3);
    assert_eq!(p.blocks, 1588 + 26 + 1);
    roundtrip(100_000, 10);
}

#[test]
fn plan_limits() {
    // 2^32 one-block extents fit a depth-5 tree at every block size.
    for bs in [1024, 2048, 4096] {
        assert!(tree::plan(1 << 32, bs).is_ok());
    }
    assert_eq!(tree::plan(9, 1024).unwrap().blocks, 0);
    assert_eq!(tree::plan(10, 1024).unwrap().depth, 1);
}

#[test]
fn corruption_detected() {
    let geo = Geometry::compute(10, 1 << 20, 1024).unwrap();
    let ext = fragmented(700, geo.data_start);
    let (root, disk, blocks) = build(&ext, &geo, geo.data_start + 5000);
    // Any flipped byte in any tree block is detected in strict mode.
    for &b in blocks.iter().take(3).chain(blocks.iter().rev().take(2)) {
        for pos in (0..1024).step_by(37) {
            let mut d = Disk {
                blocks: disk.blocks.clone(),
            };
            d.blocks.get_mut(&b).unwrap()[pos] ^= 0x10;
            assert!(walk(&root, &d, &geo, true).is_err(), "block {b} pos {pos}");
        }
    }
    // Non-strict mode reports bad checksums instead.
    let mut d = Disk {
        blocks: disk.blocks.clone(),
    };
    d.blocks.get_mut(&blocks[0]).unwrap()[1020] ^= 1;
    assert!(matches!(
        walk(&root, &d, &geo, true),
        Err(WalkError::Corrupt {
            error: TreeError::BadChecksum { .. },
            ..
        })
    ));
    assert!(walk(&root, &d, &geo, false).is_ok());
    // Extent out of the data area.
    let bad = vec![Extent {
        file_block: 0,
        disk_block: 1,
        len: 1,
        unwritten: false,
    }];
    let (root, disk, _) = build(&bad, &geo, geo.data_start);
    assert!(matches!(
        walk(&root, &disk, &geo, true),
        Err(WalkError::Corrupt {
            error: TreeError::OutOfRange,
            ..
        })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_lists_roundtrip(gaps in proptest::collection::vec((0u64..5, 1u32..4, 0u64..3, any::<bool>()), 0..800), log in 10u32..=12) {
        let geo = Geometry::compute(log, 1 << 22, 1024).unwrap();
        let mut fb = 0;
        let mut disk = geo.data_start;
        let mut ext = Vec::new();
        for (g, len, dg, unwritten) in gaps {
            fb += g;
            disk += dg;
            ext.push(Extent { file_block: fb, disk_block: disk, len, unwritten });
            fb += u64::from(len);
            disk += u64::from(len);
        }
        let (root, d, _) = build(&ext, &geo, geo.data_start + 10_000);
        let (got, _) = walk(&root, &d, &geo, true).unwrap();
        prop_assert_eq!(got, ext);
    }
}
