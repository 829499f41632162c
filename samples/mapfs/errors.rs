// SPDX-License-Identifier: GPL-2.0

//! The errno of each on-disk format error: what the disk holds is corrupt
//! (`EUCLEAN`, the kernel's `EFSCORRUPTED`), or the caller handed the codec
//! a buffer of the wrong size (`EIO`: a bug, never the disk's fault). The
//! format code knows nothing of the kernel, so the conversions live here.

#![forbid(unsafe_code)]

use crate::format::{bitmap::BitmapError, inode::InodeError, super_block::SbError};
use kernel::prelude::*;

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
