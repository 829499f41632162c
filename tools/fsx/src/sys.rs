//! Safe wrappers for the system calls std does not provide.
//!
//! Every `unsafe` block of the program is in this module.  Plain reads,
//! writes, ftruncate, fsync and fdatasync go through std (`FileExt`,
//! `set_len`, `sync_all`, `sync_data`), which already wraps them safely;
//! so do the O_DIRECT reads and writes, once they have a descriptor opened
//! with O_DIRECT ([`open_direct`]) and a suitably aligned buffer
//! ([`AlignedBuf`]).

use std::alloc::Layout;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, IntoRawFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::model::FallocMode;

/// Converts a byte offset or count to `off_t`, failing instead of wrapping.
fn off_t(x: u64) -> io::Result<libc::off_t> {
    libc::off_t::try_from(x).map_err(|_| io::Error::from_raw_os_error(libc::EOVERFLOW))
}

/// The system page size (mmap offsets must be multiples of it).
pub fn page_size() -> u64 {
    // SAFETY: sysconf only reads a system constant; it has no memory
    // effects.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    // sysconf cannot fail for _SC_PAGESIZE on Linux; fall back to the
    // common size rather than trusting a nonsense value.
    u64::try_from(n)
        .ok()
        .filter(|&n| n.is_power_of_two())
        .unwrap_or(4096)
}

/// The fallocate(2) mode bits of `mode`.
pub fn falloc_flags(mode: FallocMode) -> libc::c_int {
    match mode {
        FallocMode::Alloc => 0,
        FallocMode::KeepSize => libc::FALLOC_FL_KEEP_SIZE,
        FallocMode::ZeroRange => libc::FALLOC_FL_ZERO_RANGE,
        FallocMode::ZeroRangeKeepSize => libc::FALLOC_FL_ZERO_RANGE | libc::FALLOC_FL_KEEP_SIZE,
        FallocMode::PunchHole => libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
        FallocMode::CollapseRange => libc::FALLOC_FL_COLLAPSE_RANGE,
        FallocMode::InsertRange => libc::FALLOC_FL_INSERT_RANGE,
    }
}

