//! Extended attributes: the inode extension and the xattr block.
//!
//! With the incompat feature [`super::super_block::INCOMPAT_XATTR`] inodes
//! are 512 bytes: bytes 0..256 are the inode of [`super::inode`], bytes
//! 256..512 its extension:
//!
//! | off | size | field |
//! |----:|-----:|-------|
//! | 256 | 4 | magic `"MXAI"` |
//! | 260 | 4 | reserved (0) |
//! | 264 | 8 | xattr block (0: none) |
//! | 272 | 236 | in-inode entries |
//! | 508 | 4 | CRC32C of `uuid ‖ le64(ino) ‖ bytes 256..508` |
//!
//! An inode has at most one xattr block, which only it owns (counted in its
//! `blocks`):
//!
//! | off | size | field |
//! |----:|-----:|-------|
//! | 0 | 4 | magic `"MXAB"` |
//! | 4 | 4 | owner inode |
//! | 8 | bs − 12 | entries |
//! | bs − 4 | 4 | CRC32C of `uuid ‖ le64(owner) ‖ le64(block) ‖ bytes 0..bs−4` |
//!
//! An entry area holds entries back to back, ended by a zero byte or by
//! the end of the area:
//!
//! | off | size | field |
//! |----:|-----:|-------|
//! | 0 | 1 | namespace ([`Namespace`], 1..=5) |
//! | 1 | 1 | name length: 1..=255, or 0 for the two ACL namespaces |
//! | 2 | 2 | value length |
//! | 4 | n | name (no NUL) |
//! | 4 + n | v | value |
//!
//! The attributes of an inode are the in-inode entries followed by the
//! block's; no (namespace, name) appears twice. Writers fill the in-inode
//! area first, in order, and put the rest in the block ([`split`]).
//!
//! In memory an attribute set is a *list*: the entries back to back with
//! no terminator. The editing functions here take a list and write the
//! new one into a caller's buffer: no allocation.

use super::crc32c::meta_csum;
use super::le::*;

/// Offset of the extension in a 512-byte inode.
pub const EXT_OFFSET: usize = 256;
/// Size of an inode with the extension.
pub const EXT_INODE_SIZE: usize = 512;
/// Magic of the inode extension.
pub const EXT_MAGIC: u32 = u32::from_le_bytes(*b"MXAI");
/// Magic of an xattr block.
pub const BLOCK_MAGIC: u32 = u32::from_le_bytes(*b"MXAB");
/// Offset of the in-inode entries in the inode.
pub const EXT_AREA_OFFSET: usize = 272;
/// Size of the in-inode entry area.
pub const EXT_AREA_SIZE: usize = 236;
/// Offset of the extension's checksum in the inode.
pub const EXT_CSUM_OFFSET: usize = 508;
/// Offset of the entries in an xattr block.
pub const BLOCK_AREA_OFFSET: usize = 8;
/// Size of an entry header.
pub const ENTRY_HEADER: usize = 4;
/// Longest name (without the namespace prefix), as the VFS's `XATTR_NAME_MAX`.
pub const MAX_NAME_LEN: usize = 255;

/// The namespace of an attribute: what its name starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Namespace {
    /// `user.`
    User = 1,
    /// `trusted.`
    Trusted = 2,
    /// `security.`
    Security = 3,
    /// `system.posix_acl_access` (no name of its own).
    AclAccess = 4,
    /// `system.posix_acl_default` (no name of its own).
    AclDefault = 5,
}

impl Namespace {
    /// The namespace with on-disk index `i`.
    pub fn from_index(i: u8) -> Option<Self> {
        Some(match i {
            1 => Self::User,
            2 => Self::Trusted,
            3 => Self::Security,
            4 => Self::AclAccess,
            5 => Self::AclDefault,
            _ => return None,
        })
    }

    /// Whether attributes of this namespace have a name (the ACLs do not).
    pub fn named(self) -> bool {
        !matches!(self, Self::AclAccess | Self::AclDefault)
    }
}

