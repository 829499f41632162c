//! Extent-map editing against a naive per-block model.

use std::collections::BTreeMap;

use mapfs_format::extent::{
    is_normalized, lookup, DiskRange, Extent, ExtentError, ExtentList, Mapping,
};
use proptest::prelude::*;

/// file block -> (disk block, unwritten)
type Model = BTreeMap<u64, (u64, bool)>;

fn model_of(list: &[Extent]) -> Model {
    let mut m = Model::new();
    for e in list {
        for i in 0..u64::from(e.len) {
            m.insert(e.file_block + i, (e.disk_block + i, e.unwritten));
        }
    }
    m
}

fn ranges_blocks(r: &[DiskRange]) -> Vec<(u64, bool)> {
    let mut v: Vec<(u64, bool)> = r
        .iter()
        .flat_map(|d| (0..d.len).map(move |i| (d.disk_block + i, d.unwritten)))
        .collect();
    v.sort();
    v
}

#[derive(Clone, Debug)]
enum Op {
    Insert {
        fb: u64,
        disk: u64,
        len: u32,
        unwritten: bool,
    },
    Remove {
        fb: u64,
        len: u64,
    },
    MarkWritten {
        fb: u64,
        len: u64,
    },
    /// Collapse range: remove, then shift down.
    Collapse {
        fb: u64,
        len: u64,
    },
    /// Insert range: shift up.
    InsertRange {
        fb: u64,
        len: u64,
    },
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..200, 0u64..400, 1u32..30, any::<bool>()).prop_map(|(fb, disk, len, unwritten)| {
            Op::Insert {
                fb,
                disk,
                len,
                unwritten,
            }
        }),
        (0u64..220, 1u64..40).prop_map(|(fb, len)| Op::Remove { fb, len }),
        (0u64..220, 1u64..40).prop_map(|(fb, len)| Op::MarkWritten { fb, len }),
        (0u64..220, 1u64..40).prop_map(|(fb, len)| Op::Collapse { fb, len }),
        (0u64..220, 1u64..40).prop_map(|(fb, len)| Op::InsertRange { fb, len }),
    ]
}

/// Applies `op` to the model, returning the displaced/freed blocks.
fn apply_model(m: &mut Model, op: &Op) -> Vec<(u64, bool)> {
    let mut out = Vec::new();
    match *op {
        Op::Insert {
            fb,
            disk,
            len,
            unwritten,
        } => {
            for i in 0..u64::from(len) {
                if let Some(old) = m.insert(fb + i, (disk + i, unwritten)) {
                    out.push(old);
                }
            }
        }
        Op::Remove { fb, len } => {
            for i in fb..fb + len {
                if let Some(old) = m.remove(&i) {
                    out.push(old);
                }
            }
        }
        Op::MarkWritten { fb, len } => {
            for i in fb..fb + len {
                if let Some(v) = m.get_mut(&i) {
                    v.1 = false;
                }
            }
        }
        Op::Collapse { fb, len } => {
            let old = std::mem::take(m);
            for (k, v) in old {
                if k < fb {
                    m.insert(k, v);
                } else if k < fb + len {
                    out.push(v);
                } else {
                    m.insert(k - len, v);
                }
            }
        }
        Op::InsertRange { fb, len } => {
            let old = std::mem::take(m);
            for (k, v) in old {
                m.insert(if k < fb { k } else { k + len }, v);
            }
        }
    }
    out.sort();
    out
}

fn apply_list(
    list: &mut ExtentList<'_>,
    op: &Op,
    out: &mut Vec<DiskRange>,
) -> Result<(), ExtentError> {
    match *op {
        Op::Insert {
            fb,
            disk,
            len,
            unwritten,
        } => list.insert(
            Extent {
                file_block: fb,
                disk_block: disk,
                len,
                unwritten,
            },
            |d| out.push(d),
        ),
        Op::Remove { fb, len } => list.remove(fb, len, |d| out.push(d)),
        Op::MarkWritten { fb, len } => list.mark_written(fb, len),
        Op::Collapse { fb, len } => {
            list.remove(fb, len, |d| out.push(d))?;
            list.shift_down(fb, len)
        }
        Op::InsertRange { fb, len } => list.shift_up(fb, len),
    }
}

