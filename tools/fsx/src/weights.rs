//! The kinds of random operation and how often each is chosen.

use std::fmt;

/// A kind of operation the generator can choose.  Some kinds cover several
/// concrete operations (fsync also does fdatasync, falloc has seven modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// pread and compare.
    Read,
    /// pwrite of random data.
    Write,
    /// mmap(PROT_READ) and compare.
    MapRead,
    /// mmap(PROT_WRITE), store random data, msync.
    MapWrite,
    /// ftruncate up or down.
    Truncate,
    /// fallocate in one of its modes.
    Falloc,
    /// fsync or fdatasync.
    Fsync,
    /// fsync, then drop the file's clean page cache.
    Invalidate,
    /// O_DIRECT pread or pwrite, aligned (off unless `--direct`).
    Direct,
}

impl OpKind {
    /// Every kind, in the order of [`Weights`]' slots.  Direct comes last:
    /// [`Weights::pick`] lays the weights end to end in this order, so a
    /// kind added at the end with weight 0 leaves every seed's choices as
    /// they were.
    pub const ALL: [OpKind; 9] = [
        OpKind::Read,
        OpKind::Write,
        OpKind::MapRead,
        OpKind::MapWrite,
        OpKind::Truncate,
        OpKind::Falloc,
        OpKind::Fsync,
        OpKind::Invalidate,
        OpKind::Direct,
    ];

    /// The name used in `--weights`, `--no-NAME` and messages.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Read => "read",
            OpKind::Write => "write",
            OpKind::MapRead => "mapread",
            OpKind::MapWrite => "mapwrite",
            OpKind::Truncate => "truncate",
            OpKind::Falloc => "falloc",
            OpKind::Fsync => "fsync",
            OpKind::Invalidate => "invalidate",
            OpKind::Direct => "direct",
        }
    }

    /// The kind called `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    fn slot(self) -> usize {
        Self::ALL.iter().position(|&k| k == self).unwrap_or(0)
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The relative weight of each kind: a kind is chosen with probability
/// weight / total.  Zero disables a kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Weights([u32; 9]);

/// The default mix: data operations dominate, the mmap paths and the
/// size-changing operations come often enough to interleave with them, and
/// the flushes are rarer because they slow a run down without finding much
/// on their own.  Direct I/O is off: not every filesystem accepts O_DIRECT,
/// and `--direct` turns it on (with [`DIRECT_WEIGHT`]).
pub const DEFAULT_WEIGHTS: &str =
    "read=10,write=10,mapread=5,mapwrite=5,truncate=5,falloc=5,fsync=2,invalidate=2,direct=0";

/// The weight `--direct` gives direct I/O when `--weights` does not name it:
/// as often as buffered reads or writes.
pub const DIRECT_WEIGHT: u32 = 10;

impl Default for Weights {
    fn default() -> Self {
        let mut w = Weights([0; 9]);
        w.apply_spec(DEFAULT_WEIGHTS)
            .expect("the default weights parse");
        w
    }
}

impl Weights {
    /// The weight of `kind`.
    pub fn get(&self, kind: OpKind) -> u32 {
        self.0[kind.slot()]
    }

    /// Sets the weight of `kind`.
    pub fn set(&mut self, kind: OpKind, weight: u32) {
        self.0[kind.slot()] = weight;
    }

    /// The sum of all weights.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|&w| u64::from(w)).sum()
    }

    /// Applies a spec like "read=10,write=5,falloc=0".  Kinds the spec does
    /// not name keep their weight, so "--weights falloc=20" means "more
    /// falloc", not "only falloc".  Returns the kinds the spec named.
    pub fn apply_spec(&mut self, spec: &str) -> Result<Vec<OpKind>, String> {
        let mut named = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| format!("weight '{item}' is not NAME=NUMBER"))?;
            let kind = OpKind::from_name(name.trim()).ok_or_else(|| {
                let names: Vec<&str> = OpKind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown operation '{}' in weights (known: {})",
                    name.trim(),
                    names.join(", ")
                )
            })?;
            let weight = value
                .trim()
                .parse::<u32>()
                .map_err(|_| format!("invalid weight '{}' for {kind}", value.trim()))?;
            self.set(kind, weight);
            named.push(kind);
        }
        Ok(named)
    }

    /// The kind that owns point `r` (in `0..total()`) when the weights are
    /// laid end to end.
    pub fn pick(&self, mut r: u64) -> OpKind {
        for kind in OpKind::ALL {
            let w = u64::from(self.get(kind));
            if r < w {
                return kind;
            }
            r -= w;
        }
        // Only reached when r >= total(), which callers never pass.
        OpKind::Read
    }
}

impl fmt::Display for Weights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, kind) in OpKind::ALL.into_iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}={}", kind, self.get(kind))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let w = Weights::default();
        assert_eq!(w.get(OpKind::Read), 10);
        assert_eq!(w.get(OpKind::MapWrite), 5);
        assert_eq!(w.get(OpKind::Invalidate), 2);
        assert_eq!(w.get(OpKind::Direct), 0);
        assert_eq!(w.total(), 44);
        assert_eq!(w.to_string(), DEFAULT_WEIGHTS);
    }

    #[test]
    fn spec_overrides_only_named_kinds() {
        let mut w = Weights::default();
        let named = w.apply_spec(" falloc = 20 , mapread=0,").unwrap();
        assert_eq!(named, vec![OpKind::Falloc, OpKind::MapRead]);
        assert_eq!(w.get(OpKind::Falloc), 20);
        assert_eq!(w.get(OpKind::MapRead), 0);
        assert_eq!(w.get(OpKind::Read), 10);
        assert!(w.apply_spec("").unwrap().is_empty());
        assert_eq!(w.get(OpKind::Falloc), 20);
        w.apply_spec("direct=3").unwrap();
        assert_eq!(w.get(OpKind::Direct), 3);
    }

    #[test]
    fn spec_errors() {
        let mut w = Weights::default();
        assert!(w.apply_spec("read").unwrap_err().contains("NAME=NUMBER"));
        assert!(w
            .apply_spec("bogus=1")
            .unwrap_err()
            .contains("unknown operation"));
        assert!(w
            .apply_spec("read=-1")
            .unwrap_err()
            .contains("invalid weight"));
        assert!(w.apply_spec("read=x").is_err());
        // A failed spec may have applied earlier items, but the parse error
        // ends the program, so that does not matter.
    }

    #[test]
    fn pick_follows_weights() {
        let mut w = Weights([0; 9]);
        w.apply_spec("write=2,fsync=3").unwrap();
        assert_eq!(w.total(), 5);
        let picks: Vec<OpKind> = (0..5).map(|r| w.pick(r)).collect();
        use OpKind::*;
        assert_eq!(picks, vec![Write, Write, Fsync, Fsync, Fsync]);
    }

    /// Direct is the last slot, so giving it a weight only adds picks at
    /// the end: every point below the old total picks what it did before.
    #[test]
    fn direct_is_laid_out_last() {
        assert_eq!(OpKind::ALL.last(), Some(&OpKind::Direct));
        assert_eq!(OpKind::from_name("direct"), Some(OpKind::Direct));
        let old = Weights::default();
        let mut new = Weights::default();
        new.set(OpKind::Direct, DIRECT_WEIGHT);
        assert_eq!(new.total(), old.total() + u64::from(DIRECT_WEIGHT));
        for r in 0..old.total() {
            assert_eq!(new.pick(r), old.pick(r));
        }
        for r in old.total()..new.total() {
            assert_eq!(new.pick(r), OpKind::Direct);
        }
    }
}
