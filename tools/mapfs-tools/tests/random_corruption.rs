//! fsck on randomly corrupted small images: it must never panic, a repair
//! must leave a clean filesystem unless it said what it could not fix, and
//! a repaired filesystem must stay clean.

mod common;

use common::*;
use mapfs_format::dir;
use mapfs_format::inode::Inode;
use mapfs_format::layout::{INODE_SIZE, ROOT_INO};
use mapfs_format::tree;
use mapfs_tools::dev::MemDev;

/// Metadata blocks worth damaging: bitmaps, inode table blocks holding
/// in-use inodes, directory blocks, extent tree blocks, symlink blocks.
fn targets(dev: MemDev, s: &Sample) -> (MemDev, Vec<u64>) {
    let mut fs = open(dev);
    let mut v: Vec<u64> = (fs.sb.inode_bitmap.start..fs.sb.inode_table.start + 8).collect();
    for ino in [
        ROOT_INO,
        2,
        s.a,
        s.b,
        s.frag,
        s.small_frag,
        s.link_long,
        s.big,
    ] {
        let inode = fs.read_inode(ino).unwrap();
        let (e, t) = fs.read_extents(ino, &inode).unwrap();
        v.extend(t);
        if inode.mode & 0o170000 != 0o100000 {
            v.extend(e.iter().flat_map(|e| e.disk_block..e.disk_end()));
        }
    }
    (fs.dev, v)
}

/// Where things are in the undamaged image.
struct Places {
    targets: Vec<u64>,
    frag_tree: Vec<u64>,
    dir0: Vec<(u32, u64)>,
    seed: u32,
}

fn places(dev: MemDev, s: &Sample) -> (MemDev, Places) {
    let (dev, targets) = targets(dev, s);
    let (dev, _, frag_tree) = extents(dev, s.frag);
    let mut dir0 = Vec::new();
    let mut dev = dev;
    for d in [ROOT_INO, s.a, s.b] {
        let (d2, b) = dir_block(dev, d, 0);
        dev = d2;
        dir0.push((d, b));
    }
    let seed = open(dev.clone()).seed;
    (
        dev,
        Places {
            targets,
            frag_tree,
            dir0,
            seed,
        },
    )
}

/// One random kind of damage.
fn damage(mut dev: MemDev, rng: &mut Rng, p: &Places, s: &Sample) -> MemDev {
    let targets = &p.targets;
    let bs = block_size(&dev) as usize;
    match rng.below(10) {
        // Flip a few random bits in a metadata block.
        0..=3 => {
            let b = targets[rng.below(targets.len() as u64) as usize] as usize;
            for _ in 0..=rng.below(6) {
                let off = rng.below(bs as u64) as usize;
                dev.data[b * bs + off] ^= 1 << rng.below(8);
            }
            dev
        }
        // Overwrite a metadata block with junk.
        4 => {
            let b = targets[rng.below(targets.len() as u64) as usize] as usize;
            for i in 0..bs {
                dev.data[b * bs + i] = rng.next() as u8;
            }
            dev
        }
        // Change an inode field, keeping the checksum valid.
        5 | 6 => {
            let inos = [
                ROOT_INO,
                2,
                s.a,
                s.b,
                s.frag,
                s.small_frag,
                s.link_long,
                s.link_short,
                s.big,
                s.hello,
                s.fifo,
                s.deep,
            ];
            let ino = inos[rng.below(inos.len() as u64) as usize];
            let field = rng.below(INODE_SIZE as u64 - 4) as usize;
            let v = rng.next() as u8;
            edit_inode(dev, ino, |i| {
                let mut raw = [0u8; INODE_SIZE];
                i.encode(&mut raw, 0, 0).unwrap();
                raw[field] = v;
                *i = Inode::decode_raw(&raw).unwrap();
            })
        }
        // Change a directory record, keeping the checksum valid.
        7 | 8 => {
            let (d, db) = p.dir0[rng.below(3) as usize];
            let off = rng.below(64) as usize * 4 + rng.below(8) as usize;
            let blk = &mut dev.data[db as usize * bs..(db as usize + 1) * bs];
            blk[off] = rng.next() as u8;
            let _ = dir::set_csum(blk, p.seed, d);
            dev
        }
        // Change a tree block entry, keeping the checksum valid.
        _ => {
            let tb = p.frag_tree[rng.below(p.frag_tree.len() as u64) as usize] as usize;
            let off = rng.below(bs as u64 - 4) as usize;
            dev.data[tb * bs + off] = rng.next() as u8;
            tree::set_block_csum(
                p.seed,
                s.frag,
                tb as u64,
                &mut dev.data[tb * bs..(tb + 1) * bs],
            )
            .unwrap();
            dev
        }
    }
}

#[test]
fn random_corruption_1k() {
    run(1024, 4 << 20, 700, 300, 0x5EED);
}

#[test]
fn random_corruption_4k() {
    run(4096, 8 << 20, 300, 150, 0xF00D);
}

fn run(bs: u32, size: usize, frag: u64, rounds: u64, seed: u64) {
    let (base, s) = populate(mem_fs(size, bs), frag);
    let (base, p) = places(base, &s);
    let mut rng = Rng(seed);
    let mut repaired = 0;
    for round in 0..rounds {
        let mut dev = base.clone();
        for _ in 0..=rng.below(3) {
            dev = damage(dev, &mut rng, &p, &s);
        }
        let (r1, dev) = check(dev);
        assert!(
            r1.exit == 0 || r1.exit == 4,
            "round {round}: -n exit {}",
            r1.exit
        );
        let (r2, dev) = repair(dev);
        match r2.exit {
            0 => assert_eq!(r1.exit, 0, "round {round}"),
            1 => {
                repaired += 1;
                let (r3, dev) = check(dev);
                assert_eq!(
                    r3.exit,
                    0,
                    "round {round}: not clean after repair:\n{}\n--- repair said:\n{}",
                    show(&r3),
                    show(&r2)
                );
                let (r4, _) = repair(dev);
                assert_eq!(r4.exit, 0, "round {round}");
            }
            4 => assert!(
                r2.unfixed > 0 && r2.lines.iter().any(|l| l.contains("cannot be fixed")),
                "round {round}:\n{}",
                show(&r2)
            ),
            e => panic!("round {round}: exit {e}"),
        }
    }
    assert!(repaired > rounds / 3, "only {repaired} repairs");
}

#[test]
fn random_superblock_damage() {
    let (base, _) = populate(mem_fs(1 << 20, 1024), 20);
    let mut rng = Rng(77);
    for round in 0..200 {
        let mut dev = base.clone();
        for _ in 0..=rng.below(4) {
            let off = rng.below(1024) as usize;
            dev.data[off] ^= 1 << rng.below(8);
        }
        let (r1, dev) = check(dev);
        assert!(r1.exit == 0 || r1.exit == 4, "round {round}");
        let (r2, dev) = repair(dev);
        if r2.exit == 1 {
            let (r3, _) = check(dev);
            assert_eq!(
                r3.exit,
                0,
                "round {round}:\n{}\n--- repair said:\n{}",
                show(&r3),
                show(&r2)
            );
        } else {
            assert!(r2.exit == 0 || r2.unfixed > 0, "round {round}");
        }
    }
}