/// Errors of the extension, xattr blocks and entry lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XattrError {
    /// The buffer is too short.
    TooShort,
    /// The magic number is wrong.
    BadMagic,
    /// The checksum does not match.
    BadChecksum,
    /// The block names another inode as its owner (the owner stored).
    WrongOwner(u32),
    /// A reserved field is not zero.
    Reserved,
    /// The entry at this offset of its area is malformed (namespace, name
    /// length, or runs past the area).
    BadEntry(usize),
    /// The entry at this offset repeats an earlier (namespace, name).
    Duplicate(usize),
    /// The attributes do not fit in the in-inode area and one block.
    NoSpace,
    /// The name is empty, too long, or given for an ACL namespace.
    BadName,
}

impl core::fmt::Display for XattrError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooShort => write!(f, "buffer too short"),
            Self::BadMagic => write!(f, "bad magic"),
            Self::BadChecksum => write!(f, "bad checksum"),
            Self::WrongOwner(o) => write!(f, "owned by inode {}", o),
            Self::Reserved => write!(f, "reserved field not zero"),
            Self::BadEntry(o) => write!(f, "bad entry at offset {}", o),
            Self::Duplicate(o) => write!(f, "entry at offset {} repeats a name", o),
            Self::NoSpace => write!(f, "attributes do not fit"),
            Self::BadName => write!(f, "bad attribute name"),
        }
    }
}

/// One attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Its namespace.
    pub ns: Namespace,
    /// Its name within the namespace (empty for the ACLs).
    pub name: &'a [u8],
    /// Its value.
    pub value: &'a [u8],
}

impl Entry<'_> {
    /// Bytes it takes in an area or list.
    pub fn size(&self) -> usize {
        ENTRY_HEADER + self.name.len() + self.value.len()
    }
}

/// Checks a name for namespace `ns`.
pub fn valid_name(ns: Namespace, name: &[u8]) -> bool {
    if ns.named() {
        !name.is_empty() && name.len() <= MAX_NAME_LEN
    } else {
        name.is_empty()
    }
}

/// The entries of an area (ended by a zero byte or its end) or of a list,
/// each with its offset; a malformed entry ends the iteration with an error.
pub struct Entries<'a> {
    area: &'a [u8],
    pos: usize,
    done: bool,
}

/// Iterates over the entries of `area`.
pub fn entries(area: &[u8]) -> Entries<'_> {
    Entries { area, pos: 0, done: false }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<(usize, Entry<'a>), XattrError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let at = self.pos;
        let Some(&idx) = self.area.get(at) else {
            self.done = true;
            return None;
        };
        if idx == 0 {
            self.done = true;
            return None;
        }
        let parsed = (|| {
            let ns = Namespace::from_index(idx)?;
            let nlen = usize::from(get_u8(self.area, at + 1)?);
            let vlen = usize::from(get_u16(self.area, at + 2)?);
            let name_start = at.checked_add(ENTRY_HEADER)?;
            let value_start = name_start.checked_add(nlen)?;
            let end = value_start.checked_add(vlen)?;
            let name = self.area.get(name_start..value_start)?;
            let value = self.area.get(value_start..end)?;
            valid_name(ns, name).then_some((Entry { ns, name, value }, end))
        })();
        match parsed {
            Some((e, end)) => {
                self.pos = end;
                Some(Ok((at, e)))
            }
            None => {
                self.done = true;
                Some(Err(XattrError::BadEntry(at)))
            }
        }
    }
}

/// Checks an area or list: every entry well formed; returns the bytes the
/// entries take.
pub fn check_area(area: &[u8]) -> Result<usize, XattrError> {
    let mut used = 0;
    for r in entries(area) {
        let (at, e) = r?;
        used = at + e.size();
    }
    Ok(used)
}