/// fallocate(2) on `file`.
pub fn fallocate(file: &File, mode: FallocMode, off: u64, len: u64) -> io::Result<()> {
    let (off, len) = (off_t(off)?, off_t(len)?);
    loop {
        // SAFETY: fallocate takes no pointers; the descriptor is owned by
        // `file`, which outlives the call.
        let r = unsafe { libc::fallocate(file.as_raw_fd(), falloc_flags(mode), off, len) };
        if r == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// posix_fadvise(POSIX_FADV_DONTNEED) on the whole of `file`: drop its
/// clean cached pages so the next reads come from the disk.
pub fn fadvise_dontneed(file: &File) -> io::Result<()> {
    // SAFETY: posix_fadvise takes no pointers; the descriptor is owned by
    // `file`, which outlives the call.
    let r = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    // posix_fadvise returns the error number instead of setting errno.
    match r {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// Closes `file`, reporting the error that dropping a `File` would ignore:
/// a filesystem may report a failed delayed write only at close.
pub fn close(file: File) -> io::Result<()> {
    let fd = file.into_raw_fd();
    // SAFETY: `into_raw_fd` gave up ownership of `fd`, so nothing else
    // closes it or uses it after this call.
    let r = unsafe { libc::close(fd) };
    if r == 0 {
        Ok(())
    } else {
        // Even on error (EINTR included) Linux has released the descriptor,
        // so there is nothing to retry.
        Err(io::Error::last_os_error())
    }
}

/// pread of up to `len` bytes at `off`, retrying short reads until `len`
/// bytes or EOF: the result is shorter than `len` only at EOF.
pub fn pread_full(file: &File, off: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; len];
    let mut done = 0;
    while done < len {
        match file.read_at(&mut buf[done..], off + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(done);
    Ok(buf)
}

/// Opens the existing file at `path` for reading and writing with
/// O_DIRECT, which bypasses the page cache.  A filesystem that does not
/// support O_DIRECT fails this with EINVAL.
pub fn open_direct(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
}

/// A zero-filled heap buffer whose address is a multiple of a given
/// alignment, for O_DIRECT transfers: the kernel refuses (EINVAL) a user
/// buffer that is not aligned to the device's DMA alignment, which a
/// `Vec<u8>` does not guarantee.
#[derive(Debug)]
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
    layout: Layout,
}

impl AlignedBuf {
    /// `len` zero bytes starting at a multiple of `align` (a power of two).
    pub fn new(len: usize, align: usize) -> io::Result<AlignedBuf> {
        // The allocator must not be asked for zero bytes.
        let layout = Layout::from_size_align(len.max(1), align)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: the layout's size is at least 1, as alloc_zeroed requires.
        let p = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(p).ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
        Ok(AlignedBuf { ptr, len, layout })
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` points to at least `len` initialised (zeroed at
        // allocation) bytes owned by `self` until it is dropped; the borrow
        // of `self` keeps the slice from outliving them.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The bytes, for writing.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `bytes`; the exclusive borrow of `self` makes this
        // the only reference to the buffer.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: `ptr` was returned by alloc_zeroed with exactly `layout`
        // and is freed only here; no slice into it can outlive `self`.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

/// pread of the whole of `buf` at `off` through an O_DIRECT descriptor.
/// Returns the byte count, which is less than the buffer's length only at
/// EOF: a direct read returns the bytes before EOF and no more.  A short
/// read that ends on a multiple of `align` is continued; one that does not
/// can only have stopped at EOF (or be a filesystem bug the comparison will
/// show), and continuing from a misaligned offset would fail with EINVAL.
pub fn pread_direct(
    file: &File,
    off: u64,
    buf: &mut AlignedBuf,
    align: usize,
) -> io::Result<usize> {
    let b = buf.bytes_mut();
    let mut done = 0;
    while done < b.len() {
        match file.read_at(&mut b[done..], off + done as u64) {
            Ok(0) => break,
            Ok(n) => {
                done += n;
                if !done.is_multiple_of(align) {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// pwrite of the whole of `buf` at `off` through an O_DIRECT descriptor.
/// A short write that ends on a multiple of `align` is continued; one that
/// does not leaves a rest that cannot be written aligned, and is an error.
pub fn pwrite_direct(file: &File, off: u64, buf: &AlignedBuf, align: usize) -> io::Result<()> {
    let b = buf.bytes();
    let mut done = 0;
    while done < b.len() {
        match file.write_at(&b[done..], off + done as u64) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => {
                done += n;
                if done < b.len() && !done.is_multiple_of(align) {
                    return Err(io::Error::other(format!(
                        "short write of {done} of {} bytes, not a multiple of {align}",
                        b.len()
                    )));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A shared mapping of part of a file, unmapped when dropped.
#[derive(Debug)]
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    /// mmap(MAP_SHARED) of `len` bytes (at least 1) of `file` at `off` (a
    /// multiple of the page size), read-only or read-write.
    pub fn new(file: &File, off: u64, len: usize, writable: bool) -> io::Result<Mapping> {
        let prot = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        // SAFETY: a null address hint lets the kernel choose where to map,
        // so no existing memory is replaced; the descriptor is owned by
        // `file`, and the mapping stays valid after the descriptor is
        // closed.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                off_t(off)?,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr =
            NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned NULL"))?;
        Ok(Mapping { ptr, len })
    }

    /// The mapped bytes.
    ///
    /// Touching a page that lies wholly past EOF raises SIGBUS; the caller
    /// only maps ranges that start inside the file, and the SIGBUS handler
    /// (see [`install_sigbus_handler`]) turns a filesystem that shrank the
    /// file behind our back into a report instead of a silent crash.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` points to `len` bytes mapped readable by `new` and
        // not unmapped before `self` is dropped; the borrow of `self` keeps
        // the slice from outliving the mapping.  The file is shared, but
        // this process is the only one using it, and it does not write the
        // file while the slice is borrowed.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The mapped bytes, for writing (the mapping must be writable).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `bytes`; the exclusive borrow of `self` makes this
        // the only reference to the mapped memory.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// msync(MS_SYNC) of the whole mapping: write the dirty pages back and
    /// wait for them.
    pub fn sync(&self) -> io::Result<()> {
        // SAFETY: the range is exactly the mapping made by `new` (which
        // starts page-aligned, as msync requires); msync does not change
        // the memory.
        let r = unsafe { libc::msync(self.ptr.as_ptr().cast(), self.len, libc::MS_SYNC) };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// munmap, reporting its error (dropping would ignore it).
    pub fn unmap(self) -> io::Result<()> {
        let (ptr, len) = (self.ptr, self.len);
        std::mem::forget(self);
        // SAFETY: the range is exactly the mapping made by `new`; `self` was
        // consumed and forgotten, so no slice into it remains and `drop`
        // will not unmap it a second time.
        let r = unsafe { libc::munmap(ptr.as_ptr().cast(), len) };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the range is exactly the mapping made by `new`, and no
        // slice into it can outlive `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// The operation number and seed the SIGBUS handler reports.
static CURRENT_OP: AtomicU64 = AtomicU64::new(0);
static SEED: AtomicU64 = AtomicU64::new(0);

/// Records the number of the operation about to run, for the SIGBUS report.
pub fn set_current_op(num: u64) {
    CURRENT_OP.store(num, Ordering::Relaxed);
}

/// Appends the decimal digits of `n` to `buf` at `*pos`, without
/// allocating (the SIGBUS handler may not allocate).
fn put_u64(buf: &mut [u8], pos: &mut usize, n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    put(buf, pos, &digits[i..]);
}

fn put(buf: &mut [u8], pos: &mut usize, s: &[u8]) {
    let n = s.len().min(buf.len() - *pos);
    buf[*pos..*pos + n].copy_from_slice(&s[..n]);
    *pos += n;
}

/// Builds the SIGBUS message in `buf`, returning its length.
fn sigbus_message(buf: &mut [u8], op: u64, seed: u64) -> usize {
    let mut pos = 0;
    put(buf, &mut pos, b"\nmapfs-fsx: SIGBUS at operation ");
    put_u64(buf, &mut pos, op);
    put(buf, &mut pos, b", seed ");
    put_u64(buf, &mut pos, seed);
    put(
        buf,
        &mut pos,
        b": a mapped page inside the file's size faulted\n\
          mapfs-fsx: rerun with the seed, -N one less and --log FILE for the log\n",
    );
    pos
}

/// The SIGBUS handler: only async-signal-safe calls (write, _exit).
extern "C" fn on_sigbus(_sig: libc::c_int) {
    let mut buf = [0u8; 256];
    let n = sigbus_message(
        &mut buf,
        CURRENT_OP.load(Ordering::Relaxed),
        SEED.load(Ordering::Relaxed),
    );
    // SAFETY: write and _exit are async-signal-safe; `buf` is a local
    // array of at least `n` bytes.
    unsafe {
        libc::write(2, buf.as_ptr().cast(), n);
        libc::_exit(1);
    }
}

/// Makes SIGBUS (an mmap access the filesystem could not back, e.g.
/// because it lost part of the file) exit with status 1 and a message
/// naming the operation and seed, instead of dying without a word.
pub fn install_sigbus_handler(seed: u64) {
    SEED.store(seed, Ordering::Relaxed);
    // SAFETY: an all-zero sigaction is a valid value (empty mask, no
    // flags), completed below before use.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = on_sigbus as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: `sa` is initialised, its handler only makes
    // async-signal-safe calls, and the old action is not wanted (null).
    unsafe {
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigbus_message_format() {
        let mut buf = [0u8; 256];
        let n = sigbus_message(&mut buf, 1234, u64::MAX);
        let s = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(
            s.contains("SIGBUS at operation 1234, seed 18446744073709551615:"),
            "{s}"
        );
        let n = sigbus_message(&mut buf, 0, 7);
        assert!(std::str::from_utf8(&buf[..n])
            .unwrap()
            .contains("operation 0, seed 7:"));
        // Never overruns a short buffer.
        let mut small = [0u8; 10];
        assert_eq!(sigbus_message(&mut small, 1, 2), 10);
    }

    #[test]
    fn aligned_buffers() {
        for (len, align) in [(512, 512), (65536, 4096), (4096, 65536), (0, 4096)] {
            let mut b = AlignedBuf::new(len, align).unwrap();
            assert_eq!(b.bytes().len(), len);
            assert_eq!(b.bytes().as_ptr() as usize % align, 0);
            assert!(b.bytes().iter().all(|&x| x == 0));
            b.bytes_mut().fill(0xa5);
            assert!(b.bytes().iter().all(|&x| x == 0xa5));
        }
        assert!(AlignedBuf::new(512, 3).is_err());
    }

    #[test]
    fn falloc_mode_bits() {
        // The values of linux/falloc.h.
        assert_eq!(falloc_flags(FallocMode::Alloc), 0);
        assert_eq!(falloc_flags(FallocMode::KeepSize), 0x01);
        assert_eq!(falloc_flags(FallocMode::PunchHole), 0x03);
        assert_eq!(falloc_flags(FallocMode::CollapseRange), 0x08);
        assert_eq!(falloc_flags(FallocMode::ZeroRange), 0x10);
        assert_eq!(falloc_flags(FallocMode::ZeroRangeKeepSize), 0x11);
        assert_eq!(falloc_flags(FallocMode::InsertRange), 0x20);
    }

    #[test]
    fn page_size_is_sane() {
        let p = page_size();
        assert!(p >= 4096 && p.is_power_of_two());
    }
}
