//! Host stand-ins shared by the tests: growable arrays for the extent map
//! (with allocation failures on demand) and a small random generator.

#![allow(dead_code)]

use std::cell::Cell;

use mapfs_format::emap::{Array, Arrays, NoMemory};

thread_local! {
    /// Allocations left before one fails (`u64::MAX`: never).
    pub(crate) static FAIL_IN: Cell<u64> = const { Cell::new(u64::MAX) };
}

fn may_fail() -> bool {
    FAIL_IN.with(|f| match f.get() {
        0 => true,
        u64::MAX => false,
        v => {
            f.set(v - 1);
            false
        }
    })
}

pub(crate) struct HostVec<T>(pub(crate) Vec<T>);

impl<T> Default for HostVec<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T: Copy> Array<T> for HostVec<T> {
    fn items(&self) -> &[T] {
        &self.0
    }
    fn items_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
    fn try_reserve(&mut self, n: usize) -> Result<(), NoMemory> {
        // Fails even when there is room: any call may allocate.
        if may_fail() {
            return Err(NoMemory);
        }
        self.0.reserve(n);
        Ok(())
    }
    fn try_push(&mut self, x: T) -> Result<(), NoMemory> {
        if self.0.len() == self.0.capacity() && may_fail() {
            return Err(NoMemory);
        }
        self.0.push(x);
        Ok(())
    }
    fn try_resize(&mut self, n: usize, fill: T) -> Result<(), NoMemory> {
        if n > self.0.len() && may_fail() {
            return Err(NoMemory);
        }
        self.0.resize(n, fill);
        Ok(())
    }
    fn shorten(&mut self, n: usize) {
        self.0.truncate(n);
    }
}

pub(crate) struct Host;

impl Arrays for Host {
    type Of<T: Copy> = HostVec<T>;
}

pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
