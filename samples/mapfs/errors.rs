// SPDX-License-Identifier: GPL-2.0

//! Errors: the errno of each on-disk format error, and how a mounted
//! filesystem logs what it finds.
//!
//! What the disk holds is corrupt (`EUCLEAN`, the kernel's
//! `EFSCORRUPTED`), or the caller handed the codec a buffer of the wrong
//! size (`EIO`: a bug, never the disk's fault). The format code knows
//! nothing of the kernel, so the conversions live here.
//!
//! Every operation that meets a corrupt structure logs a line, and any
//! user who can read a file can repeat the operation: [`fs_err!`] lets each
//! filesystem log at most [`BURST`] lines per [`INTERVAL_MS`] (ext4's
//! defaults for its error messages), and says how many it held back.

#![forbid(unsafe_code)]

use crate::format::{bitmap::BitmapError, inode::InodeError, super_block::SbError};
use kernel::{
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
    time::{Instant, Monotonic},
};

/// Error lines a filesystem may log per interval.
pub(crate) const BURST: u32 = 10;
/// The interval, in milliseconds.
pub(crate) const INTERVAL_MS: u64 = 5000;

/// The rate limit of one filesystem's error lines. Lock-free: two CPUs
/// that start a new interval at once may let a line or two more through.
pub(crate) struct ErrorLog {
    mounted: Instant<Monotonic>,
    /// Start of the current interval, in milliseconds since `mounted`.
    interval: Atomic<u64>,
    logged: Atomic<u32>,
    held_back: Atomic<u32>,
}

impl ErrorLog {
    pub(crate) fn new() -> Self {
        Self {
            mounted: Instant::now(),
            interval: Atomic::new(0),
            logged: Atomic::new(0),
            held_back: Atomic::new(0),
        }
    }

    /// Whether one more line of filesystem `id` may go to the log now. The
    /// first line of a new interval is preceded by the count of lines held
    /// back in the last.
    pub(crate) fn allow(&self, id: &CStr) -> bool {
        let now = u64::try_from(self.mounted.elapsed().as_millis()).unwrap_or(0);
        let start = self.interval.load(Relaxed);
        if now.saturating_sub(start) >= INTERVAL_MS && self.interval.cmpxchg(start, now, Relaxed).is_ok() {
            self.logged.store(0, Relaxed);
            let held = self.held_back.xchg(0, Relaxed);
            if held > 0 {
                pr_err!("{}: {} error messages held back\n", id, held);
            }
        }
        if self.logged.fetch_add(1, Relaxed) < BURST {
            true
        } else {
            self.held_back.add(1, Relaxed);
            false
        }
    }
}

/// `pr_err!` for a mounted mapfs `sb`: its device name first, and at most
/// [`BURST`] lines per interval ([`ErrorLog`]).
macro_rules! fs_err {
    ($sb:expr, $($arg:tt)*) => {{
        let sb = $sb;
        if sb.data().log.allow(sb.id()) {
            kernel::pr_err!("{}: {}", sb.id(), format_args!($($arg)*));
        }
    }};
}

impl From<BitmapError> for Error {
    fn from(e: BitmapError) -> Self {
        match e {
            BitmapError::BadChecksum { .. } => EUCLEAN,
            BitmapError::OutOfRange | BitmapError::TooShort => EIO,
        }
    }
}

impl From<InodeError> for Error {
    fn from(e: InodeError) -> Self {
        match e {
            InodeError::TooShort => EIO,
            _ => EUCLEAN,
        }
    }
}

impl From<SbError> for Error {
    fn from(e: SbError) -> Self {
        match e {
            SbError::TooShort => EIO,
            _ => EUCLEAN,
        }
    }
}
