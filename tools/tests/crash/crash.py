#!/usr/bin/env python3
"""The guest half of the crash test (tools/crash): one boot checks what the
previous boot's crash left on each disk, then (optionally) makes fresh
filesystems, runs a mixed writer on them and crashes the machine without
syncing (sysrq b: an immediate reset, no writeback, no unmount).

Every file is made of 16-byte self-describing records (magic, file id,
record index, generation, CRC32), so the check needs no copy of the data:
after the crash every 16 bytes of a file must be zeros or a valid record of
that very file at that very place. Marker bytes (what the free space held
before: every free block is filled with a marker first) or another file's
records are a violation: the file shows bytes it was never given. Files
that were fsync'd, or written with O_DIRECT|O_DSYNC (recorded in a
manifest on the host's 9p directory only after the call returned), must be
whole, among them O_TMPFILE files named by linkat after their fsync.
Files unlinked while open at the crash, and O_TMPFILE files never named
(orphans), must be freed by the next mount, and so must every inode no
entry names (a create or unlink the crash cut short): fsck finds none
after it.

    crash.py CASES_FILE [--check] [--write SEED]

CASES_FILE lists "fs/bs dev" lines; results go to $MAPFS_OUT/crash-*.
"""
import ctypes, mmap, os, random, struct, subprocess, sys, time, zlib

OUT = os.environ["MAPFS_OUT"]
MAGIC = b"\xc5\x1a"
MARK = b"STALE-MARKER-"
REC = 16


def record(fid, idx, gen):
    head = MAGIC + struct.pack("<HII", fid, idx, gen)
    return head + struct.pack("<I", zlib.crc32(head))


def records(fid, first, count, gen):
    return b"".join(record(fid, first + i, gen) for i in range(count))


def sh(*cmd, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stdout}{r.stderr}")
    return r


def cases(path):
    with open(path) as f:
        return [tuple(l.split()) for l in f if l.strip() and not l.startswith("#")]


def mnt_of(dev):
    return f"/tmp/crash-{os.path.basename(dev)}"


def log(msg):
    """To the console and to $MAPFS_OUT/crash-log (9p without caching: on
    the host at once, before any crash)."""
    print(msg, flush=True)
    with open(f"{OUT}/crash-log", "a") as f:
        f.write(msg + "\n")


# --- check ------------------------------------------------------------------

def check_file(path, fid, want_size):
    """Violations in one file: bytes it was not given, or (want_size) a
    fsync'd file that is not whole."""
    bad = []
    with open(path, "rb") as f:
        data = f.read()
    if want_size is not None and len(data) != want_size:
        bad.append(f"{path}: fsync'd at {want_size} bytes, now {len(data)}")
    for off in range(0, len(data) - len(data) % REC, REC):
        chunk = data[off:off + REC]
        if chunk == bytes(REC):
            if want_size is not None:
                bad.append(f"{path}: fsync'd data lost at {off}")
                break
            continue
        head = chunk[:12]
        ok = (chunk[:2] == MAGIC and struct.unpack("<I", chunk[12:])[0] == zlib.crc32(head))
        if ok:
            rfid, idx, _gen = struct.unpack("<HII", chunk[2:12])
            ok = rfid == fid and idx == off // REC
        if not ok:
            what = "marker" if MARK[:4] in chunk or b"MARK" in chunk else "foreign bytes"
            bad.append(f"{path}: {what} at {off}: {chunk!r}")
            break
    return bad


def fsck_lines(dev):
    r = sh("fsck.mapfs", "-n", "-f", dev, check=False)
    if r.returncode not in (0, 4):
        raise RuntimeError(f"fsck.mapfs -n {dev}: exit {r.returncode}: {r.stdout[-300:]}")
    return r.returncode, [l for l in r.stdout.splitlines() if l and not l.startswith(dev)]


