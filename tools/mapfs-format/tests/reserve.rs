//! The extent tree's reservation bound ([`mapfs_format::reserve`]) against
//! random sequences of every change a file's map goes through: writes and
//! faults (delayed allocations over holes, unwritten blocks handed out),
//! fallocate, direct writes, punches, writeback allocating delayed blocks
//! in fragments, and I/O completions converting dirty ranges (some
//! failing). At a change that may fail the reservation is set to the bound
//! (up or down, as the module does); a completion may only lower it. The
//! map must never hold more extents than the reservation covers.

use std::collections::BTreeSet;

use mapfs_format::emap::ExtentMap;
use mapfs_format::extent::{Extent, Mapping};
use mapfs_format::reserve::{extent_bound, Counts, Growth};

mod common;
use common::{Host, Rng};

/// How many extents a handed-out and a delayed block are counted as: the
/// module's bound, or a weaker one that the model must catch.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Policy {
    handout: u64,
    delalloc: u64,
}

const MODULE: Policy = Policy { handout: 2, delalloc: 3 };

impl Policy {
    fn bound(self, c: Counts, g: Growth) -> u64 {
        if self == MODULE {
            return extent_bound(c, g);
        }
        let by_blocks = c.data_blocks + c.delalloc + g.data_blocks;
        by_blocks.min(c.extents + self.handout * c.handed_out + self.delalloc * c.delalloc + g.extents)
    }

    fn delalloc(self, n: u64) -> Growth {
        match self {
            MODULE => Growth::delalloc(n),
            _ => Growth { data_blocks: n, extents: self.delalloc * n },
        }
    }

    fn handout(self, n: u64) -> Growth {
        match self {
            MODULE => Growth::handout(n),
            _ => Growth { data_blocks: 0, extents: self.handout * n },
        }
    }

    fn direct(self, n: u64) -> Growth {
        match self {
            MODULE => Growth::direct(n),
            _ => Growth { data_blocks: n, extents: 1 + self.handout * n },
        }
    }
}

/// What one block of the file is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Hole,
    Delalloc,
    Unwritten,
    Written,
}

struct File {
    map: ExtentMap<Host>,
    delalloc: BTreeSet<u64>,
    handed_out: BTreeSet<u64>,
    /// Blocks with data that has not reached the disk.
    dirty: BTreeSet<u64>,
    next_disk: u64,
    /// Extents the reservation covers.
    budget: u64,
    span: u64,
    policy: Policy,
}

impl File {
    fn new(span: u64, policy: Policy) -> Self {
        let mut map = ExtentMap::default();
        map.set_block_size(1024);
        Self {
            map,
            delalloc: BTreeSet::new(),
            handed_out: BTreeSet::new(),
            dirty: BTreeSet::new(),
            next_disk: 1000,
            budget: 0,
            span,
            policy,
        }
    }

    fn kind(&self, fb: u64) -> Kind {
        match self.map.lookup(fb) {
            Mapping::Mapped { unwritten: true, .. } => Kind::Unwritten,
            Mapping::Mapped { .. } => Kind::Written,
            Mapping::Hole { .. } if self.delalloc.contains(&fb) => Kind::Delalloc,
            Mapping::Hole { .. } => Kind::Hole,
        }
    }

    /// The blocks from `fb` on, at most `max`, of the same kind as `fb`.
    fn run(&self, fb: u64, max: u64) -> (Kind, u64) {
        let k = self.kind(fb);
        let mut n = 1;
        while n < max && fb + n < self.span && self.kind(fb + n) == k {
            n += 1;
        }
        (k, n)
    }

    fn counts(&self) -> Counts {
        Counts {
            data_blocks: self.map.iter().map(|e| u64::from(e.len)).sum(),
            extents: self.map.len() as u64,
            handed_out: self.handed_out.len() as u64,
            delalloc: self.delalloc.len() as u64,
        }
    }

    /// A change that may fail reserves: the reservation becomes the bound.
    fn reserve(&mut self, g: Growth) {
        self.budget = self.policy.bound(self.counts(), g);
    }

    /// After a completion the reservation may only shrink.
    fn trim(&mut self) {
        self.budget = self.budget.min(self.policy.bound(self.counts(), Growth::default()));
    }

    fn check(&self, what: &str) {
        assert!(
            self.map.len() as u64 <= self.budget,
            "{what}: {} extents, the reservation covers {}",
            self.map.len(),
            self.budget
        );
    }

    fn new_disk(&mut self, n: u64, rng: &mut Rng) -> u64 {
        let d = self.next_disk;
        // Mostly fragmented, sometimes contiguous with the previous piece.
        self.next_disk += n + rng.below(3);
        d
    }

    fn insert(&mut self, fb: u64, disk: u64, n: u64, unwritten: bool) {
        let ext = Extent { file_block: fb, disk_block: disk, len: n as u32, unwritten };
        self.map.insert(ext, |_| {}).unwrap();
    }

    /// A buffered write or a write fault at `fb`: a hole becomes a
    /// delayed allocation, unwritten blocks are handed out.
    fn write(&mut self, fb: u64, want: u64) {
        let (k, n) = self.run(fb, want);
        match k {
            Kind::Hole => {
                self.reserve(self.policy.delalloc(n));
                self.delalloc.extend(fb..fb + n);
            }
            Kind::Unwritten => {
                self.reserve(self.policy.handout(n));
                self.handed_out.extend(fb..fb + n);
            }
            Kind::Delalloc | Kind::Written => {}
        }
        self.check("write");
        self.dirty.extend(fb..fb + n);
    }

