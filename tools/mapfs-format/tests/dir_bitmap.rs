//! Directory block and bitmap properties.

use std::collections::BTreeMap;

use mapfs_format::bitmap;
use mapfs_format::dir::{self, DirError};
use proptest::prelude::*;

const SEED: u32 = 0xABCD;
const DIR: u32 = 42;

#[derive(Clone, Debug)]
enum DOp {
    Insert(Vec<u8>, u32),
    Remove(usize),
}

fn arb_name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(b'a'..=b'z', 1..12),
        proptest::collection::vec(1u8..=255, 1..=255).prop_map(|v| v
            .into_iter()
            .map(|c| if c == b'/' { b'x' } else { c })
            .collect()),
    ]
}

fn live(buf: &[u8]) -> BTreeMap<usize, (Vec<u8>, u32)> {
    dir::iter_from(buf, 0)
        .map(|e| e.unwrap())
        .map(|e| (e.offset, (e.name.to_vec(), e.ino)))
        .collect()
}

proptest! {
    #[test]
    fn dir_ops(ops in proptest::collection::vec(prop_oneof![
        (arb_name(), 1u32..1000).prop_map(|(n, i)| DOp::Insert(n, i)),
        (0usize..50).prop_map(DOp::Remove),
    ], 1..80), log in 10u32..=12) {
        let bs = 1usize << log;
        let mut buf = vec![0u8; bs];
        dir::init_first_block(&mut buf, SEED, DIR, 1).unwrap();
        let mut model = live(&buf);
        prop_assert_eq!(model.len(), 2);
        for op in ops {
            match op {
                DOp::Insert(name, ino) => {
                    if dir::find(&buf, &name).unwrap().is_some() { continue; }
                    match dir::insert(&mut buf, SEED, DIR, ino, &name, 1) {
                        Ok(off) => { model.insert(off, (name.clone(), ino)); }
                        Err(DirError::NoRoom) => {
                            // Really no room: no record has enough slack.
                            let need = dir::rec_len_for(name.len());
                            for e in dir::records(&buf) {
                                let e = e.unwrap();
                                let used = if e.ino == 0 { 0 } else { dir::rec_len_for(e.name.len()) };
                                prop_assert!(e.rec_len - used < need);
                            }
                        }
                        Err(e) => prop_assert!(false, "{:?}", e),
                    }
                }
                DOp::Remove(k) => {
                    // Never remove "." / "..".
                    let keys: Vec<usize> = model.keys().copied().skip(2).collect();
                    if keys.is_empty() { continue; }
                    let off = keys[k % keys.len()];
                    dir::remove(&mut buf, SEED, DIR, off).unwrap();
                    model.remove(&off);
                }
            }
            dir::check_block(&buf).unwrap();
            dir::verify_csum(&buf, SEED, DIR).unwrap();
            // Live entries never move.
            prop_assert_eq!(live(&buf), model.clone());
            for (off, (name, ino)) in &model {
                let e = dir::find(&buf, name).unwrap().unwrap();
                prop_assert_eq!((e.offset, e.ino), (*off, *ino));
            }
            // Iteration from any saved position yields exactly the entries at or after it.
            let pos = model.keys().nth(model.len() / 2).copied().unwrap_or(0) + 1;
            let from: Vec<usize> = dir::iter_from(&buf, pos).map(|e| e.unwrap().offset).collect();
            let want: Vec<usize> = model.keys().copied().filter(|&o| o >= pos).collect();
            prop_assert_eq!(from, want);
            prop_assert_eq!(dir::is_empty(&buf).unwrap(), model.len() == 2);
        }
    }

    #[test]
    fn dir_flip_detected(pos in 0usize..1024, bit in 0u8..8) {
        let mut buf = vec![0u8; 1024];
        dir::init_first_block(&mut buf, SEED, DIR, 1).unwrap();
        dir::insert(&mut buf, SEED, DIR, 5, b"hello", 1).unwrap();
        buf[pos] ^= 1 << bit;
        prop_assert!(dir::verify_csum(&buf, SEED, DIR).is_err());
        let _ = dir::check_block(&buf);
        let _ = dir::find(&buf, b"hello");
    }

    #[test]
    fn bitmap_ops(ops in proptest::collection::vec((0u64..300, 0u64..70, 0u8..3), 1..50), goal in 0u64..300, max in 1u64..20) {
        let nbits = 300u64;
        let mut bits = vec![0u8; 40];
        let mut model = vec![false; 320];
        for (s, l, kind) in ops {
            let r = match kind {
                0 => bitmap::set_bits(&mut bits, s, l),
                1 => bitmap::clear_bits(&mut bits, s, l),
                _ => bitmap::count_in_range(&bits, s, l, true).map(|c| {
                    assert_eq!(c, model[s as usize..(s + l) as usize].iter().filter(|b| **b).count() as u64);
                }),
            };
            if s + l > 320 { prop_assert!(r.is_err()); continue; }
            r.unwrap();
            if kind < 2 { for i in s..s + l { model[i as usize] = kind == 0; } }
            for i in 0..320u64 { prop_assert_eq!(bitmap::test_bit(&bits, i), Some(model[i as usize])); }
        }
        let free = model[..300].iter().filter(|b| !**b).count() as u64;
        prop_assert_eq!(bitmap::count_free(&bits, nbits), free);
        let expect_start = (goal..nbits).chain(0..goal).find(|&i| !model[i as usize]);
        match (bitmap::find_free_run(&bits, nbits, goal, max), expect_start) {
            (None, None) => {}
            (Some((s, l)), Some(e)) => {
                prop_assert_eq!(s, e);
                prop_assert!(l >= 1 && l <= max);
                for i in s..s + l { prop_assert!(!model[i as usize]); }
                prop_assert!(s + l == nbits || l == max || model[(s + l) as usize]);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }
}

#[test]
fn bitmap_block_csum() {
    let mut b = vec![0u8; 1024];
    bitmap::init_block(SEED, 3, &mut b, 100).unwrap();
    bitmap::verify_block_csum(SEED, 3, &b).unwrap();
    assert!(bitmap::verify_block_csum(SEED, 4, &b).is_err());
    let bits = bitmap::block_bits(&b).unwrap();
    assert_eq!(bitmap::count_free(bits, 8160), 100);
    assert_eq!(bitmap::find_zero(bits, 8160, 100), None);
    b[5] ^= 1;
    assert!(bitmap::verify_block_csum(SEED, 3, &b).is_err());
}

#[test]
fn dir_basics() {
    let mut b = vec![0u8; 1024];
    dir::init_block(&mut b, SEED, DIR).unwrap();
    assert!(dir::is_empty(&b).unwrap());
    assert_eq!(
        dir::insert(&mut b, SEED, DIR, 3, b"", 1),
        Err(DirError::BadName)
    );
    assert_eq!(
        dir::insert(&mut b, SEED, DIR, 3, b"a/b", 1),
        Err(DirError::BadName)
    );
    assert_eq!(
        dir::insert(&mut b, SEED, DIR, 3, &[b'x'; 256], 1),
        Err(DirError::BadName)
    );
    let off = dir::insert(&mut b, SEED, DIR, 3, &[b'x'; 255], 1).unwrap();
    assert_eq!(off, 0);
    dir::set_entry(&mut b, SEED, DIR, 0, 9, 2).unwrap();
    assert_eq!(dir::find(&b, &[b'x'; 255]).unwrap().unwrap().ino, 9);
    dir::remove(&mut b, SEED, DIR, 0).unwrap();
    assert!(dir::is_empty(&b).unwrap());
    assert_eq!(dir::remove(&mut b, SEED, DIR, 0), Err(DirError::NoEntry));
}

#[test]
fn dots_of_a_first_block() {
    let mut b = vec![0u8; 2048];
    dir::init_first_block(&mut b, SEED, DIR, 7).unwrap();
    assert_eq!(dir::check_dots(&b, DIR, 100), Ok(7));
    // Another directory's block, a parent out of range or 0.
    assert_eq!(dir::check_dots(&b, DIR + 1, 100), Err(DirError::BadDots));
    assert_eq!(dir::check_dots(&b, DIR, 7), Err(DirError::BadDots));
    dir::init_first_block(&mut b, SEED, DIR, 0).unwrap();
    assert_eq!(dir::check_dots(&b, DIR, 100), Err(DirError::BadDots));
    // `.` naming inode 0, `.` and `..` swapped, `.` removed.
    dir::init_first_block(&mut b, SEED, 0, 7).unwrap();
    assert_eq!(dir::check_dots(&b, DIR, 100), Err(DirError::BadDots));
    dir::init_first_block(&mut b, SEED, DIR, 7).unwrap();
    let dotdot = dir::find(&b, b"..").unwrap().unwrap().offset;
    dir::set_entry(&mut b, SEED, DIR, 0, 7, 2).unwrap();
    dir::set_entry(&mut b, SEED, DIR, dotdot, DIR, 2).unwrap();
    assert_eq!(dir::check_dots(&b, DIR, 100), Err(DirError::BadDots));
    dir::init_first_block(&mut b, SEED, DIR, 7).unwrap();
    dir::remove(&mut b, SEED, DIR, 0).unwrap();
    assert_eq!(dir::check_dots(&b, DIR, 100), Err(DirError::BadDots));
    // A `..` typed as a regular file.
    dir::init_first_block(&mut b, SEED, DIR, 7).unwrap();
    dir::set_entry(&mut b, SEED, DIR, dotdot, 7, 1).unwrap();
    assert_eq!(dir::check_dots(&b, DIR, 100), Err(DirError::BadDots));
    // An empty block.
    dir::init_block(&mut b, SEED, DIR).unwrap();
    assert_eq!(dir::check_dots(&b, DIR, 100), Err(DirError::BadDots));
}