def check(fs, bs, dev, tag):
    """The checks of one filesystem after a crash; True if it passes.

    mapfs: fsck -n first (its findings are reported: after a crash without
    a journal, leaked blocks and counts are expected, and orphans: files
    unlinked while open); then the kernel mounts it (recovering the
    namespace: what no entry names is freed) and every file is checked;
    after the unmount fsck -n must find no orphan, no unnamed inode and
    no wrong link count left, and fsck -y must leave it clean."""
    mnt = mnt_of(dev)
    os.makedirs(mnt, exist_ok=True)
    bad = []
    findings = []
    leaked = []
    if fs == "mapfs":
        _, findings = fsck_lines(dev)
    sh("mount", "-t", fs, dev, mnt)
    manifest = {}
    mpath = f"{OUT}/crash-manifest-{os.path.basename(dev)}"
    if os.path.exists(mpath):
        with open(mpath) as f:
            for l in f:
                name, size = l.split()
                manifest[name] = int(size)
    nfiles = 0
    unreadable = []
    for name in sorted(os.listdir(mnt)):
        if not name.startswith("f"):
            continue
        nfiles += 1
        try:
            bad += check_file(f"{mnt}/{name}", int(name[1:]), manifest.get(name))
        except OSError as e:
            # Metadata the crash left inconsistent (fsck's to repair);
            # an fsync'd file must not be among them.
            unreadable.append(f"{name}: {e.strerror}")
            if name in manifest:
                bad.append(f"{mnt}/{name}: fsync'd, now unreadable: {e.strerror}")
    for name in manifest:
        if not os.path.exists(f"{mnt}/{name}"):
            bad.append(f"{mnt}/{name}: fsync'd, then gone")
    sh("umount", mnt)
    if fs == "mapfs":
        _, after = fsck_lines(dev)
        left = [l for l in after if "unlinked while open" in l]
        # Inodes in use that no entry names and the mount did not free
        # (Documentation/mapfs/format.rst, "Namespace recovery").
        leaked = [l for l in after if "not referenced by any directory" in l]
        if left:
            bad.append(f"orphans left after the kernel's mount: {left[:3]}")
        if leaked:
            bad.append(f"inodes no entry names left after the kernel's mount: {leaked[:3]}")
        # The mount sets every link count to the entries naming the inode.
        links = [l for l in after if "link count" in l]
        if links:
            bad.append(f"link counts left wrong by the kernel's mount: {links[:3]}")
        r = sh("fsck.mapfs", "-y", "-f", dev, check=False)
        r2 = sh("fsck.mapfs", "-n", "-f", dev, check=False)
        if r2.returncode != 0:
            bad.append(f"fsck.mapfs -y did not leave it clean: -y exit {r.returncode}, then -n exit "
                       f"{r2.returncode}: " + "; ".join(r2.stdout.splitlines()[-3:]))
    else:
        r = sh("xfs_repair", "-n", dev, check=False)
        if r.returncode != 0:
            bad.append(f"xfs_repair -n after the check: exit {r.returncode}")
    orphans = sum(1 for l in findings if "unlinked while open" in l)
    log(f"RESULT {'PASS' if not bad else 'FAIL'} {tag}/{fs}-{bs} files={nfiles} "
        f"fsynced={len(manifest)} fsck-findings={len(findings)} (orphans {orphans}) "
        f"unreadable={len(unreadable)}" + (f" leaked-inodes={len(leaked)}" if fs == "mapfs" else ""))
    for l in findings[:12]:
        log(f"    fsck: {l}")
    for u in unreadable[:5]:
        log(f"    unreadable: {u}")
    for b in bad[:10]:
        log(f"    {b}")
    return not bad


# --- write and crash -----------------------------------------------------------

def mkfs(fs, bs, dev):
    if fs == "mapfs":
        sh("mkfs.mapfs", "-q", "-f", "-b", bs, "-s", "192M", dev)
    elif fs == "xfs":
        sh("env", "TEST_DIR=/tmp", "TEST_DEV=x", "QA_CHECK_FS=1", "mkfs.xfs", "-q", "-f",
           "-b", f"size={bs}", "-d", "size=320M", dev)
    else:
        raise RuntimeError(fs)


def direct_write(fd, data, off):
    """pwrite through O_DIRECT: the data from a page-aligned buffer."""
    buf = mmap.mmap(-1, len(data))
    buf.write(data)
    try:
        if os.pwrite(fd, buf, off) != len(data):
            raise RuntimeError(f"short direct write at {off}")
    finally:
        buf.close()


