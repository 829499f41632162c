//! 20,000 random or mutated blocks through every decoder: nothing may
//! panic (the test profile has overflow checks on, like the kernel).

use mapfs_format::bitmap;
use mapfs_format::dir;
use mapfs_format::extent::{Extent, ExtentList};
use mapfs_format::inode::Inode;
use mapfs_format::layout::{Geometry, INODE_SIZE};
use mapfs_format::super_block::{backup_sb_block, Superblock};
use mapfs_format::symlink;
use mapfs_format::tree::{self, NodeKind, TreeCtx};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

const SEED: u32 = 0x1234;
const INO: u32 = 9;

/// Valid structures of every kind for block size `bs`, to mutate.
fn seeds(bs: usize, geo: &Geometry) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut sb = vec![0u8; bs.max(1024)];
    Superblock::new(geo, [3; 16], [0; 32], 5)
        .encode(&mut sb)
        .unwrap();
    out.push(sb);
    let mut ino = vec![0u8; bs];
    let mut inode = Inode {
        mode: 0o100644,
        nlink: 1,
        ..Inode::default()
    };
    let ext: Vec<Extent> = (0..40u64)
        .map(|i| Extent {
            file_block: 3 * i,
            disk_block: geo.data_start + 2 * i,
            len: 1,
            unwritten: i % 2 == 0,
        })
        .collect();
    let p = tree::plan(ext.len(), bs as u32).unwrap();
    let blocks: Vec<u64> = (0..p.blocks as u64)
        .map(|i| geo.data_start + 500 + i)
        .collect();
    let mut scratch = vec![0u8; bs];
    let mut tree_blocks = Vec::new();
    let ctx = TreeCtx {
        geo,
        ino: INO,
        seed: SEED,
    };
    tree::encode::<()>(
        &ctx,
        &ext,
        &blocks,
        &mut inode.data,
        &mut scratch,
        |_, d| {
            tree_blocks.push(d.to_vec());
            Ok(())
        },
    )
    .unwrap();
    inode.encode(&mut ino, SEED, INO).unwrap();
    out.push(ino);
    out.extend(tree_blocks);
    let mut d = vec![0u8; bs];
    dir::init_first_block(&mut d, SEED, INO, 1).unwrap();
    for i in 0..20 {
        let _ = dir::insert(&mut d, SEED, INO, 100 + i, format!("name{i}").as_bytes(), 1);
    }
    out.push(d);
    let mut b = vec![0u8; bs];
    bitmap::init_block(SEED, 2, &mut b, 1000).unwrap();
    out.push(b);
    out
}

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    match rng.below(4) {
        0 => v.iter_mut().for_each(|b| *b = rng.next() as u8),
        _ => {
            for _ in 0..=rng.below(8) {
                let i = rng.below(v.len() as u64) as usize;
                v[i] = if rng.below(2) == 0 {
                    rng.next() as u8
                } else {
                    v[i] ^ (1 << rng.below(8))
                };
            }
        }
    }
    v
}

