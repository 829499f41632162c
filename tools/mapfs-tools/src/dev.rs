//! Block devices and image files, and an in-memory overlay for dry runs.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};

/// Random-access storage holding a filesystem.
pub trait Device {
    /// Size in bytes.
    fn size(&self) -> u64;
    /// Reads exactly `buf.len()` bytes at `off`.
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Writes all of `buf` at `off`.
    fn write_at(&mut self, off: u64, buf: &[u8]) -> io::Result<()>;
    /// Makes written data durable.
    fn sync(&mut self) -> io::Result<()>;
}

fn check_range(size: u64, off: u64, len: usize) -> io::Result<()> {
    match off.checked_add(len as u64) {
        Some(end) if end <= size => Ok(()),
        _ => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("access at byte {off} (+{len}) beyond the end of the device ({size} bytes)"),
        )),
    }
}

/// A block device or regular file.
#[derive(Debug)]
pub struct FileDev {
    file: File,
    size: u64,
}

impl FileDev {
    /// Wraps an open file; its size is found by seeking to the end (which
    /// works for block devices too).
    pub fn new(mut file: File) -> io::Result<Self> {
        let size = file.seek(SeekFrom::End(0))?;
        Ok(Self { file, size })
    }

    /// Opens `path` read-only or read-write. A block device opened for
    /// writing is opened with `O_EXCL`: on Linux that fails with `EBUSY`
    /// while the device is mounted or otherwise claimed (device-mapper,
    /// RAID, swap, another exclusive opener), and while we hold it the
    /// device cannot be mounted. Regular files are opened as before.
    pub fn open(path: &std::path::Path, write: bool) -> io::Result<Self> {
        let exclusive = write && crate::mount::block_device(path)?.is_some();
        let mut o = std::fs::OpenOptions::new();
        o.read(true).write(write);
        if exclusive {
            o.custom_flags(libc::O_EXCL);
        }
        let file = o.open(path).map_err(|e| {
            if e.raw_os_error() == Some(libc::EBUSY) {
                io::Error::new(
                    e.kind(),
                    format!("{e}: the device is mounted or in use (device-mapper, RAID, swap, or another program holding it exclusively)"),
                )
            } else {
                e
            }
        })?;
        // The path could have been replaced between the two looks.
        if write && file.metadata()?.file_type().is_block_device() != exclusive {
            return Err(io::Error::other("changed while being opened"));
        }
        Self::new(file)
    }

    /// Whether the file is a regular file (not a block device).
    pub fn is_regular_file(&self) -> bool {
        self.file.metadata().map(|m| m.is_file()).unwrap_or(false)
    }
}

impl Device for FileDev {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(self.size, off, buf.len())?;
        self.file.read_exact_at(buf, off)
    }

    fn write_at(&mut self, off: u64, buf: &[u8]) -> io::Result<()> {
        check_range(self.size, off, buf.len())?;
        self.file.write_all_at(buf, off)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_all()
    }
}

/// An in-memory device (tests).
#[derive(Clone, Debug, Default)]
pub struct MemDev {
    /// The contents.
    pub data: Vec<u8>,
}

impl MemDev {
    /// A zero-filled device of `size` bytes.
    pub fn new(size: usize) -> Self {
        Self {
            data: vec![0; size],
        }
    }
}

impl Device for MemDev {
    fn size(&self) -> u64 {
        self.data.len() as u64
    }

    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(self.size(), off, buf.len())?;
        let o = off as usize;
        buf.copy_from_slice(&self.data[o..o + buf.len()]);
        Ok(())
    }

    fn write_at(&mut self, off: u64, buf: &[u8]) -> io::Result<()> {
        check_range(self.size(), off, buf.len())?;
        let o = off as usize;
        self.data[o..o + buf.len()].copy_from_slice(buf);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Page size of the overlay: every mapfs structure is a multiple of 1 KiB
/// at a 1 KiB-aligned offset.
const PAGE: u64 = 1024;

/// Buffers writes in memory over a device: reads see the buffered data;
/// nothing reaches the device until [`Overlay::commit`]. fsck runs its
/// repairs against an overlay, so a read-only check (`-n`) exercises the
/// same code and simply discards the result.
#[derive(Debug)]
pub struct Overlay<D> {
    inner: D,
    pages: BTreeMap<u64, Vec<u8>>,
}

impl<D: Device> Overlay<D> {
    /// An overlay with no buffered writes.
    pub fn new(inner: D) -> Self {
        Self {
            inner,
            pages: BTreeMap::new(),
        }
    }

    /// Whether anything was written.
    pub fn is_dirty(&self) -> bool {
        !self.pages.is_empty()
    }

    /// Writes the buffered data to the device (in offset order, superblock
    /// last) and syncs it.
    pub fn commit(&mut self) -> io::Result<()> {
        let pages = std::mem::take(&mut self.pages);
        for (p, data) in pages.iter().filter(|(p, _)| **p != 0) {
            self.inner.write_at(p * PAGE, data)?;
        }
        self.inner.sync()?;
        if let Some(sb) = pages.get(&0) {
            self.inner.write_at(0, sb)?;
            self.inner.sync()?;
        }
        Ok(())
    }

    /// The underlying device.
    pub fn into_inner(self) -> D {
        self.inner
    }
}

impl<D: Device> Device for Overlay<D> {
    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(self.size(), off, buf.len())?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = off + done as u64;
            let page = pos / PAGE;
            let in_page = (pos % PAGE) as usize;
            let n = (PAGE as usize - in_page).min(buf.len() - done);
            // Read runs of pages that are not buffered in one call.
            if let Some(p) = self.pages.get(&page) {
                buf[done..done + n].copy_from_slice(&p[in_page..in_page + n]);
                done += n;
            } else {
                let mut end = done + n;
                while end < buf.len() {
                    let next_page = (off + end as u64) / PAGE;
                    if self.pages.contains_key(&next_page) {
                        break;
                    }
                    end = (end + PAGE as usize).min(buf.len());
                }
                self.inner.read_at(pos, &mut buf[done..end])?;
                done = end;
            }
        }
        Ok(())
    }

    fn write_at(&mut self, off: u64, buf: &[u8]) -> io::Result<()> {
        check_range(self.size(), off, buf.len())?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = off + done as u64;
            let page = pos / PAGE;
            let in_page = (pos % PAGE) as usize;
            let n = (PAGE as usize - in_page).min(buf.len() - done);
            if !self.pages.contains_key(&page) {
                let mut p = vec![0u8; PAGE as usize];
                let avail = (self.size() - page * PAGE).min(PAGE) as usize;
                self.inner.read_at(page * PAGE, &mut p[..avail])?;
                self.pages.insert(page, p);
            }
            let p = self.pages.get_mut(&page).expect("page just inserted");
            p[in_page..in_page + n].copy_from_slice(&buf[done..done + n]);
            done += n;
        }
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}