fn check_lookup(list: &[Extent], m: &Model) {
    for fb in 0..600u64 {
        match lookup(list, fb) {
            Mapping::Mapped {
                disk_block,
                len,
                unwritten,
            } => {
                assert_eq!(m.get(&fb), Some(&(disk_block, unwritten)), "block {fb}");
                for k in 0..len {
                    let (d, u) = m[&(fb + k)];
                    assert_eq!((d, u), (disk_block + k, unwritten));
                }
            }
            Mapping::Hole { len, .. } => {
                assert!(!m.contains_key(&fb));
                let next = m.range(fb..).next().map(|(k, _)| *k);
                match next {
                    Some(n) => assert_eq!(len, n - fb),
                    None => assert_eq!(len, mapfs_format::extent::MAX_FILE_BLOCKS - fb),
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn ops_match_model(ops in proptest::collection::vec(arb_op(), 1..40), tight in any::<bool>()) {
        let mut model = Model::new();
        let mut storage: Vec<Extent> = vec![Extent::default(); 4];
        let mut len = 0usize;
        for op in &ops {
            let expect = apply_model(&mut model, op);
            let mut out = Vec::new();
            loop {
                let before: Vec<Extent> = storage[..len].to_vec();
                let mut list = ExtentList::new(&mut storage, len).unwrap();
                match apply_list(&mut list, op, &mut out) {
                    Ok(()) => { len = list.len(); break; }
                    Err(ExtentError::NoSpace { needed }) => {
                        prop_assert!(needed > storage.len());
                        prop_assert_eq!(&storage[..len], &before[..]);
                        prop_assert!(out.is_empty());
                        let grow = if tight { needed } else { needed + 8 };
                        storage.resize(grow, Extent::default());
                    }
                    Err(e) => prop_assert!(false, "unexpected error {:?}", e),
                }
            }
            let cur = &storage[..len];
            prop_assert!(is_normalized(cur), "not normalized after {:?}: {:?}", op, cur);
            prop_assert_eq!(model_of(cur), model.clone());
            prop_assert_eq!(ranges_blocks(&out), expect);
        }
        check_lookup(&storage[..len], &model);
    }
}

#[test]
fn hole_goal_and_merge() {
    let mut buf = [Extent::default(); 8];
    let mut l = ExtentList::new(&mut buf, 0).unwrap();
    l.insert(
        Extent {
            file_block: 0,
            disk_block: 100,
            len: 4,
            unwritten: false,
        },
        |_| {},
    )
    .unwrap();
    l.insert(
        Extent {
            file_block: 4,
            disk_block: 104,
            len: 4,
            unwritten: false,
        },
        |_| {},
    )
    .unwrap();
    assert_eq!(l.len(), 1);
    assert_eq!(
        l.lookup(10),
        Mapping::Hole {
            len: mapfs_format::extent::MAX_FILE_BLOCKS - 10,
            goal: Some(110)
        }
    );
    l.insert(
        Extent {
            file_block: 2,
            disk_block: 500,
            len: 2,
            unwritten: true,
        },
        |_| {},
    )
    .unwrap();
    assert_eq!(l.len(), 3);
    l.mark_written(0, 8).unwrap();
    assert_eq!(l.len(), 3);
    l.insert(
        Extent {
            file_block: 2,
            disk_block: 102,
            len: 2,
            unwritten: false,
        },
        |_| {},
    )
    .unwrap();
    assert_eq!(
        l.as_slice(),
        &[Extent {
            file_block: 0,
            disk_block: 100,
            len: 8,
            unwritten: false
        }]
    );
    let mut freed = Vec::new();
    l.remove(0, 100, |d| freed.push(d)).unwrap();
    assert!(l.is_empty());
    assert_eq!(
        freed,
        vec![DiskRange {
            disk_block: 100,
            len: 8,
            unwritten: false
        }]
    );
    assert_eq!(l.remove(0, 0, |_| {}), Err(ExtentError::BadRange));
}

#[test]
fn shifts_refuse_what_they_cannot_do() {
    let e = |fb, disk, len| Extent { file_block: fb, disk_block: disk, len, unwritten: false };
    let mut buf = [Extent::default(); 4];
    buf[0] = e(0, 100, 10);
    buf[1] = e(20, 200, 10);
    let mut l = ExtentList::new(&mut buf, 2).unwrap();
    // The collapsed range must be a hole.
    assert_eq!(l.shift_down(5, 10), Err(ExtentError::BadRange));
    assert_eq!(l.shift_down(10, 11), Err(ExtentError::BadRange));
    assert_eq!(l.as_slice(), &[e(0, 100, 10), e(20, 200, 10)]);
    // Closing the gap merges what now touches on disk too.
    let mut buf2 = [e(0, 100, 10), e(20, 110, 5), Extent::default()];
    let mut l2 = ExtentList::new(&mut buf2, 2).unwrap();
    l2.shift_down(10, 10).unwrap();
    assert_eq!(l2.as_slice(), &[e(0, 100, 15)]);
    // Nothing may move past the last file block.
    let max = mapfs_format::extent::MAX_FILE_BLOCKS;
    let mut buf3 = [e(max - 20, 5, 10), Extent::default()];
    let mut l3 = ExtentList::new(&mut buf3, 1).unwrap();
    assert_eq!(l3.shift_up(0, 11), Err(ExtentError::BadRange));
    l3.shift_up(0, 10).unwrap();
    assert_eq!(l3.as_slice(), &[e(max - 10, 5, 10)]);
    // A split needs one spare entry.
    let mut buf4 = [e(0, 100, 10)];
    let mut l4 = ExtentList::new(&mut buf4, 1).unwrap();
    assert_eq!(l4.shift_up(4, 3), Err(ExtentError::NoSpace { needed: 2 }));
}
