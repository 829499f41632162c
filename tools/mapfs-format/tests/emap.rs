//! The leaf-structured extent map: every edit checked against a flat
//! extent list, every encode walked back from the "disk", only changed
//! blocks written, a million extents, and no change when memory runs out.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use mapfs_format::emap::{ExtentMap, MapError, NoMemory};
use mapfs_format::extent::{lookup, Extent, ExtentError, ExtentList, MAX_EXTENT_LEN};
use mapfs_format::inode::INODE_DATA_SIZE;
use mapfs_format::layout::Geometry;
use mapfs_format::tree::{self, TreeCtx, TreeItem};

mod common;
use common::{Host, Rng, FAIL_IN};

type Map = ExtentMap<Host>;

/// The same edits on a flat list (the code the map reuses per leaf).
#[derive(Default)]
struct Model(Vec<Extent>);

impl Model {
    fn edit(&mut self, f: impl FnOnce(&mut ExtentList<'_>) -> Result<(), ExtentError>) -> Result<(), ExtentError> {
        let n = self.0.len();
        self.0.resize(n + 3, Extent::default());
        let mut l = ExtentList::new_trusted(&mut self.0, n).unwrap();
        let r = f(&mut l);
        let len = l.len();
        self.0.truncate(len);
        r
    }
}

/// A tree on a simulated disk: block contents, and the blocks given out.
struct Disk {
    geo: Geometry,
    blocks: HashMap<u64, Vec<u8>>,
    next: u64,
    freed: HashSet<u64>,
    writes: usize,
    root: Vec<u8>,
}

impl Disk {
    fn new(log_bs: u32) -> Self {
        let geo = Geometry::compute(log_bs, 1 << 30, 1024).unwrap();
        let next = geo.data_start + (1 << 29);
        Self { geo, blocks: HashMap::new(), next, freed: HashSet::new(), writes: 0, root: vec![0; INODE_DATA_SIZE] }
    }

    /// Gives `m` the blocks it needs, encodes it, takes back what it does
    /// not use; returns the blocks written.
    fn sync(&mut self, m: &mut Map) -> usize {
        let need = m.blocks_needed().unwrap();
        while m.tree_blocks() < need {
            m.add_spare(self.next).unwrap();
            self.next += 1;
        }
        let before = self.writes;
        let ctx = TreeCtx { geo: &self.geo, ino: 7, seed: 99 };
        let mut scratch = vec![0u8; self.geo.block_size() as usize];
        let blocks = &mut self.blocks;
        let writes = &mut self.writes;
        m.encode::<NoMemory>(&ctx, &mut self.root, &mut scratch, |b, data| {
            blocks.insert(b, data.to_vec());
            *writes += 1;
            Ok(())
        })
        .unwrap();
        while let Some(b) = m.take_spare() {
            assert!(self.freed.insert(b), "block {b} given back twice");
        }
        assert_eq!(m.tree_blocks(), need, "the map keeps exactly the blocks its tree uses");
        assert_eq!(self.walk().1.len(), need, "the map counts the blocks of the tree on disk");
        self.writes - before
    }

    /// Walks the tree on disk: its extents, and its tree blocks.
    fn walk(&self) -> (Vec<Extent>, Vec<u64>) {
        let depth = tree::root_depth(&self.root).unwrap();
        let bs = self.geo.block_size() as usize;
        let mut scratch = vec![0u8; bs * usize::from(depth)];
        let ctx = TreeCtx { geo: &self.geo, ino: 7, seed: 99 };
        let (mut ext, mut nodes) = (Vec::new(), Vec::new());
        tree::walk::<()>(
            &ctx,
            &self.root,
            true,
            &mut scratch,
            |b, buf| {
                buf.copy_from_slice(self.blocks.get(&b).ok_or(())?);
                Ok(())
            },
            |item| {
                match item {
                    TreeItem::Node { disk_block, .. } => nodes.push(disk_block),
                    TreeItem::Extent(e) => ext.push(e),
                }
                Ok(())
            },
        )
        .unwrap();
        (ext, nodes)
    }