    fn fallocate(&mut self, fb: u64, want: u64, rng: &mut Rng) {
        let (k, n) = self.run(fb, want);
        if k != Kind::Hole {
            return;
        }
        self.reserve(Growth::new_extent(n));
        let disk = self.new_disk(n, rng);
        self.insert(fb, disk, n, true);
        self.check("fallocate");
    }

    /// A direct write into a hole: new unwritten blocks, handed out, whose
    /// data a completion converts.
    fn direct(&mut self, fb: u64, want: u64, rng: &mut Rng) {
        let (k, n) = self.run(fb, want);
        match k {
            Kind::Hole => {
                self.reserve(self.policy.direct(n));
                let disk = self.new_disk(n, rng);
                self.insert(fb, disk, n, true);
                self.handed_out.extend(fb..fb + n);
            }
            Kind::Unwritten => {
                self.reserve(self.policy.handout(n));
                self.handed_out.extend(fb..fb + n);
            }
            _ => return,
        }
        self.check("direct write");
        self.dirty.extend(fb..fb + n);
    }

    fn punch(&mut self, fb: u64, n: u64) {
        self.reserve(Growth::split());
        self.map.remove(fb, n, |_| {}).unwrap();
        for b in fb..fb + n {
            self.delalloc.remove(&b);
            self.handed_out.remove(&b);
            self.dirty.remove(&b);
        }
        self.check("punch");
    }

    /// Writeback reaches dirty block `fb` of a delayed allocation: its
    /// whole run gets blocks, unwritten, in fragments. No reservation.
    fn allocate(&mut self, fb: u64, rng: &mut Rng) {
        let mut start = fb;
        while start > 0 && self.delalloc.contains(&(start - 1)) {
            start -= 1;
        }
        let mut cur = start;
        while self.delalloc.contains(&cur) {
            let mut run = 1;
            while self.delalloc.contains(&(cur + run)) {
                run += 1;
            }
            let got = 1 + rng.below(run);
            let disk = self.new_disk(got, rng);
            self.insert(cur, disk, got, true);
            for b in cur..cur + got {
                self.delalloc.remove(&b);
                self.handed_out.insert(b);
            }
            cur += got;
            self.check("writeback allocation");
        }
    }

    /// An I/O completion for dirty mapped blocks `fb ..`: converted (or,
    /// on an error, left unwritten). No reservation.
    fn complete(&mut self, fb: u64, want: u64, error: bool) {
        let mut n = 0;
        while n < want
            && self.dirty.contains(&(fb + n))
            && matches!(self.kind(fb + n), Kind::Written | Kind::Unwritten)
        {
            n += 1;
        }
        if n == 0 {
            return;
        }
        if !error {
            self.map.mark_written(fb, n).unwrap();
            for b in fb..fb + n {
                self.handed_out.remove(&b);
            }
        }
        for b in fb..fb + n {
            self.dirty.remove(&b);
        }
        self.check("completion");
        self.trim();
    }

    fn step(&mut self, rng: &mut Rng) {
        let fb = rng.below(self.span);
        let want = 1 + rng.below(12);
        let n = want.min(self.span - fb);
        match rng.below(10) {
            0 | 1 => self.write(fb, n),
            2 => self.fallocate(fb, n, rng),
            3 => self.direct(fb, n, rng),
            4 => self.punch(fb, n),
            5 | 6 => {
                let d: Vec<u64> = self.dirty.iter().copied().filter(|b| self.delalloc.contains(b)).collect();
                if !d.is_empty() {
                    let b = d[rng.below(d.len() as u64) as usize];
                    self.allocate(b, rng);
                }
            }
            _ => {
                let d: Vec<u64> = self.dirty.iter().copied().collect();
                if !d.is_empty() {
                    let b = d[rng.below(d.len() as u64) as usize];
                    self.complete(b, want, rng.below(20) == 0);
                }
            }
        }
    }
}

/// Runs `seeds` random histories; the first seed whose map outgrew its
/// reservation, if any.
fn first_failure(policy: Policy, seeds: u64) -> Option<u64> {
    (1..=seeds).find(|&seed| {
        std::panic::catch_unwind(|| {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let mut f = File::new(16 + rng.below(400), policy);
            for _ in 0..3000 {
                f.step(&mut rng);
            }
        })
        .is_err()
    })
}

#[test]
fn no_change_without_a_reservation_outgrows_it() {
    assert_eq!(first_failure(MODULE, 300), None);
}

/// The model sees a bound that is too weak: handed-out blocks counted as
/// one extent or none, or delayed blocks not counted. (One that counts
/// delayed blocks twice is not caught, and may well hold; the argument in
/// `reserve.rs` counts three so that writeback's pieces never raise the
/// bound.)
#[test]
fn weaker_bounds_are_caught() {
    std::panic::set_hook(Box::new(|_| {}));
    let weak = [Policy { handout: 1, delalloc: 3 }, Policy { handout: 0, delalloc: 3 }, Policy { handout: 2, delalloc: 0 }];
    for weak in weak {
        let found = first_failure(weak, 300);
        assert!(found.is_some(), "{weak:?} not caught");
        println!("{weak:?}: caught by seed {}", found.unwrap_or(0));
    }
    let _ = std::panic::take_hook();
}

/// The point of the sharper bound: a large preallocation reserves for a
/// handful of extents, and a write into it for the blocks it hands out.
#[test]
fn preallocation_reserves_for_what_can_change() {
    let mut rng = Rng(5);
    let mut f = File::new(1 << 20, MODULE);
    f.fallocate(0, 1 << 20, &mut rng);
    assert_eq!(f.budget, 1);
    f.write(4096, 16);
    assert_eq!(f.budget, 1 + 2 * 16);
    f.complete(4096, 16, false);
    assert_eq!(f.budget, 3);
}