/// Checks a whole list: well formed and no (namespace, name) twice.
pub fn check_list(list: &[u8]) -> Result<(), XattrError> {
    let used = check_area(list)?;
    if used != list.len() {
        // A zero byte inside a list: the rest would be lost.
        return Err(XattrError::BadEntry(used));
    }
    for r in entries(list) {
        let (at, e) = r?;
        let first = find(list, e.ns, e.name)?.map(|(o, _)| o);
        if first != Some(at) {
            return Err(XattrError::Duplicate(at));
        }
    }
    Ok(())
}

/// The entry (offset, entry) of `list` with this namespace and name.
pub fn find<'a>(list: &'a [u8], ns: Namespace, name: &[u8]) -> Result<Option<(usize, Entry<'a>)>, XattrError> {
    for r in entries(list) {
        let (at, e) = r?;
        if e.ns == ns && e.name == name {
            return Ok(Some((at, e)));
        }
    }
    Ok(None)
}

fn put_entry(out: &mut [u8], at: usize, e: &Entry<'_>) -> Option<usize> {
    let vlen = u16::try_from(e.value.len()).ok()?;
    let nlen = u8::try_from(e.name.len()).ok()?;
    let end = at.checked_add(e.size())?;
    let dst = out.get_mut(at..end)?;
    dst[0] = e.ns as u8;
    dst[1] = nlen;
    dst[2..4].copy_from_slice(&vlen.to_le_bytes());
    dst[4..4 + e.name.len()].copy_from_slice(e.name);
    dst[4 + e.name.len()..].copy_from_slice(e.value);
    Some(end)
}

/// Writes `list` with the entry `(ns, name)` removed and, when `value` is
/// given, appended with that value, into `out`; returns the new list's
/// length. `out` needs `list.len() + 4 + name.len() + value.len()` bytes
/// at most. Whether the entry existed is the caller's question ([`find`]).
pub fn set(list: &[u8], ns: Namespace, name: &[u8], value: Option<&[u8]>, out: &mut [u8]) -> Result<usize, XattrError> {
    if !valid_name(ns, name) {
        return Err(XattrError::BadName);
    }
    let mut len = 0;
    for r in entries(list) {
        let (_, e) = r?;
        if e.ns == ns && e.name == name {
            continue;
        }
        len = put_entry(out, len, &e).ok_or(XattrError::TooShort)?;
    }
    if let Some(value) = value {
        if value.len() > usize::from(u16::MAX) {
            return Err(XattrError::NoSpace);
        }
        len = put_entry(out, len, &Entry { ns, name, value }).ok_or(XattrError::TooShort)?;
    }
    Ok(len)
}

/// Bytes of entries an xattr block of `block_size` holds.
pub fn block_area_size(block_size: u32) -> usize {
    (block_size as usize).saturating_sub(BLOCK_AREA_OFFSET + 4)
}

/// Where `list` is cut: its first `split(list)` bytes go in the inode, the
/// rest in the block. Whole entries, in order, as many as fit in the
/// in-inode area.
pub fn split(list: &[u8]) -> usize {
    let mut cut = 0;
    for r in entries(list) {
        let Ok((at, e)) = r else { break };
        if at + e.size() > EXT_AREA_SIZE {
            break;
        }
        cut = at + e.size();
    }
    cut
}

/// Whether `list` fits in the in-inode area and one block of
/// `block_size`; and whether it needs the block.
pub fn placement(list: &[u8], block_size: u32) -> Result<bool, XattrError> {
    let cut = split(list);
    let rest = list.len() - cut.min(list.len());
    if rest > block_area_size(block_size) {
        return Err(XattrError::NoSpace);
    }
    Ok(rest != 0)
}

/// The decoded extension of an inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InodeExt {
    /// The xattr block, 0 for none.
    pub block: u64,
    /// The in-inode entry area as on disk.
    pub area: [u8; EXT_AREA_SIZE],
}

impl Default for InodeExt {
    fn default() -> Self {
        Self { block: 0, area: [0; EXT_AREA_SIZE] }
    }
}

