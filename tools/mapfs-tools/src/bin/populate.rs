//! `mapfs-populate DEVICE`: fills a freshly made mapfs with a known tree,
//! written by the userspace format code, so that tests can check that the
//! kernel reads every structure back as `mkfs.mapfs`/`fsck.mapfs` understand
//! it. The content is a pure function of the block size; `--describe` prints
//! what a reader must find.
//!
//! - `/hello.txt`: `hello from mapfs\n`
//! - `/data.bin`: `3 * bs + 123` bytes, byte `j` = `(j * 31 + 7) % 256`
//! - `/frag.bin`: 600 one-block extents at every other file block (holes
//!   between), every third unwritten; mapped block `2i` is filled with
//!   `i % 251`, unwritten ones (on disk also `i % 251`) read as zeros; size
//!   `1200 * bs`. At 1 KiB blocks the extent tree is two levels deep.
//! - `/dir/f000` .. `/dir/f199`: `file N\n`
//! - `/sub/deeper/file.txt`: `nested\n`
//! - `/link-short` -> `hello.txt` (inline), `/link-long` -> 300 x `a` (in a block)
//! - extended attributes (512-byte inodes only): `/hello.txt` has
//!   `user.greeting` = `hi` (in the inode); `/data.bin` has `user.a0` ..
//!   `user.a5`, `user.aN` = 100 x the letter `A + N` (in an xattr block)
//!
//! `mapfs-populate DEVICE --many N` makes only `/many`, a file of `N`
//! one-block extents, alternately written and unwritten (block `k` holds
//! `k % 251` on disk; the unwritten ones read as zeros).

use mapfs_tools::builder::Builder;
use mapfs_tools::dev::FileDev;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let res = match args.as_slice() {
        [_, path] => populate(path).map_err(|e| (path, e)),
        [_, path, opt, n] if opt == "--many" => match n.parse() {
            Ok(n) => many(path, n).map_err(|e| (path, e)),
            Err(_) => return usage(),
        },
        _ => return usage(),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err((path, e)) => {
            eprintln!("mapfs-populate: {path}: {e}");
            ExitCode::from(1)
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: mapfs-populate DEVICE | mapfs-populate DEVICE --many N");
    ExitCode::from(16)
}

/// `--many N`: only `/many`, a file of `N` one-block extents (see
/// `Builder::create_striped`).
fn many(path: &str, n: u64) -> Result<(), Box<dyn std::error::Error>> {
    let dev = FileDev::open(std::path::Path::new(path), true)?;
    let mut b = Builder::open(dev)?;
    b.create_striped(mapfs_format::layout::ROOT_INO, "many", n)?;
    b.commit()?;
    Ok(())
}

fn populate(path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let dev = FileDev::open(std::path::Path::new(path), true)?;
    let mut b = Builder::open(dev)?;
    let root = mapfs_format::layout::ROOT_INO;
    let bs = b.fs.bs;
    let hello_ino = b.create_file(root, "hello.txt", b"hello from mapfs\n")?;
    let data: Vec<u8> = (0..3 * bs + 123).map(|j| ((j * 31 + 7) % 256) as u8).collect();
    let data_ino = b.create_file(root, "data.bin", &data)?;
    b.create_fragmented(root, "frag.bin", 600)?;
    let dir = b.mkdir(root, "dir", 0o755)?;
    for i in 0..200 {
        b.create_file(dir, &format!("f{i:03}"), format!("file {i}\n").as_bytes())?;
    }
    let sub = b.mkdir(root, "sub", 0o755)?;
    let deeper = b.mkdir(sub, "deeper", 0o700)?;
    b.create_file(deeper, "file.txt", b"nested\n")?;
    b.symlink(root, "link-short", "hello.txt")?;
    b.symlink(root, "link-long", &"a".repeat(300))?;
    if b.fs.geo.has_xattrs() {
        let mut hello = Vec::new();
        add_xattr(&mut hello, "greeting", b"hi")?;
        b.set_xattrs(hello_ino, &hello)?;
        let mut many = Vec::new();
        for i in 0..6u8 {
            add_xattr(&mut many, &format!("a{i}"), &[b'A' + i; 100])?;
        }
        b.set_xattrs(data_ino, &many)?;
    }
    b.commit()?;
    Ok(())
}

/// Appends the user attribute `name` = `value` to the list `l`.
fn add_xattr(l: &mut Vec<u8>, name: &str, value: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
    use mapfs_format::xattr;
    let mut out = vec![0u8; l.len() + xattr::ENTRY_HEADER + name.len() + value.len()];
    let n = xattr::set(l, xattr::Namespace::User, name.as_bytes(), Some(value), &mut out)
        .map_err(|e| e.to_string())?;
    out.truncate(n);
    *l = out;
    Ok(())
}
