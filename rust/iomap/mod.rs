// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers around the kernel's iomap library.
//!
//! C header: [`include/linux/iomap.h`](srctree/include/linux/iomap.h);
//! design: `Documentation/filesystems/iomap/`.
//!
//! A filesystem describes where file data lives with [`Mapping`]s, returned by
//! the hooks of five traits, one per purpose and C table: [`ReadOps`],
//! [`WriteOps`], [`ReportOps`], [`WritebackOps`], and one for direct I/O,
//! [`DirectOps`]. iomap drives the page cache
//! and the bios from those mappings:
//!
//! - [`map`]: `struct iomap` as typed constructors ([`Mapping::hole`],
//!   [`Mapping::mapped`], [`Mapping::unwritten`]) and flags, checked before
//!   iomap sees them;
//! - [`ops`]: four of the traits and the request [`Flags`];
//! - [`aops`]: the `address_space_operations` of a file whose data goes
//!   through iomap (`read_folio`/`readahead` via `iomap_read_folio` and
//!   `iomap_readahead` with the block-device bio read ops) and writeback
//!   (`iomap_writepages`);
//! - [`report`]: `SEEK_HOLE`/`SEEK_DATA` and `FIEMAP`;
//! - [`direct`]: direct I/O (`iomap_dio_rw`), unwritten blocks converted
//!   when the write completes;
//! - [`write`]: the write paths (buffered write, [`write::zero_range`],
//!   [`write::truncate_page`], page_mkwrite).

pub mod aops;
pub mod direct;
pub mod map;
pub mod ops;
pub mod report;
pub mod write;

pub use direct::DirectOps;
pub use map::{Mapping, ReadMapping, WritebackMapping};
pub use ops::{Flags, ReadOps, ReportOps, WriteOps, WritebackOps};
pub use write::{truncate_page, zero_range};