impl InodeExt {
    fn csum(buf: &[u8], seed: u32, ino: u32) -> Option<u32> {
        Some(meta_csum(seed, Some(u64::from(ino)), None, buf.get(EXT_OFFSET..EXT_CSUM_OFFSET)?))
    }

    /// Decodes the extension of inode `ino` from its 512-byte slot `buf`,
    /// checking magic, checksum, reserved field and the entries' shape.
    pub fn decode(buf: &[u8], seed: u32, ino: u32) -> Result<Self, XattrError> {
        let b = buf.get(..EXT_INODE_SIZE).ok_or(XattrError::TooShort)?;
        if get_u32(b, EXT_OFFSET) != Some(EXT_MAGIC) {
            return Err(XattrError::BadMagic);
        }
        if Some(get_u32(b, EXT_CSUM_OFFSET).unwrap_or(0)) != Self::csum(b, seed, ino) {
            return Err(XattrError::BadChecksum);
        }
        if get_u32(b, EXT_OFFSET + 4) != Some(0) {
            return Err(XattrError::Reserved);
        }
        let area: [u8; EXT_AREA_SIZE] = get_array(b, EXT_AREA_OFFSET).ok_or(XattrError::TooShort)?;
        check_area(&area)?;
        Ok(Self { block: get_u64(b, EXT_OFFSET + 8).unwrap_or(0), area })
    }

    /// The extension holding the in-inode part `entries` (at most
    /// [`EXT_AREA_SIZE`] bytes) and the xattr block `block`.
    pub fn new(entries: &[u8], block: u64) -> Result<Self, XattrError> {
        let mut area = [0; EXT_AREA_SIZE];
        area.get_mut(..entries.len()).ok_or(XattrError::NoSpace)?.copy_from_slice(entries);
        Ok(Self { block, area })
    }

    /// Encodes the extension into bytes 256..512 of inode `ino`'s slot.
    pub fn encode(&self, buf: &mut [u8], seed: u32, ino: u32) -> Result<(), XattrError> {
        let b = buf.get_mut(..EXT_INODE_SIZE).ok_or(XattrError::TooShort)?;
        zero(b, EXT_OFFSET, EXT_INODE_SIZE - EXT_OFFSET);
        put_u32(b, EXT_OFFSET, EXT_MAGIC);
        put_u64(b, EXT_OFFSET + 8, self.block);
        put_bytes(b, EXT_AREA_OFFSET, &self.area);
        let c = Self::csum(b, seed, ino).ok_or(XattrError::TooShort)?;
        put_u32(b, EXT_CSUM_OFFSET, c);
        Ok(())
    }

    /// The in-inode entries as a list (without the terminator and padding).
    pub fn entries(&self) -> &[u8] {
        let used = check_area(&self.area).unwrap_or(0);
        &self.area[..used]
    }
}

fn block_csum(buf: &[u8], seed: u32, owner: u32, block: u64) -> Option<u32> {
    let end = buf.len().checked_sub(4)?;
    Some(meta_csum(seed, Some(u64::from(owner)), Some(block), buf.get(..end)?))
}

/// Checks xattr block `block` of inode `owner` (a whole block in `buf`) and
/// returns its entries as a list.
pub fn decode_block(buf: &[u8], seed: u32, owner: u32, block: u64) -> Result<&[u8], XattrError> {
    if buf.len() < 1024 {
        return Err(XattrError::TooShort);
    }
    if get_u32(buf, 0) != Some(BLOCK_MAGIC) {
        return Err(XattrError::BadMagic);
    }
    let end = buf.len() - 4;
    if get_u32(buf, end) != block_csum(buf, seed, owner, block) {
        return Err(XattrError::BadChecksum);
    }
    let stored = get_u32(buf, 4).unwrap_or(0);
    if stored != owner {
        return Err(XattrError::WrongOwner(stored));
    }
    let area = buf.get(BLOCK_AREA_OFFSET..end).ok_or(XattrError::TooShort)?;
    let used = check_area(area)?;
    Ok(&area[..used])
}