def link_unnamed(fd, path):
    """Names the O_TMPFILE file fd: linkat of /proc/self/fd/FD with
    AT_SYMLINK_FOLLOW."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.linkat(-100, f"/proc/self/fd/{fd}".encode(), -100, path.encode(), 0x400) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), path)


def writer(mnt, dev, seed, stop_at):
    """One filesystem's writer process: never returns (the crash ends it)."""
    rnd = random.Random(seed)
    mpath = f"{OUT}/crash-manifest-{os.path.basename(dev)}"
    man = os.open(mpath, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    files = {}  # id -> records written so far (appendable, not fsync'd)
    held = []  # descriptors of files unlinked while open
    fid = 0
    while time.monotonic() < stop_at:
        op = rnd.random()
        if op < 0.05 and len(held) < 16:
            # Unlinked while open, or never named (O_TMPFILE): an orphan
            # when the crash comes.
            fid += 1
            if rnd.random() < 0.5:
                fd = os.open(mnt, os.O_TMPFILE | os.O_RDWR, 0o644)
                os.write(fd, records(fid, 0, rnd.randrange(1, 4096), 0))
            else:
                fd = os.open(f"{mnt}/f{fid}", os.O_RDWR | os.O_CREAT | os.O_TRUNC)
                os.write(fd, records(fid, 0, rnd.randrange(1, 4096), 0))
                os.unlink(f"{mnt}/f{fid}")
            held.append(fd)
        elif op < 0.07:
            # An O_TMPFILE file written, fsync'd, named by linkat, then
            # fsync'd with its directory: promised whole (and never freed
            # as an orphan by the next mount).
            fid += 1
            n = rnd.randrange(1, 4096)
            name = f"f{fid}"
            fd = os.open(mnt, os.O_TMPFILE | os.O_RDWR, 0o644)
            os.write(fd, records(fid, 0, n, 0))
            os.fsync(fd)
            link_unnamed(fd, f"{mnt}/{name}")
            os.fsync(fd)
            dfd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
            os.fsync(dfd)
            os.close(dfd)
            os.close(fd)
            os.write(man, f"{name} {n * REC}\n".encode())
            os.fsync(man)
        elif op < 0.15:
            # Direct I/O (page-aligned buffers, offsets and lengths): a new
            # file, acknowledged with O_DSYNC (promised whole) or not; or
            # an append to an unsynced file past a hole up to the next page.
            # Blocks a direct write allocates are unwritten until its I/O
            # completes: a crash in between must leave zeros, not marker.
            pages = rnd.randrange(1, 64)
            if rnd.random() < 0.6 or not files:
                fid += 1
                name = f"f{fid}"
                sync = rnd.random() < 0.5
                flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT | (os.O_DSYNC if sync else 0)
                fd = os.open(f"{mnt}/{name}", flags)
                direct_write(fd, records(fid, 0, pages * 256, 4), 0)
                os.close(fd)
                if sync:
                    os.write(man, f"{name} {pages * 4096}\n".encode())
                    os.fsync(man)
                else:
                    files[fid] = pages * 256
            else:
                f = rnd.choice(list(files))
                first = -(-files[f] // 256) * 256
                fd = os.open(f"{mnt}/f{f}", os.O_WRONLY | os.O_DIRECT)
                direct_write(fd, records(f, first, pages * 256, 4), first * REC)
                os.close(fd)
                files[f] = first + pages * 256
        elif op < 0.35 or not files:
            # A new file, fsync'd or not.
            fid += 1
            n = rnd.randrange(1, 4096) * (64 if rnd.random() < 0.2 else 1)
            name = f"f{fid}"
            fd = os.open(f"{mnt}/{name}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.write(fd, records(fid, 0, n, 0))
            if rnd.random() < 0.5:
                os.fsync(fd)
                os.close(fd)
                # Only now: a line here promises a whole file after the crash.
                os.write(man, f"{name} {n * REC}\n".encode())
                os.fsync(man)
            else:
                os.close(fd)
                files[fid] = n
        elif op < 0.6:
            # Append to an unsynced file (sometimes past a hole).
            f = rnd.choice(list(files))
            gap = rnd.randrange(0, 512) if rnd.random() < 0.3 else 0
            n = rnd.randrange(1, 2048)
            fd = os.open(f"{mnt}/f{f}", os.O_WRONLY)
            os.pwrite(fd, records(f, files[f] + gap, n, 1), (files[f] + gap) * REC)
            os.close(fd)
            files[f] += gap + n
        elif op < 0.8:
            # Overwrite records in place, a new generation.
            f = rnd.choice(list(files))
            first = rnd.randrange(0, files[f])
            n = min(rnd.randrange(1, 1024), files[f] - first)
            fd = os.open(f"{mnt}/f{f}", os.O_WRONLY)
            os.pwrite(fd, records(f, first, n, 2), first * REC)
            os.close(fd)
        else:
            # Shared-mapping stores into a file made sparse (or preallocated).
            fid += 1
            pages = rnd.randrange(1, 64)
            name = f"f{fid}"
            fd = os.open(f"{mnt}/{name}", os.O_RDWR | os.O_CREAT | os.O_TRUNC)
            if rnd.random() < 0.5:
                os.posix_fallocate(fd, 0, pages * 4096)
            else:
                os.ftruncate(fd, pages * 4096)
            m = mmap.mmap(fd, pages * 4096)
            for p in rnd.sample(range(pages), max(1, pages // 2)):
                m[p * 4096:(p + 1) * 4096] = records(fid, p * 256, 256, 3)
            m.close()
            os.close(fd)
            files[fid] = pages * 256
    while True:
        time.sleep(1)


def write_and_crash(all_cases, seed):
    rnd = random.Random(seed)
    for fs, dev in all_cases:
        fs_, bs = fs.split("/")
        mnt = mnt_of(dev)
        os.makedirs(mnt, exist_ok=True)
        mkfs(fs_, bs, dev)
        sh("mount", "-t", fs_, dev, mnt)
        # Every free block holds the marker (most of them: 60%).
        st = os.statvfs(mnt)
        n = (st.f_bavail * st.f_frsize * 6 // 10) >> 20
        chunk = (MARK * ((1 << 20) // len(MARK) + 1))[:1 << 20]
        fd = os.open(f"{mnt}/marker", os.O_WRONLY | os.O_CREAT)
        for _ in range(n):
            os.write(fd, chunk)
        os.fsync(fd)
        os.close(fd)
        os.unlink(f"{mnt}/marker")
        sh("sync")
        try:
            os.unlink(f"{OUT}/crash-manifest-{os.path.basename(dev)}")
        except FileNotFoundError:
            pass
    # Frequent background writeback: the crash finds writes at every stage.
    for knob, v in (("dirty_expire_centisecs", "100"), ("dirty_writeback_centisecs", "20")):
        with open(f"/proc/sys/vm/{knob}", "w") as f:
            f.write(v)
    run_for = rnd.uniform(4, 12)
    log(f"crash: seed {seed}: writing for {run_for:.1f} s, then sysrq b")
    stop_at = time.monotonic() + run_for + 30
    for i, (fs, dev) in enumerate(all_cases):
        if os.fork() == 0:
            writer(mnt_of(dev), dev, seed * 100 + i, stop_at)
    time.sleep(run_for)
    with open("/proc/sysrq-trigger", "w") as f:
        f.write("b")
    time.sleep(60)
    log("crash: still running 60 s after sysrq b")
    sys.exit(3)


def main():
    all_cases = cases(sys.argv[1])
    args = sys.argv[2:]
    ok = True
    if "--check" in args:
        tag = args[args.index("--check") + 1]
        for fs, dev in all_cases:
            f, b = fs.split("/")
            try:
                ok &= check(f, b, dev, tag)
            except Exception as e:  # a failed mount, fsck, ...
                log(f"RESULT FAIL {tag}/{f}-{b} {e}")
                ok = False
    if "--write" in args:
        sys.stdout.flush()
        write_and_crash(all_cases, int(args[args.index("--write") + 1]))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