    /// The tree on disk holds `want`, and no block given back.
    fn check(&self, want: &[Extent]) {
        let (ext, nodes) = self.walk();
        assert_eq!(ext, want, "the tree on disk holds the map");
        for b in &nodes {
            assert!(!self.freed.contains(b), "the tree uses block {b}, given back");
        }
        let distinct: HashSet<_> = nodes.iter().collect();
        assert_eq!(distinct.len(), nodes.len(), "a tree block used twice");
    }
}

/// One random edit, on the map and on the model; both must agree.
fn random_edit(m: &mut Map, model: &mut Model, rng: &mut Rng, span: u64) -> Result<(), MapError> {
    let start = rng.below(span);
    let len = if rng.below(10) == 0 { 1 + rng.below(span / 4) } else { 1 + rng.below(8) };
    let (got, want) = match rng.below(12) {
        0..=5 => {
            // Contiguous disk blocks (disk = file + base) so neighbours merge.
            let base = if rng.below(3) == 0 { 1_000_000 + rng.below(50) * 4096 } else { 1_000_000 };
            let ext = Extent { file_block: start, disk_block: base + start, len: len as u32, unwritten: rng.below(3) == 0 };
            (m.insert(ext, |_| {}), model.edit(|l| l.insert(ext, |_| {})))
        }
        6..=8 => {
            let (mut a, mut b) = (0u64, 0u64);
            let got = m.remove(start, len, |r| a += r.len);
            let want = model.edit(|l| l.remove(start, len, |r| b += r.len));
            if got.is_ok() {
                assert_eq!(a, b, "blocks freed");
            }
            (got, want)
        }
        9 | 10 => (m.mark_written(start, len), model.edit(|l| l.mark_written(start, len))),
        _ => {
            let mapped = model.0.iter().any(|e| e.file_block < start + len && e.end() > start);
            if rng.below(2) == 0 {
                (m.shift_up(start, len), model.edit(|l| l.shift_up(start, len)))
            } else if !mapped {
                (m.shift_down(start, len), model.edit(|l| l.shift_down(start, len)))
            } else {
                // Collapse range unmaps first (a separate edit).
                (m.remove(start, len, |_| {}), model.edit(|l| l.remove(start, len, |_| {})))
            }
        }
    };
    match (&got, want) {
        (Ok(()), Ok(())) | (Err(MapError::NoMemory), _) => {}
        (Err(MapError::Extent(a)), Err(b)) => assert_eq!(*a, b),
        (g, w) => panic!("map said {g:?}, model {w:?}"),
    }
    got
}

fn same(m: &Map, model: &Model, rng: &mut Rng, span: u64) {
    let got: Vec<Extent> = m.iter().copied().collect();
    assert_eq!(got, model.0);
    assert_eq!(m.len(), model.0.len());
    assert_eq!(m.first(), model.0.first().copied());
    assert_eq!(m.last(), model.0.last().copied());
    for _ in 0..20 {
        let fb = rng.below(span + 10);
        assert_eq!(m.lookup(fb), lookup(&model.0, fb), "lookup of {fb}");
        let from: Vec<Extent> = m.iter_from(fb).copied().collect();
        let i = model.0.partition_point(|e| e.end() <= fb);
        assert_eq!(from, model.0[i..], "iter_from({fb})");
    }
}

fn model_check(log_bs: u32, seed: u64, ops: usize, span: u64) {
    let mut rng = Rng(seed);
    let mut m = Map::default();
    m.set_block_size(1 << log_bs);
    let mut model = Model::default();
    let mut disk = Disk::new(log_bs);
    for op in 0..ops {
        let _ = random_edit(&mut m, &mut model, &mut rng, span);
        if op % 50 == 0 {
            same(&m, &model, &mut rng, span);
        }
        if op % 97 == 0 {
            disk.sync(&mut m);
            disk.check(&model.0);
            assert!(!m.is_dirty());
        }
    }
    same(&m, &model, &mut rng, span);
    disk.sync(&mut m);
    disk.check(&model.0);
}

/// Inserts that continue the extent before them (appends, sequential
/// writes: edited in place) give what the general edit gives: merged with
/// the extent after them too when that one continues them, also when it is
/// the first of the next leaf; not merged across a change of state or past
/// the longest extent.
#[test]
fn appends_edit_in_place_as_the_general_edit_would() {
    let mut rng = Rng(5);
    let mut m = Map::default();
    m.set_block_size(1024);
    let mut model = Model::default();
    let mut disk = Disk::new(10);
    let base = 1_000_000u64;
    // Single blocks three apart, several leaves of them.
    let n = 400u64;
    for k in 0..n {
        let e = Extent { file_block: 3 * k, disk_block: base + 3 * k, len: 1, unwritten: false };
        m.insert(e, |_| {}).unwrap();
        model.edit(|l| l.insert(e, |_| {})).unwrap();
    }
    disk.sync(&mut m);
    assert!(m.leaf_count() > 3, "the test needs leaf boundaries");
    let edit = |m: &mut Map, model: &mut Model, e: Extent| {
        m.insert(e, |_| panic!("nothing is displaced")).unwrap();
        model.edit(|l| l.insert(e, |_| {})).unwrap();
    };
    for k in 0..n - 1 {
        let (fb, db) = (3 * k + 1, base + 3 * k + 1);
        match k % 4 {
            // Fills the gap: three extents become one (at a leaf's end
            // too, for some k).
            0 | 1 => edit(&mut m, &mut model, Extent { file_block: fb, disk_block: db, len: 2, unwritten: false }),
            // Half the gap: the extent grows, the next one stays apart.
            2 => edit(&mut m, &mut model, Extent { file_block: fb, disk_block: db, len: 1, unwritten: false }),
            // Unwritten: continues nothing.
            _ => edit(&mut m, &mut model, Extent { file_block: fb, disk_block: db, len: 2, unwritten: true }),
        }
        if k % 40 == 0 {
            same(&m, &model, &mut rng, 3 * n);
        }
    }
    same(&m, &model, &mut rng, 3 * n);
    disk.sync(&mut m);
    disk.check(&model.0);
    // Up to the longest extent, and one past it.
    let start = 3 * n + 10;
    let mut e = Extent { file_block: start, disk_block: base + start, len: MAX_EXTENT_LEN - 1, unwritten: false };
    edit(&mut m, &mut model, e);
    e = Extent { file_block: e.end(), disk_block: e.disk_end(), len: 1, unwritten: false };
    edit(&mut m, &mut model, e);
    e = Extent { file_block: e.end(), disk_block: e.disk_end(), len: 1, unwritten: false };
    edit(&mut m, &mut model, e);
    same(&m, &model, &mut rng, start + u64::from(MAX_EXTENT_LEN) + 10);
    assert_eq!(m.last().map(|e| e.len), Some(1), "no extent is longer than the longest");
}

#[test]
fn edits_match_a_flat_list_1k() {
    for seed in 1..=4 {
        model_check(10, seed * 7919, 6000, 20_000);
    }
}

#[test]
fn edits_match_a_flat_list_4k() {
    for seed in 1..=3 {
        model_check(12, seed * 104_729, 8000, 60_000);
    }
}

#[test]
fn small_files_live_in_the_root() {
    let mut m = Map::default();
    m.set_block_size(1024);
    let mut disk = Disk::new(10);
    let mut model = Model::default();
    for i in 0..20u64 {
        let e = Extent { file_block: i * 2, disk_block: 500_000 + i * 2, len: 1, unwritten: false };
        m.insert(e, |_| {}).unwrap();
        model.edit(|l| l.insert(e, |_| {})).unwrap();
    }
    assert!(disk.sync(&mut m) > 0);
    disk.check(&model.0);
    assert!(m.tree_blocks() > 0);
    // Down to nine extents: the root holds them, every tree block is given back.
    m.remove(0, 22, |_| {}).unwrap();
    model.edit(|l| l.remove(0, 22, |_| {})).unwrap();
    assert_eq!(m.len(), 9);
    assert_eq!(disk.sync(&mut m), 0);
    assert_eq!(m.tree_blocks(), 0);
    assert_eq!(tree::root_depth(&disk.root).unwrap(), 0);
    disk.check(&model.0);
    // And back up.
    m.insert(Extent { file_block: 0, disk_block: 700_000, len: 3, unwritten: true }, |_| {}).unwrap();
    model.edit(|l| l.insert(Extent { file_block: 0, disk_block: 700_000, len: 3, unwritten: true }, |_| {})).unwrap();
    assert!(disk.sync(&mut m) > 0);
    disk.check(&model.0);
}

/// `n` one-block extents with a hole after each.
fn fragmented(m: &mut Map, n: u64) {
    for i in 0..n {
        m.insert(Extent { file_block: 2 * i, disk_block: 1_000_000 + 2 * i, len: 1, unwritten: false }, |_| {}).unwrap();
    }
}

#[test]
fn writeback_writes_only_what_changed() {
    let mut m = Map::default();
    m.set_block_size(4096);
    let mut disk = Disk::new(12);
    fragmented(&mut m, 100_000);
    let all = disk.sync(&mut m);
    let leaves = m.leaf_count();
    assert!(all > leaves && leaves > 100_000 / 255, "{all} writes, {leaves} leaves");
    assert_eq!(disk.sync(&mut m), 0, "nothing changed, nothing written");
    // One extent in the middle of a leaf changes: one block.
    m.mark_written(100_001, 1).unwrap();
    m.remove(100_002, 1, |_| {}).unwrap();
    assert_eq!(disk.sync(&mut m), 1);
    // A new first extent of a leaf: the leaf and the index nodes above it.
    let mut want: Vec<Extent> = m.iter().copied().collect();
    want.retain(|e| e.file_block != 0);
    m.remove(0, 1, |_| {}).unwrap();
    let w = disk.sync(&mut m);
    assert!((1..=4).contains(&w), "{w} blocks written");
    disk.check(&want);
    // An edit spanning two leaves: those two (and the index above).
    let boundary = m.iter().nth(m.len() / 2 - m.len() / 2 % 100).unwrap().file_block;
    m.insert(Extent { file_block: boundary - 1, disk_block: 3_000_000, len: 3, unwritten: false }, |_| {}).unwrap();
    let w = disk.sync(&mut m);
    assert!(w <= 5, "{w} blocks written");
    disk.check(&m.iter().copied().collect::<Vec<_>>());
}

#[test]
fn repack_fits_the_planned_tree() {
    let mut m = Map::default();
    m.set_block_size(1024);
    let mut disk = Disk::new(10);
    let mut rng = Rng(42);
    // Random single-block inserts split leaves: they end up part full.
    let mut order: Vec<u64> = (0..5000).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    for &i in &order {
        m.insert(Extent { file_block: 2 * i, disk_block: 1_000_000 + 2 * i, len: 1, unwritten: false }, |_| {}).unwrap();
    }
    disk.sync(&mut m);
    let plan = tree::plan(m.len(), 1024).unwrap();
    assert!(m.blocks_needed().unwrap() > plan.blocks, "random inserts leave leaves part full");
    m.repack().unwrap();
    assert_eq!(m.blocks_needed().unwrap(), plan.blocks);
    disk.sync(&mut m);
    assert_eq!(m.tree_blocks(), plan.blocks);
    disk.check(&m.iter().copied().collect::<Vec<_>>());
}

#[test]
fn a_million_extents() {
    let mut m = Map::default();
    m.set_block_size(4096);
    let n = 1_000_000u64;
    fragmented(&mut m, n);
    assert_eq!(m.len(), n as usize);
    let mut rng = Rng(7);
    // Edits all over the file: a flat list would move megabytes per edit.
    let t = Instant::now();
    for _ in 0..50_000 {
        let i = rng.below(n);
        match rng.below(3) {
            0 => m.mark_written(2 * i, 1).unwrap(),
            1 => m.insert(Extent { file_block: 2 * i + 1, disk_block: 5_000_000 + 2 * i, len: 1, unwritten: true }, |_| {}).unwrap(),
            _ => m.remove(2 * i, 1, |_| {}).unwrap(),
        }
    }
    let edits = t.elapsed();
    assert!(edits.as_secs() < 60, "50,000 edits took {edits:?}");
    // Lookups agree with a flat copy.
    let flat: Vec<Extent> = m.iter().copied().collect();
    assert_eq!(flat.len(), m.len());
    for _ in 0..100_000 {
        let fb = rng.below(2 * n + 5);
        assert_eq!(m.lookup(fb), lookup(&flat, fb));
    }
    // Written and read back through the tree.
    let mut disk = Disk::new(12);
    disk.sync(&mut m);
    disk.check(&flat);
    m.remove(2 * 500_000, 1, |_| {}).unwrap();
    assert!(disk.sync(&mut m) <= 3);
    let bytes = m.footprint();
    eprintln!("1,000,000 extents: {} leaves, {bytes} bytes, 50,000 edits in {edits:?}", m.leaf_count());
    // 24 bytes an extent, leaves half full after random edits, a quarter
    // more arena than in use at most.
    assert!(bytes < 64 << 20, "{bytes} bytes for a million extents");
}

#[test]
fn small_files_take_little_memory() {
    for bs in [1024u32, 4096, 65536] {
        let mut m = Map::default();
        m.set_block_size(bs);
        m.insert(Extent { file_block: 0, disk_block: 1_000_000, len: 8, unwritten: false }, |_| {}).unwrap();
        assert!(m.footprint() <= 256, "{} bytes for one extent at {bs}-byte blocks", m.footprint());
        fragmented(&mut m, 40);
        assert!(m.footprint() <= 3 * 40 * 24, "{} bytes for 40 extents at {bs}-byte blocks", m.footprint());
    }
}

#[test]
fn loads_what_the_walk_reads() {
    // A tree encoded by the full encoder, loaded leaf by leaf, then edited
    // and written back incrementally.
    let mut disk = Disk::new(10);
    let geo = Geometry::compute(10, 1 << 30, 1024).unwrap();
    let ext: Vec<Extent> = (0..3000u64)
        .map(|i| Extent { file_block: 3 * i, disk_block: geo.data_start + 2 * i, len: 1, unwritten: i % 7 == 0 })
        .collect();
    let p = tree::plan(ext.len(), 1024).unwrap();
    let blocks: Vec<u64> = (0..p.blocks as u64).map(|i| geo.data_start + 100_000 + i).collect();
    let ctx = TreeCtx { geo: &disk.geo, ino: 7, seed: 99 };
    let mut scratch = vec![0u8; 1024];
    let mut root = vec![0u8; INODE_DATA_SIZE];
    tree::encode::<()>(&ctx, &ext, &blocks, &mut root, &mut scratch, |b, d| {
        disk.blocks.insert(b, d.to_vec());
        Ok(())
    })
    .unwrap();
    disk.root = root;
    let mut m = Map::default();
    m.set_block_size(1024);
    // Group the walk's extents by leaf, as iget does.
    let depth = tree::root_depth(&disk.root).unwrap();
    let mut wscratch = vec![0u8; 1024 * usize::from(depth)];
    let mut items = Vec::new();
    tree::walk::<()>(
        &ctx,
        &disk.root,
        true,
        &mut wscratch,
        |b, buf| {
            buf.copy_from_slice(&disk.blocks[&b]);
            Ok(())
        },
        |item| {
            items.push(item);
            Ok(())
        },
    )
    .unwrap();
    let mut leaf: Option<u64> = None;
    let mut pending = Vec::new();
    for item in items {
        match item {
            TreeItem::Node { disk_block, depth: 0, .. } => {
                m.load_leaf(leaf, &pending).unwrap();
                pending.clear();
                leaf = Some(disk_block);
            }
            TreeItem::Node { disk_block, .. } => m.load_index_block(disk_block).unwrap(),
            TreeItem::Extent(e) => pending.push(e),
        }
    }
    m.load_leaf(leaf, &pending).unwrap();
    assert!(!m.is_dirty());
    assert_eq!(m.tree_blocks(), p.blocks);
    assert_eq!(m.iter().copied().collect::<Vec<_>>(), ext);
    // The first change rewrites the index (laid out by another encoder)
    // and the changed leaf, reusing the blocks it has.
    let mut model = Model(ext.clone());
    let e = Extent { file_block: 4501, disk_block: geo.data_start + 50_000, len: 1, unwritten: false };
    m.insert(e, |_| {}).unwrap();
    model.edit(|l| l.insert(e, |_| {})).unwrap();
    let w = disk.sync(&mut m);
    assert!(w < p.blocks / 4, "{w} of {} blocks written", p.blocks);
    disk.check(&model.0);
    assert!(disk.next == geo.data_start + (1 << 29) || disk.next == geo.data_start + (1 << 29) + 1);
}

#[test]
fn no_memory_changes_nothing() {
    let mut rng = Rng(99);
    let mut m = Map::default();
    m.set_block_size(1024);
    let mut model = Model::default();
    let mut failures = 0;
    for op in 0..20_000u64 {
        FAIL_IN.with(|f| f.set(rng.below(6)));
        let before: Vec<Extent> = m.iter().copied().collect();
        let mut probe = Rng(op + 1);
        let mut scratch_model = Model(model.0.clone());
        let res = random_edit(&mut m, &mut scratch_model, &mut probe, 20_000);
        FAIL_IN.with(|f| f.set(u64::MAX));
        if res == Err(MapError::NoMemory) {
            failures += 1;
            assert_eq!(m.iter().copied().collect::<Vec<_>>(), before, "a failed edit changed the map");
        } else {
            model = scratch_model;
        }
        if op % 100 == 0 {
            same(&m, &model, &mut rng, 20_000);
        }
    }
    assert!(failures > 1000, "{failures} edits failed");
    same(&m, &model, &mut rng, 20_000);
}