/// Encodes xattr block `block` of inode `owner` holding the list
/// `entries` into `buf` (one whole block).
pub fn encode_block(buf: &mut [u8], seed: u32, owner: u32, block: u64, entries: &[u8]) -> Result<(), XattrError> {
    if buf.len() < 1024 {
        return Err(XattrError::TooShort);
    }
    let end = buf.len() - 4;
    buf.fill(0);
    put_u32(buf, 0, BLOCK_MAGIC);
    put_u32(buf, 4, owner);
    buf.get_mut(BLOCK_AREA_OFFSET..BLOCK_AREA_OFFSET + entries.len())
        .filter(|_| BLOCK_AREA_OFFSET + entries.len() <= end)
        .ok_or(XattrError::NoSpace)?
        .copy_from_slice(entries);
    let c = block_csum(buf, seed, owner, block).ok_or(XattrError::TooShort)?;
    put_u32(buf, end, c);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::XorShift;

    fn list_of(items: &[(Namespace, &[u8], &[u8])]) -> ([u8; 4096], usize) {
        let mut a = [0u8; 4096];
        let mut b = [0u8; 4096];
        let mut len = 0;
        for (ns, n, v) in items {
            len = set(&a[..len], *ns, n, Some(v), &mut b).unwrap();
            a[..len].copy_from_slice(&b[..len]);
        }
        (a, len)
    }

    #[test]
    fn set_replace_remove() {
        let (l, n) = list_of(&[(Namespace::User, b"a", b"1"), (Namespace::Trusted, b"a", b"22"), (Namespace::User, b"b", b"")]);
        let l = &l[..n];
        check_list(l).unwrap();
        assert_eq!(find(l, Namespace::Trusted, b"a").unwrap().unwrap().1.value, b"22");
        assert!(find(l, Namespace::Security, b"a").unwrap().is_none());
        let mut out = [0u8; 4096];
        let m = set(l, Namespace::User, b"a", Some(b"xyz"), &mut out).unwrap();
        let l2 = &out[..m];
        check_list(l2).unwrap();
        assert_eq!(find(l2, Namespace::User, b"a").unwrap().unwrap().1.value, b"xyz");
        assert_eq!(entries(l2).count(), 3);
        let mut out2 = [0u8; 4096];
        let k = set(l2, Namespace::User, b"a", None, &mut out2).unwrap();
        assert_eq!(entries(&out2[..k]).count(), 2);
        assert!(find(&out2[..k], Namespace::User, b"a").unwrap().is_none());
    }

    #[test]
    fn names_are_checked() {
        let mut out = [0u8; 64];
        assert_eq!(set(&[], Namespace::User, b"", Some(b"v"), &mut out), Err(XattrError::BadName));
        assert_eq!(set(&[], Namespace::AclAccess, b"x", Some(b"v"), &mut out), Err(XattrError::BadName));
        assert!(set(&[], Namespace::AclAccess, b"", Some(b"v"), &mut out).is_ok());
        let long = [b'n'; 256];
        assert_eq!(set(&[], Namespace::User, &long, Some(b"v"), &mut [0u8; 512]), Err(XattrError::BadName));
    }

    #[test]
    fn duplicates_and_zero_bytes_are_refused() {
        let (l, n) = list_of(&[(Namespace::User, b"a", b"1")]);
        let mut two = [0u8; 64];
        two[..n].copy_from_slice(&l[..n]);
        two[n..2 * n].copy_from_slice(&l[..n]);
        assert_eq!(check_list(&two[..2 * n]), Err(XattrError::Duplicate(n)));
        // Same name in another namespace is another attribute.
        let (l, n) = list_of(&[(Namespace::User, b"a", b"1"), (Namespace::Trusted, b"a", b"1")]);
        check_list(&l[..n]).unwrap();
        let mut z = [0u8; 16];
        z[..n.min(8)].copy_from_slice(&l[..n.min(8)]);
        assert!(check_list(&z[..9]).is_err());
    }

    #[test]
    fn split_and_placement() {
        let v = [7u8; 100];
        let (l, n) = list_of(&[(Namespace::User, b"a", &v), (Namespace::User, b"b", &v), (Namespace::User, b"c", &v)]);
        let l = &l[..n];
        // 105 bytes each: two fit in 236.
        assert_eq!(split(l), 210);
        assert_eq!(placement(l, 1024), Ok(true));
        assert_eq!(placement(&l[..210], 1024), Ok(false));
        let big = [1u8; 1100];
        let (l, n) = list_of(&[(Namespace::User, b"big", &big)]);
        assert_eq!(split(&l[..n]), 0);
        assert_eq!(placement(&l[..n], 1024), Err(XattrError::NoSpace));
        assert_eq!(placement(&l[..n], 2048), Ok(true));
    }

    #[test]
    fn extension_round_trip_and_corruption() {
        let (l, n) = list_of(&[(Namespace::Security, b"selinux", b"ctx"), (Namespace::AclAccess, b"", b"acl")]);
        let ext = InodeExt::new(&l[..n], 1234).unwrap();
        let mut slot = [0u8; 512];
        ext.encode(&mut slot, 99, 5).unwrap();
        let back = InodeExt::decode(&slot, 99, 5).unwrap();
        assert_eq!(back, ext);
        assert_eq!(back.entries(), &l[..n]);
        assert_eq!(InodeExt::decode(&slot, 99, 6), Err(XattrError::BadChecksum));
        let mut rng = XorShift(0x5eed);
        for _ in 0..2000 {
            let mut s = slot;
            let i = EXT_OFFSET + rng.below(256) as usize;
            s[i] ^= 1 << rng.below(8);
            assert!(InodeExt::decode(&s, 99, 5).is_err());
        }
        // The base inode's bytes are not part of the extension.
        let mut s = slot;
        s[0] ^= 1;
        assert!(InodeExt::decode(&s, 99, 5).is_ok());
        assert_eq!(InodeExt::decode(&[0u8; 512], 99, 5), Err(XattrError::BadMagic));
    }

    #[test]
    fn block_round_trip_and_corruption() {
        let (l, n) = list_of(&[(Namespace::User, b"k", &[3u8; 500])]);
        for bs in [1024usize, 2048, 4096] {
            let mut blk = [0u8; 4096];
            let b = &mut blk[..bs];
            encode_block(b, 7, 9, 300, &l[..n]).unwrap();
            assert_eq!(decode_block(b, 7, 9, 300).unwrap(), &l[..n]);
            assert_eq!(decode_block(b, 7, 9, 301), Err(XattrError::BadChecksum));
            assert_eq!(decode_block(b, 7, 10, 300), Err(XattrError::BadChecksum));
            let mut rng = XorShift(bs as u64);
            for _ in 0..500 {
                let mut c = [0u8; 4096];
                c[..bs].copy_from_slice(b);
                let i = rng.below(bs as u64) as usize;
                c[i] ^= 1 << rng.below(8);
                assert!(decode_block(&c[..bs], 7, 9, 300).is_err());
            }
        }
        let mut blk = [0u8; 1024];
        assert_eq!(encode_block(&mut blk, 7, 9, 300, &[1u8; 1013]), Err(XattrError::NoSpace));
    }

    #[test]
    fn random_areas_never_panic() {
        let mut rng = XorShift(42);
        let mut buf = [0u8; 600];
        for _ in 0..20_000 {
            let len = rng.below(600) as usize;
            rng.fill(&mut buf[..len]);
            if rng.below(2) == 0 {
                for b in buf[..len].iter_mut().step_by(3) {
                    *b %= 6;
                }
            }
            let _ = check_list(&buf[..len]);
            let _ = split(&buf[..len]);
            let _ = placement(&buf[..len], 1024);
            let mut out = [0u8; 1200];
            let _ = set(&buf[..len], Namespace::User, b"x", Some(b"y"), &mut out);
        }
    }
}