fn exercise(rng: &mut Rng, buf: &[u8], others: &[Vec<u8>], geo: &Geometry) {
    let bs = geo.block_size() as usize;
    // Superblock.
    if let Ok(sb) = Superblock::decode_raw(buf) {
        let _ = sb.validate(rng.next());
        let _ = sb.validate(u64::MAX);
        let _ = sb.label_bytes();
        let _ = backup_sb_block(&sb);
        let other = Superblock::decode_raw(rng.pick(others).as_slice()).unwrap_or(sb);
        let _ = sb.static_difference(&other);
        let _ = sb.with_static_fields_of(&other).validate(rng.next());
    }
    let _ = Superblock::decode(buf);
    // Backup superblock candidates: any block, any block size.
    let _ = Superblock::decode_backup(buf, rng.next(), rng.below(16) as u32, rng.next());
    let _ = Superblock::decode_backup(buf, rng.next() >> 40, 10 + rng.below(3) as u32, u64::MAX);
    // Inode.
    if let Ok(i) = Inode::decode_raw(buf) {
        let _ = i.validate(geo.block_size());
        let _ = symlink::inline_target(&i);
        let _ = i.has_extents();
    }
    let _ = Inode::decode(buf, SEED, INO);
    let _ = Inode::decode(&buf[..INODE_SIZE.min(buf.len())], SEED, INO);
    // Tree nodes: as a root (first 156 bytes) and as a block.
    for kind in [NodeKind::Root, NodeKind::Block(geo.block_size())] {
        let _ = tree::check_header(buf, kind, None);
        let _ = tree::check_header(buf, kind, Some(rng.below(7) as u16));
    }
    for i in 0..300 {
        let _ = tree::leaf_entry(buf, i);
        let _ = tree::index_entry(buf, i);
    }
    let _ = tree::verify_block_csum(SEED, INO, rng.next(), buf);
    let root = &buf[..156.min(buf.len())];
    if let Ok(depth) = tree::root_depth(root) {
        let mut scratch = vec![0u8; bs * usize::from(depth)];
        let mut reads = 0u32;
        let ctx = TreeCtx {
            geo,
            ino: INO,
            seed: SEED,
        };
        let _ = tree::walk(
            &ctx,
            root,
            rng.below(2) == 0,
            &mut scratch,
            |_, out: &mut [u8]| {
                reads += 1;
                if reads > 2000 {
                    return Err(());
                }
                let src = rng.pick(others);
                let n = out.len().min(src.len());
                out[..n].copy_from_slice(&src[..n]);
                Ok(())
            },
            |_| Ok(()),
        );
    }
    // Extent list from leaf entries.
    let mut ext: Vec<Extent> = (0..20).filter_map(|i| tree::leaf_entry(buf, i)).collect();
    let n = ext.len();
    ext.resize(n + 4, Extent::default());
    if let Ok(mut l) = ExtentList::new(&mut ext, n) {
        let fb = rng.below(1 << 33);
        let _ = l.lookup(fb);
        let _ = l.insert(
            Extent {
                file_block: fb,
                disk_block: rng.next(),
                len: rng.next() as u32,
                unwritten: true,
            },
            |_| {},
        );
        let _ = l.mark_written(rng.below(1 << 33), rng.next());
        let _ = l.remove(rng.below(1 << 33), rng.next(), |_| {});
        l.merge_all();
    }
    // Directory block.
    if buf.len() >= 1024 {
        let _ = dir::check_block(buf);
        let _ = dir::verify_csum(buf, SEED, INO);
        let _ = dir::is_empty(buf);
        let _ = dir::find(buf, b"name3");
        for e in dir::iter_from(buf, rng.below(bs as u64 + 10) as usize) {
            let _ = e;
        }
        let mut copy = buf.to_vec();
        let _ = dir::insert(&mut copy, SEED, INO, 5, b"new-entry", 1);
        let _ = dir::remove(&mut copy, SEED, INO, (rng.below(bs as u64) as usize) & !3);
        let _ = dir::set_entry(
            &mut copy,
            SEED,
            INO,
            (rng.below(bs as u64) as usize) & !3,
            7,
            2,
        );
        let _ = dir::parse_record(buf, rng.below(bs as u64 + 16) as usize);
    }
    // Bitmap block.
    let _ = bitmap::verify_block_csum(SEED, 2, buf);
    if let Ok(bits) = bitmap::block_bits(buf) {
        let nbits = rng.below(bits.len() as u64 * 8 + 100);
        let _ = bitmap::count_free(bits, nbits);
        let _ = bitmap::find_free_run(bits, nbits, rng.next(), rng.below(100));
        let _ = bitmap::find_zero(bits, nbits, rng.next());
        let _ = bitmap::count_in_range(bits, rng.next(), rng.next(), true);
        let mut copy = bits.to_vec();
        let _ = bitmap::set_bits(&mut copy, rng.below(nbits + 10), rng.below(100));
        let _ = bitmap::clear_bits(&mut copy, rng.next(), rng.next());
    }
}

#[test]
fn random_blocks_never_panic() {
    let mut rng = Rng(42);
    let geos: Vec<Geometry> = (10..=12)
        .map(|log| Geometry::compute(log, 1 << 20, 4096).unwrap())
        .collect();
    let seeds: Vec<Vec<Vec<u8>>> = geos
        .iter()
        .map(|g| seeds(g.block_size() as usize, g))
        .collect();
    for _ in 0..20_000 {
        let k = rng.below(3) as usize;
        let geo = &geos[k];
        let base = rng.pick(&seeds[k]);
        let buf = mutate(&mut rng, base);
        let mut others: Vec<Vec<u8>> = seeds[k].clone();
        for _ in 0..4 {
            let src = rng.pick(&seeds[k]).clone();
            others.push(mutate(&mut rng, &src));
        }
        exercise(&mut rng, &buf, &others, geo);
        // Short and odd-sized buffers too.
        let cut = rng.below(buf.len() as u64) as usize;
        exercise(&mut rng, &buf[..cut], &others, geo);
    }
}
