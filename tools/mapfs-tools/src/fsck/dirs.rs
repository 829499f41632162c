//! Passes 3 and 4: directory blocks and connectivity.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;

use mapfs_format::dir;
use mapfs_format::extent::Extent;
use mapfs_format::inode::{FileType, Inode, Timestamp};
use mapfs_format::layout::ROOT_INO;
use mapfs_format::tree;

use super::{Checker, FileInfo, SubdirRef};
use crate::dev::Device;
use crate::fs::map_block;

/// A live record as read from a block.
struct Rec {
    offset: usize,
    ino: u32,
    file_type: u8,
    name: Vec<u8>,
}

fn show(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

impl<D: Device> Checker<D> {
    /// Pass 3: every directory block. Names are tracked across all the
    /// blocks of a directory: lookups stop at the first match, so a later
    /// entry with the same name is unreachable by name and is removed.
    pub(super) fn check_dirs(&mut self) -> io::Result<()> {
        self.verbose("Pass 3: directories");
        let dirs: Vec<u32> = self
            .files
            .iter()
            .filter(|(_, f)| f.ft == FileType::Directory)
            .map(|(&i, _)| i)
            .collect();
        for d in dirs {
            let Some(f) = self.files.get(&d) else {
                continue;
            };
            let ext = f.extents.clone();
            let nblocks = f.inode.size / self.bs();
            let mut names = HashMap::new();
            for fb in 0..nblocks {
                if let Some(db) = map_block(&ext, fb) {
                    self.check_dir_block(d, fb, db, &mut names)?;
                }
            }
        }
        Ok(())
    }

    /// Checks block `fb` (disk block `db`) of directory `d`. `names` holds
    /// the entries kept so far in the directory (name to inode).
    fn check_dir_block(
        &mut self,
        d: u32,
        fb: u64,
        db: u64,
        names: &mut HashMap<Vec<u8>, u32>,
    ) -> io::Result<()> {
        let seed = self.fs.seed;
        let mut buf = self.fs.read_block(db)?;
        let at = format!("directory {d} block {fb} (disk block {db})");
        let mut dirty = false;
        let mut rebuild = false;
        if let Err(e) = dir::check_block(&buf) {
            self.problem(
                format!("{at}: {e}"),
                Some("block rebuilt from its valid entries"),
            );
            rebuild = true;
        } else if fb == 0 {
            // As the kernel checks them (dir::check_dots): both typed as
            // directories.
            let dir_type = FileType::Directory.dirent_type();
            let first: Vec<(u32, Vec<u8>, u8)> = dir::records(&buf)
                .take(2)
                .filter_map(Result::ok)
                .map(|e| (e.ino, e.name.to_vec(), e.file_type))
                .collect();
            let dot_ok = first
                .first()
                .is_some_and(|(i, n, t)| *i == d && n == b"." && *t == dir_type);
            let dotdot_ok = first
                .get(1)
                .is_some_and(|(i, n, t)| *i != 0 && n == b".." && *t == dir_type);
            if !dot_ok || !dotdot_ok {
                self.problem(
                    format!("{at}: does not start with '.' and '..'"),
                    Some("block rebuilt"),
                );
                rebuild = true;
            }
        }
        if rebuild {
            buf = self.rebuild_dir_block(d, fb, &buf);
            dirty = true;
        } else if let Err(e) = dir::verify_csum(&buf, seed, d) {
            if e == dir::DirError::BadTail {
                self.problem(format!("{at}: {e}"), Some("tail and checksum rewritten"));
                let _ = dir::init_tail(&mut buf);
            } else {
                self.problem(format!("{at}: {e}"), Some("checksum recomputed"));
            }
            let _ = dir::set_csum(&mut buf, seed, d);
            dirty = true;
        }
        let recs: Vec<Rec> = dir::iter_from(&buf, 0)
            .filter_map(Result::ok)
            .map(|e| Rec {
                offset: e.offset,
                ino: e.ino,
                file_type: e.file_type,
                name: e.name.to_vec(),
            })
            .collect();
        let inode_count = self.fs.sb.inode_count;
        for (idx, r) in recs.iter().enumerate() {
            let name = show(&r.name);
            if fb == 0 && idx == 0 {
                continue; // '.', checked above
            }
            if fb == 0 && idx == 1 {
                self.dotdot.insert(d, (r.ino, db, r.offset));
                continue;
            }
            let mut remove = |c: &mut Self, buf: &mut Vec<u8>, why: String| {
                c.problem(
                    format!("directory {d}: entry '{name}' {why}"),
                    Some("entry removed"),
                );
                if dir::remove(buf, seed, d, r.offset).is_ok() {
                    dirty = true;
                }
            };
            if r.name == b"." || r.name == b".." {
                remove(
                    self,
                    &mut buf,
                    format!(
                        "at block {fb} offset {} is a misplaced '.' or '..'",
                        r.offset
                    ),
                );
                continue;
            }
            let Some(target) = self.files.get(&r.ino) else {
                let why = if r.ino >= inode_count {
                    format!("points to invalid inode {}", r.ino)
                } else {
                    format!("points to free inode {}", r.ino)
                };
                remove(self, &mut buf, why);
                continue;
            };
            let ft = target.ft;
            if let Some(&first) = names.get(&r.name) {
                remove(
                    self,
                    &mut buf,
                    format!(
                        "(inode {}) at block {fb} offset {} has the same name as an earlier entry (inode {first})",
                        r.ino, r.offset
                    ),
                );
                continue;
            }
            names.insert(r.name.clone(), r.ino);
            let want = ft.dirent_type();
            if r.file_type != want {
                self.problem(
                    format!("directory {d}: entry '{name}' (inode {}) has file type {}, should be {want}", r.ino, r.file_type),
                    Some("fixed"),
                );
                if dir::set_entry(&mut buf, seed, d, r.offset, r.ino, want).is_ok() {
                    dirty = true;
                }
            }
            if ft == FileType::Directory {
                self.subdirs.entry(d).or_default().push(SubdirRef {
                    child: r.ino,
                    block: db,
                    offset: r.offset,
                    name,
                });
            } else {
                let n = self.refs.entry(r.ino).or_default();
                *n = n.saturating_add(1);
            }
        }
        if dirty {
            self.fs.write_block(db, &buf)?;
        }
        Ok(())
    }

    /// A fresh block holding the valid entries of a damaged one (those
    /// before the first malformed record); the first block gets `.` and
    /// `..` (the old `..` if there was one, else the directory itself).
    fn rebuild_dir_block(&mut self, d: u32, fb: u64, old: &[u8]) -> Vec<u8> {
        let seed = self.fs.seed;
        let mut entries = Vec::new();
        let mut dotdot = None;
        for r in dir::records(old) {
            let Ok(e) = r else { break };
            if e.ino == 0 || e.name == b"." {
                continue;
            }
            if e.name == b".." {
                dotdot.get_or_insert(e.ino);
                continue;
            }
            entries.push((e.ino, e.file_type, e.name.to_vec()));
        }
        let mut buf = vec![0u8; self.fs.bs];
        let _ = if fb == 0 {
            dir::init_first_block(&mut buf, seed, d, dotdot.unwrap_or(d))
        } else {
            dir::init_block(&mut buf, seed, d)
        };
        for (ino, ft, name) in entries {
            if dir::insert(&mut buf, seed, d, ino, &name, ft).is_err() {
                self.problem(
                    format!(
                        "directory {d}: entry '{}' does not fit in the rebuilt block",
                        show(&name)
                    ),
                    Some("dropped"),
                );
            }
        }
        buf
    }

    /// Pass 4: reachability from the root, `..`, and unreferenced inodes.
    pub(super) fn check_connectivity(&mut self) -> io::Result<()> {
        self.verbose("Pass 4: connectivity");
        let mut visited: HashSet<u32> = HashSet::from([ROOT_INO]);
        self.parent.insert(ROOT_INO, ROOT_INO);
        self.bfs(ROOT_INO, &mut visited)?;
        loop {
            let unreached = self
                .files
                .iter()
                .find(|(i, f)| f.ft == FileType::Directory && !visited.contains(i))
                .map(|(&i, _)| i);
            let Some(u) = unreached else { break };
            // Climb '..' links through unreachable directories that really
            // contain the child, to attach whole subtrees at their top.
            let mut top = u;
            let mut seen = HashSet::from([u]);
            while let Some(&(p, _, _)) = self.dotdot.get(&top) {
                let links = self
                    .subdirs
                    .get(&p)
                    .is_some_and(|v| v.iter().any(|r| r.child == top));
                if visited.contains(&p) || seen.contains(&p) || !links {
                    break;
                }
                seen.insert(p);
                top = p;
            }
            visited.insert(top);
            match self.lost_found_dir(&mut visited)? {
                Some(lf) => {
                    let name = self.attach(lf, top, FileType::Directory)?;
                    self.problem(
                        format!("directory {top}: not reachable from the root"),
                        Some(&format!("moved to /lost+found as '{name}'")),
                    );
                    self.parent.insert(top, lf);
                }
                None => {
                    self.problem(
                        format!("directory {top}: not reachable from the root"),
                        None,
                    );
                    self.parent.insert(top, top);
                }
            }
            self.bfs(top, &mut visited)?;
        }
        // '..' of every directory names its parent.
        let dirs: Vec<(u32, u32)> = self.parent.iter().map(|(&d, &p)| (d, p)).collect();
        for (d, p) in dirs {
            let Some(&(cur, db, off)) = self.dotdot.get(&d) else {
                continue;
            };
            if cur != p && self.files.contains_key(&d) {
                self.problem(
                    format!("directory {d}: '..' is inode {cur}, should be {p}"),
                    Some("fixed"),
                );
                let seed = self.fs.seed;
                let mut buf = self.fs.read_block(db)?;
                if dir::set_entry(&mut buf, seed, d, off, p, FileType::Directory.dirent_type())
                    .is_ok()
                {
                    self.fs.write_block(db, &buf)?;
                }
                self.dotdot.insert(d, (p, db, off));
            }
        }
        // Unreferenced non-directories.
        let orphans: Vec<(u32, FileType)> = self
            .files
            .iter()
            .filter(|(i, f)| {
                f.ft != FileType::Directory && self.refs.get(i).copied().unwrap_or(0) == 0
            })
            .map(|(&i, f)| (i, f.ft))
            .collect();
        for (ino, ft) in orphans {
            match self.lost_found_dir(&mut visited)? {
                Some(lf) => {
                    let name = self.attach(lf, ino, ft)?;
                    self.problem(
                        format!("inode {ino}: not referenced by any directory"),
                        Some(&format!("moved to /lost+found as '{name}'")),
                    );
                    self.refs.insert(ino, 1);
                }
                None => self.problem(
                    format!("inode {ino}: not referenced by any directory"),
                    None,
                ),
            }
        }
        Ok(())
    }

    /// Breadth-first walk from `start`, assigning parents; any further link
    /// to an already reached directory (a loop or a directory hard link) is
    /// removed.
    fn bfs(&mut self, start: u32, visited: &mut HashSet<u32>) -> io::Result<()> {
        let mut queue = VecDeque::from([start]);
        while let Some(d) = queue.pop_front() {
            let children = self.subdirs.get(&d).cloned().unwrap_or_default();
            let mut kept = Vec::new();
            for r in children {
                if r.child == ROOT_INO || visited.contains(&r.child) {
                    self.problem(
                        format!(
                            "directory {d}: entry '{}' is a second link to directory {} (directory loop or hard link)",
                            r.name, r.child
                        ),
                        Some("entry removed"),
                    );
                    let seed = self.fs.seed;
                    let mut buf = self.fs.read_block(r.block)?;
                    if dir::remove(&mut buf, seed, d, r.offset).is_ok() {
                        self.fs.write_block(r.block, &buf)?;
                    }
                } else {
                    visited.insert(r.child);
                    self.parent.insert(r.child, d);
                    queue.push_back(r.child);
                    kept.push(r);
                }
            }
            self.subdirs.insert(d, kept);
        }
        Ok(())
    }

    /// `/lost+found`, created if missing. `None` if it cannot be had.
    fn lost_found_dir(&mut self, visited: &mut HashSet<u32>) -> io::Result<Option<u32>> {
        if self.lost_found.is_some() {
            return Ok(self.lost_found);
        }
        let found = self
            .subdirs
            .get(&ROOT_INO)
            .and_then(|v| v.iter().find(|r| r.name == "lost+found"))
            .map(|r| r.child);
        if let Some(lf) = found {
            self.lost_found = Some(lf);
            return Ok(self.lost_found);
        }
        if self.dir_lookup(ROOT_INO, b"lost+found")?.is_some() {
            // The name exists but is not a directory: use the root itself.
            self.lost_found = Some(ROOT_INO);
            return Ok(self.lost_found);
        }
        let Some(ino) = self.free_ino() else {
            self.problem(
                "root: no lost+found directory and no free inode to create one",
                None,
            );
            return Ok(None);
        };
        match self.make_dir(ino, ROOT_INO) {
            Ok(()) => {}
            Err(e) => {
                self.problem(
                    format!("root: no lost+found directory, cannot create one: {e}"),
                    None,
                );
                return Ok(None);
            }
        }
        if let Err(e) = self.link_dir_entry(ROOT_INO, b"lost+found", ino, FileType::Directory) {
            self.problem(format!("root: cannot add lost+found: {e}"), None);
            return Ok(None);
        }
        self.problem("root: no lost+found directory", Some("created"));
        self.subdirs.entry(ROOT_INO).or_default().push(SubdirRef {
            child: ino,
            block: 0,
            offset: 0,
            name: "lost+found".into(),
        });
        visited.insert(ino);
        self.parent.insert(ino, ROOT_INO);
        self.lost_found = Some(ino);
        Ok(self.lost_found)
    }

    /// Links `ino` into lost+found as `#ino`; returns the name used.
    fn attach(&mut self, lf: u32, ino: u32, ft: FileType) -> io::Result<String> {
        let mut name = format!("#{ino}");
        let mut n = 1;
        while self.dir_lookup(lf, name.as_bytes())?.is_some() {
            name = format!("#{ino}.{n}");
            n += 1;
        }
        if let Err(e) = self.link_dir_entry(lf, name.as_bytes(), ino, ft) {
            self.problem(
                format!("directory {lf}: cannot add entry '{name}': {e}"),
                None,
            );
        }
        if ft == FileType::Directory {
            self.subdirs.entry(lf).or_default().push(SubdirRef {
                child: ino,
                block: 0,
                offset: 0,
                name: name.clone(),
            });
        }
        Ok(name)
    }

    /// Finds a live entry by name in a directory.
    fn dir_lookup(&mut self, d: u32, name: &[u8]) -> io::Result<Option<u32>> {
        let Some(f) = self.files.get(&d) else {
            return Ok(None);
        };
        let ext = f.extents.clone();
        let n = f.inode.size / self.bs();
        for fb in 0..n {
            let Some(db) = map_block(&ext, fb) else {
                continue;
            };
            let buf = self.fs.read_block(db)?;
            if let Ok(Some(e)) = dir::find(&buf, name) {
                return Ok(Some(e.ino));
            }
        }
        Ok(None)
    }

    /// Adds an entry through the shared directory code and refreshes the
    /// directory's in-memory state (it may have grown).
    fn link_dir_entry(
        &mut self,
        d: u32,
        name: &[u8],
        ino: u32,
        ft: FileType,
    ) -> Result<(), crate::fs::FsError> {
        self.fs.dir_add(d, name, ino, ft, &mut self.owned)?;
        let inode = self.fs.read_inode(d)?;
        let (extents, tree) = self.fs.read_extents(d, &inode)?;
        if let Some(f) = self.files.get_mut(&d) {
            f.inode = inode;
            f.extents = extents;
            f.tree = tree;
        }
        Ok(())
    }

    /// Creates an empty directory at inode `ino` with parent `parent` (not
    /// linked anywhere).
    pub(super) fn make_dir(&mut self, ino: u32, parent: u32) -> Result<(), crate::fs::FsError> {
        let data = self.data();
        let (b, _) = self
            .owned
            .alloc(data.start, data.start, 1)
            .ok_or(crate::fs::FsError::NoSpace)?;
        let seed = self.fs.seed;
        let mut buf = vec![0u8; self.fs.bs];
        dir::init_first_block(&mut buf, seed, ino, parent)
            .map_err(|e| crate::fs::FsError::Dir(ino, e))?;
        self.fs.write_block(b, &buf)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let t = Timestamp { sec: now, nsec: 0 };
        let mut inode = Inode {
            mode: FileType::Directory.mode_bits() | 0o700,
            nlink: 2,
            size: self.bs(),
            atime: t,
            mtime: t,
            ctime: t,
            crtime: t,
            generation: 1,
            blocks: 1,
            ..Inode::default()
        };
        if ino == ROOT_INO {
            inode.mode = FileType::Directory.mode_bits() | 0o755;
        }
        tree::init_root(&mut inode.data).map_err(|e| crate::fs::FsError::Tree(ino, None, e))?;
        let ext = vec![Extent {
            file_block: 0,
            disk_block: b,
            len: 1,
            unwritten: false,
        }];
        self.fs
            .write_tree(ino, &mut inode, &ext, &[], &mut self.owned)?;
        self.fs.write_inode(ino, &inode)?;
        self.fs.write_ext(ino, &mapfs_format::xattr::InodeExt::default())?;
        self.files.insert(
            ino,
            FileInfo {
                inode,
                ft: FileType::Directory,
                extents: ext,
                tree: Vec::new(),
                dirty_tree: false,
                xattr_block: None,
                new_ext: None,
                dirty_inode: false,
            },
        );
        self.dotdot.insert(ino, (parent, b, dir::rec_len_for(1)));
        Ok(())
    }

    /// Replaces a missing or broken root with an empty directory.
    pub(super) fn recreate_root(&mut self) -> io::Result<()> {
        if let Some(f) = self.files.remove(&ROOT_INO) {
            for e in &f.extents {
                self.owned.set_range(e.disk_block, u64::from(e.len), false);
            }
            for &b in f.tree.iter().chain(f.xattr_block.iter()) {
                self.owned.set_range(b, 1, false);
            }
        }
        match self.make_dir(ROOT_INO, ROOT_INO) {
            Ok(()) => self.problem(
                "root directory (inode 1): missing or not a directory",
                Some("new empty root created"),
            ),
            Err(e) => self.problem(
                format!(
                    "root directory (inode 1): missing or not a directory; cannot recreate: {e}"
                ),
                None,
            ),
        }
        Ok(())
    }
}
