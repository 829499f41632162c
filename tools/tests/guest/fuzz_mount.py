#!/usr/bin/env python3
# In-kernel fuzz-mount harness (runs in the guest; make fuzz-mount, and a
# short run as the guest test fuzz-mount in make check).
#
# For each block size it builds a base image on tmpfs (mkfs.mapfs, the known
# tree of mapfs-populate, then files, a deep extent tree and directories the
# kernel itself writes), and for each seed:
#   1. copies the base and lets mapfs-corrupt make 1-3 structure-aware
#      changes with recomputed checksums (so they reach the filesystem logic);
#   2. runs fsck.mapfs -n -f on the copy (it must not crash: exit 0 or 4),
#      then, for every seed S with S/2 odd, marks it not cleanly unmounted
#      (mapfs-corrupt --set-sb 192 2 0), so that the mount recovers the
#      namespace from the damaged directories (free what no entry names);
#   3. attaches it to a loop device, mounts it (odd seeds with
#      errors=remount-ro, so that the first corruption found stops every
#      change), walks it (stat, read every
#      file, readlink, readdir, xattrs, SEEK_DATA/SEEK_HOLE, FIEMAP, a
#      direct read), writes (create, write, fallocate, a shared mapping
#      store, mkdir, rename, unlink, truncate, link, chmod, xattrs, and on
#      an existing file: overwrite, mapping store, punch, zero and
#      collapse range, growing it past EOF by truncate and by a write after
#      a gap), syncs,
#      walks again and unmounts; each image's work runs in a child process
#      with a time limit;
#   4. reads the kernel log records the image caused.
# The run fails on a kernel splat (KASAN, lockdep, BUG, WARNING, Oops, Rust
# panic, ...), a hang (the child or a mount/umount past its limit), an fsck
# crash, or an image the kernel refused (EUCLEAN/EIO or a mapfs error line)
# that fsck -n called clean. Images neither noticed are counted (most touch
# fields nothing checks, such as timestamps). Every failure names its block
# size and seed; the base images stay in OUT/fuzz so that
#   cp OUT/fuzz/base-BS.img x.img; mapfs-corrupt x.img --seed S --changes C
# rebuilds the image (add mapfs-corrupt x.img --set-sb 192 2 0 when the
# failure says "unclean"). The base is built, and copied for each image, on the
# guest's tmpfs (BASE_DIR): OUT is a 9p share without a page cache, and
# reading 8 MiB from it per image was a large part of an image's time.
#
# Its images go on a loop device of its own (FUZZ_LOOP, default loop200,
# made through /dev/loop-control), never one that `losetup -f` hands out:
# the other lane of make check (hostile-images) attaches images too, and
# each test judges the kernel lines naming its own device.
#
# FUZZ_JOBS > 1 splits each block size's seeds over that many worker
# processes (this script again, with FUZZ_WORKER set), each with its own loop
# device (FUZZ_LOOP + i), mount point and image; a kernel splat is then
# reported by every worker that sees it, naming its own image "or another
# worker's".
#
# Environment: FUZZ_IMAGES (per block size), FUZZ_SEED (first seed),
# FUZZ_BS (block sizes), FUZZ_JOBS, FUZZ_LOOP, MAPFS_TOP, MAPFS_OUT.
import ctypes
import errno
import fcntl
import json
import mmap
import os
import re
import shutil
import struct
import subprocess
import sys
import time

TOP = os.environ["MAPFS_TOP"]
OUT = os.path.join(os.environ["MAPFS_OUT"], "fuzz")
TOOLS = os.path.join(TOP, "tools/target/release")
IMAGES = int(os.environ.get("FUZZ_IMAGES", "6"))
FIRST = int(os.environ.get("FUZZ_SEED", "1"))
BLOCK_SIZES = [int(b) for b in os.environ.get("FUZZ_BS", "1024 2048 4096").split()]
IMAGE_MB = 8
BASE_DIR = "/tmp"
# Time limits: hang detectors, not speed checks (an image takes ~5 s).
CHILD_LIMIT = 180
CMD_LIMIT = 120
LOOP_NR = int(os.environ.get("FUZZ_LOOP", "200"))
# Parallel workers per block size (loop devices LOOP_NR.., seeds split
# round-robin): the guest has two vCPUs and one image's work is serial.
JOBS = int(os.environ.get("FUZZ_JOBS", "1"))
LOOP_CTL_ADD = 0x4C80
LOOP_SET_FD, LOOP_CLR_FD = 0x4C00, 0x4C01

SPLAT = re.compile(
    r"^(BUG: |WARNING: |INFO: task .* blocked for more than|Oops|Kernel panic|"
    r"kernel BUG at|general protection fault|UBSAN: |KFENCE: |watchdog: BUG|"
    r"rcu: INFO: .*detected stall|.*panicked at |Unable to handle kernel|"
    r"stack segment: |divide error: |invalid opcode: |possible circular locking|"
    r"============================================)"
)
NOTICED_ERRNOS = {errno.EUCLEAN, errno.EIO}
FS_IOC_FIEMAP = 0xC020660B
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 0x01, 0x02
FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_ZERO_RANGE = 0x08, 0x10
LIBC = ctypes.CDLL(None, use_errno=True)


def fallocate(fd, mode, offset, length):
    if LIBC.fallocate(fd, mode, ctypes.c_int64(offset), ctypes.c_int64(length)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def tool(name):
    return os.path.join(TOOLS, name)


PHASES = {}


def timed(phase, t0):
    PHASES[phase] = PHASES.get(phase, 0.0) + time.monotonic() - t0


def run(cmd, limit=CMD_LIMIT, check=False):
    """Runs cmd; returns (exit status, output). A time-out is a hang: 124."""
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=limit)
    except subprocess.TimeoutExpired:
        return 124, "timed out after %ds" % limit
    out = p.stdout.decode(errors="replace")
    timed(os.path.basename(cmd[0]), t0)
    if check and p.returncode != 0:
        raise SystemExit("%s: exit %d\n%s" % (" ".join(cmd), p.returncode, out))
    return p.returncode, out


def ioctl_on(path, request, arg=0):
    """Opens path read-write, makes one ioctl on it and closes it."""
    fd = os.open(path, os.O_RDWR)
    try:
        return fcntl.ioctl(fd, request, arg)
    finally:
        os.close(fd)


def own_loop():
    """This harness' loop device, /dev/loopLOOP_NR, created if missing."""
    dev = "/dev/loop%d" % LOOP_NR
    try:
        ioctl_on("/dev/loop-control", LOOP_CTL_ADD, LOOP_NR)
    except OSError as e:
        if e.errno != errno.EEXIST:
            raise
    for _ in range(100):  # devtmpfs makes the node
        if os.path.exists(dev):
            return dev
        time.sleep(0.05)
    raise SystemExit("%s did not appear after LOOP_CTL_ADD" % dev)


def attach(path):
    """Attaches path to this harness' loop device: (0, device) or (1, error).
    The ioctls losetup would make, without its fork and exec (which took a
    tenth of the workers' time); no time limit, as the outer one of the VM
    catches a loop ioctl that never returns."""
    dev = own_loop()
    t0 = time.monotonic()
    try:
        ffd = os.open(path, os.O_RDWR)
        try:
            ioctl_on(dev, LOOP_SET_FD, ffd)
        finally:
            os.close(ffd)
    except OSError as e:
        return 1, "%s: %s" % (dev, e)
    finally:
        timed("loop", t0)
    return 0, dev


def detach(dev, check=False):
    """Detaches dev (LOOP_CLR_FD, as losetup -d)."""
    t0 = time.monotonic()
    try:
        ioctl_on(dev, LOOP_CLR_FD)
    except OSError as e:
        if check:
            raise SystemExit("detaching %s: %s" % (dev, e))
    finally:
        timed("loop", t0)


class Kmsg:
    """The kernel log records since the last call."""

    def __init__(self):
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)

    def read(self):
        recs = []
        while True:
            try:
                r = os.read(self.fd, 8192)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno == errno.EPIPE:  # overwritten records: skip on
                    continue
                raise
            head, _, msg = r.decode(errors="replace").partition(";")
            level = int(head.split(",")[0]) & 7
            recs.append((level, msg.split("\n")[0]))
        return recs


def kernel_writes(mnt, bs):
    """Structures the kernel writes itself: a fragmented file (a deep extent
    tree at 1 KiB blocks), a preallocated one, a directory of many entries,
    nested directories and symlinks."""
    os.makedirs(os.path.join(mnt, "k/a/b/c"))
    fd = os.open(os.path.join(mnt, "k/frag"), os.O_CREAT | os.O_WRONLY, 0o644)
    for i in range(0, 400):
        os.pwrite(fd, bytes([i % 251]) * 100, 2 * i * bs)
    os.close(fd)
    fd = os.open(os.path.join(mnt, "k/prealloc"), os.O_CREAT | os.O_WRONLY, 0o600)
    os.posix_fallocate(fd, 0, 64 * bs)
    os.pwrite(fd, b"x" * bs, 8 * bs)
    os.close(fd)
    for i in range(60):
        with open(os.path.join(mnt, "k/a/n%03d" % i), "wb") as f:
            f.write(b"k" * (i * 37))
    os.symlink("../hello.txt", os.path.join(mnt, "k/link"))
    os.symlink("t" * 400, os.path.join(mnt, "k/a/b/longlink"))


def base_path(bs):
    """The base image the workers copy, on tmpfs (a copy stays in OUT)."""
    return os.path.join(BASE_DIR, "fuzz-base-%d.img" % bs)


def make_base(bs, path, mnt):
    with open(path, "wb") as f:
        f.truncate(IMAGE_MB << 20)
    run([tool("mkfs.mapfs"), "-q", "-f", "-b", str(bs), path], check=True)
    run([tool("mapfs-populate"), path], check=True)
    rc, loop = attach(path)
    if rc != 0:
        raise SystemExit("attaching the base image: %s" % loop)
    run(["mount", "-t", "mapfs", loop, mnt], check=True)
    try:
        kernel_writes(mnt, bs)
    finally:
        run(["umount", mnt], check=True)
        detach(loop, check=True)
    rc, out = run([tool("fsck.mapfs"), "-n", "-f", path])
    if rc != 0:
        raise SystemExit("base image %d is not clean (fsck exit %d):\n%s" % (bs, rc, out))


def exercise(mnt, seed):
    """The work on one mounted image; returns the errnos seen."""
    seen = set()

    def do(f, *a):
        try:
            return f(*a)
        except OSError as e:
            seen.add(e.errno)
            return None

    def walk():
        files, dirs = [], []
        for root, ds, fs in os.walk(mnt, onerror=lambda e: seen.add(e.errno)):
            for name in ds + fs:
                p = os.path.join(root, name)
                st = do(os.lstat, p)
                if st is None:
                    continue
                if os.path.islink(p):
                    do(os.readlink, p)
                elif name in fs and os.path.isfile(p):
                    files.append(p)
                    def read_all(p=p):
                        with open(p, "rb") as f:
                            while f.read(1 << 20):
                                pass
                    do(read_all)
                if not os.path.islink(p):
                    do(read_xattrs, p)
                elif name in ds:
                    dirs.append(p)
        return files, dirs

    def report(p):
        """The file's map as SEEK_DATA/SEEK_HOLE, FIEMAP and a direct
        read see it."""
        fd = os.open(p, os.O_RDONLY)
        try:
            off = 0
            for _ in range(256):
                try:
                    off = os.lseek(fd, os.lseek(fd, off, os.SEEK_DATA), os.SEEK_HOLE)
                except OSError as e:
                    if e.errno != errno.ENXIO:
                        raise
                    break
            buf = bytearray(32 + 56 * 32)
            struct.pack_into("QQIIII", buf, 0, 0, (1 << 64) - 1, 0, 0, 32, 0)
            fcntl.ioctl(fd, FS_IOC_FIEMAP, buf)
        finally:
            os.close(fd)
        fd = os.open(p, os.O_RDONLY | os.O_DIRECT)
        try:
            with mmap.mmap(-1, 65536) as m:
                os.preadv(fd, [m], 0)
        finally:
            os.close(fd)

    def read_xattrs(p):
        for n in os.listxattr(p, follow_symlinks=False):
            do(lambda n=n: os.getxattr(p, n, follow_symlinks=False))

    def reshape(p):
        """Changes an existing file's map in place: overwrite, a store
        through a shared mapping, punch, zero range, collapse, and growing
        it twice past its EOF (truncate, then a write after a gap)."""
        fd = os.open(p, os.O_RDWR)
        try:
            size = os.fstat(fd).st_size
            os.pwrite(fd, b"o" * 3000, 0)
            # The write may be short (a full or damaged filesystem): map
            # what the file holds now, not what it would have held.
            held = os.fstat(fd).st_size
            if held > 20:
                with mmap.mmap(fd, min(held, 8192)) as m:
                    m[10:20] = b"q" * 10
                    m.flush()
            if size > 65536:
                fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192)
                fallocate(fd, FALLOC_FL_ZERO_RANGE, 20000, 30000)
                fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 16384, 16384)
            size = os.fstat(fd).st_size
            os.ftruncate(fd, size + 3 * 65536 + 100)
            os.pwrite(fd, b"g" * 1000, os.fstat(fd).st_size + 200000)
            os.fsync(fd)
        finally:
            os.close(fd)

    files, dirs = walk()
    # Every eighth file (a direct read of each costs too much under TCG).
    for p in files[seed % 8::8]:
        do(report, p)
    new = os.path.join(mnt, "fz-new")

    def write_new():
        fd = os.open(new, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            os.pwrite(fd, b"n" * 65536, 0)
            os.pwrite(fd, b"m" * 5000, 1 << 20)
            os.posix_fallocate(fd, 2 << 20, 100000)
            os.ftruncate(fd, (2 << 20) + 200000)
            m = mmap.mmap(fd, 8192)
            m[100:200] = b"s" * 100
            m.flush()
            m.close()
            os.fsync(fd)
        finally:
            os.close(fd)

    do(write_new)
    do(os.mkdir, os.path.join(mnt, "fz-dir"))
    pick = lambda k: files[(seed + k) % len(files)] if files else None
    f0, f1, f2, f3, f4 = (pick(k) for k in range(5))
    if f0:
        do(os.rename, f0, os.path.join(mnt, "fz-dir/moved"))
    if f1 and f1 != f0:
        do(os.unlink, f1)
    if f2 and f2 not in (f0, f1):
        st = do(os.stat, f2)
        if st:
            do(os.truncate, f2, st.st_size // 2)

    def append(p):
        with open(p, "ab") as f:
            f.write(b"a" * 5000)

    if f3 and f3 not in (f0, f1, f2):
        do(append, f3)
    if f4 and f4 not in (f0, f1):
        do(os.link, f4, os.path.join(mnt, "fz-link"))
        do(os.chmod, f4, 0o600)
        do(os.setxattr, f4, "user.fz", b"v" * 100)
    f5 = pick(5)
    if f5 and f5 not in (f0, f1):
        do(reshape, f5)
        names = do(os.listxattr, f5) or []
        if names:
            do(os.removexattr, f5, names[0])
    if dirs:
        d = dirs[seed % len(dirs)]
        do(os.rename, d, os.path.join(mnt, "fz-dir/d"))
        do(os.mkdir, os.path.join(mnt, "fz-dir/d/sub"))
        do(os.rmdir, os.path.join(mnt, "fz-dir/d/sub"))
    do(os.sync)
    walk()
    if f5:
        do(report, f5)
    return seen


def in_child(fn, *args):
    """Runs fn in a child process with CHILD_LIMIT; returns (result, hung)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            res = fn(*args)
            os.write(w, repr(sorted(res)).encode())
            os._exit(0)
        except BaseException as e:  # noqa: B902 - report anything
            os.write(w, ("error: %r" % e).encode())
            os._exit(1)
    os.close(w)
    deadline = time.monotonic() + CHILD_LIMIT
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            data = os.read(r, 65536).decode()
            os.close(r)
            return data, False
        time.sleep(0.05)
    os.close(r)
    return None, True


def sysrq_w():
    try:
        with open("/proc/sysrq-trigger", "w") as f:
            f.write("w")
    except OSError:
        pass


def fuzz_images(bs, base, seeds, loop_nr, mnt, img):
    """Crafts, checks, mounts and exercises one image per seed on
    /dev/loopLOOP_NR; returns (tally, failures)."""
    global LOOP_NR
    LOOP_NR = loop_nr
    kmsg = Kmsg()
    tally = dict(images=0, mount_refused=0, op_refused=0, fsck_found=0, fsck_missed=0,
                 neither=0, splats=0, hangs=0, fsck_crash=0, went_ro=0, unclean=0)
    failures = []
    for seed in seeds:
        changes = 1 + seed % 3
        tag = "bs %d seed %d changes %d" % (bs, seed, changes)
        t1 = time.monotonic()
        shutil.copyfile(base, img)
        timed("copy", t1)
        rc, what = run([tool("mapfs-corrupt"), img, "--seed", str(seed),
                        "--changes", str(changes)])
        if rc != 0:
            failures.append("%s: mapfs-corrupt exit %d: %s" % (tag, rc, what.strip()))
            continue
        what = "; ".join(what.strip().splitlines())
        tally["images"] += 1
        frc, fout = run([tool("fsck.mapfs"), "-n", "-f", img])
        if frc not in (0, 4):
            tally["fsck_crash"] += 1
            failures.append("%s (%s): fsck -n exit %d:\n%s" % (tag, what, frc, fout[-2000:]))
        if (seed // 2) % 2 == 1:
            # After fsck: its verdict is on the damage, not on the state.
            rc, out = run([tool("mapfs-corrupt"), img, "--set-sb", "192", "2", "0"])
            if rc != 0:
                failures.append("%s: marking it unclean: exit %d: %s" % (tag, rc, out.strip()))
                continue
            tag += " unclean"
            tally["unclean"] += 1
        rc, loop = attach(img)
        if rc != 0:
            failures.append("%s: attaching the image: %s" % (tag, loop))
            break
        noticed = False
        hung = False
        # Every other image with errors=remount-ro: the first corruption
        # found then stops every change, which takes other paths (writeback
        # refused, the super block alone written at unmount).
        ro_on_error = seed % 2 == 1
        opts = ["-o", "errors=remount-ro"] if ro_on_error else []
        mrc, mout = run(["mount", "-t", "mapfs"] + opts + [loop, mnt])
        if mrc == 124:
            hung = True
        elif mrc != 0:
            tally["mount_refused"] += 1
            noticed = True
        else:
            t1 = time.monotonic()
            res, hung = in_child(exercise, mnt, seed)
            timed("work", t1)
            if not hung:
                if res and res.startswith("error"):
                    failures.append("%s (%s): harness %s" % (tag, what, res))
                elif res and any(int(x) in NOTICED_ERRNOS for x in re.findall(r"\d+", res)):
                    tally["op_refused"] += 1
                    noticed = True
                urc, uout = run(["umount", mnt])
                if urc == 124:
                    hung = True
                elif urc != 0:
                    failures.append("%s (%s): umount: %s" % (tag, what, uout.strip()))
                    run(["umount", "-l", mnt])
        if hung:
            tally["hangs"] += 1
            sysrq_w()
            failures.append("%s (%s): HANG (mount, work or umount past its limit)" % (tag, what))
            break
        detach(loop)
        recs = kmsg.read()
        # A splat names no image: with parallel workers, each worker sees
        # it, and it belongs to this image or to the other workers' ones.
        splats = [m for lvl, m in recs if SPLAT.match(m)]
        if splats:
            tally["splats"] += 1
            failures.append("%s (%s)%s: kernel splat: %s" % (
                tag, what, " or another worker's image" if JOBS > 1 else "",
                " | ".join(splats[:3])))
        # Only this image's lines: the tests of the other lane of
        # make check, and the other workers, log lines of their own devices.
        own = "mapfs: %s: " % os.path.basename(loop)
        if any(lvl <= 3 and m.startswith(own) for lvl, m in recs):
            noticed = True
        if ro_on_error and any(m.startswith(own + "corruption found: read-only") for _, m in recs):
            tally["went_ro"] += 1
        if frc == 4:
            tally["fsck_found"] += 1
        elif frc == 0 and noticed:
            tally["fsck_missed"] += 1
            lines = [m for lvl, m in recs if lvl <= 3 and m.startswith(own)][:3]
            failures.append("%s (%s): the kernel refused it, fsck -n called it clean: %s"
                            % (tag, what, " | ".join(lines) or "errno only"))
        elif frc == 0:
            tally["neither"] += 1
    if os.path.exists(img):
        os.remove(img)
    return tally, failures


def worker():
    """A parallel worker (FUZZ_WORKER=i of FUZZ_JOBS): every JOBS-th seed of
    one block size on its own loop device, mount point and image; prints
    one JSON line for the parent."""
    i = int(os.environ["FUZZ_WORKER"])
    bs = BLOCK_SIZES[0]
    mnt = "/tmp/fuzz-mnt-%d" % i
    os.makedirs(mnt, exist_ok=True)
    seeds = range(FIRST + i, FIRST + IMAGES, JOBS)
    tally, failures = fuzz_images(bs, base_path(bs), seeds,
                                  LOOP_NR + i, mnt, "/tmp/fuzz-%d.img" % i)
    print(json.dumps(dict(tally=tally, failures=failures, phases=PHASES)), flush=True)
    return 0


def in_workers(bs):
    """Runs JOBS workers over one block size's seeds; merges their results."""
    procs = []
    for i in range(JOBS):
        env = dict(os.environ, FUZZ_WORKER=str(i), FUZZ_BS=str(bs))
        procs.append(subprocess.Popen([sys.executable, os.path.abspath(__file__)],
                                      env=env, stdout=subprocess.PIPE))
    tally, failures = {}, []
    for i, p in enumerate(procs):
        out, _ = p.communicate()
        try:
            res = json.loads(out.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            failures.append("bs %d worker %d: exit %d, no result" % (bs, i, p.returncode))
            continue
        for k, v in res["tally"].items():
            tally[k] = tally.get(k, 0) + v
        failures += res["failures"]
        for k, v in res["phases"].items():
            PHASES[k] = PHASES.get(k, 0.0) + v
    return tally, failures


def main():
    if "FUZZ_WORKER" in os.environ:
        return worker()
    os.makedirs(OUT, exist_ok=True)
    mnt = "/tmp/fuzz-mnt"
    os.makedirs(mnt, exist_ok=True)
    run(["flock", "/tmp/.load-mapfs.lock", "sh", "-c",
         "grep -qw mapfs /proc/modules || insmod %s/mapfs.ko" % TOP], check=True)
    totals = {}
    failures = []
    t0 = time.monotonic()
    for bs in BLOCK_SIZES:
        base = base_path(bs)
        make_base(bs, base, mnt)
        shutil.copyfile(base, os.path.join(OUT, "base-%d.img" % bs))
        if JOBS > 1:
            tally, fails = in_workers(bs)
        else:
            tally, fails = fuzz_images(bs, base, range(FIRST, FIRST + IMAGES), LOOP_NR, mnt,
                                       "/tmp/fuzz.img")
        os.remove(base)  # the guest's tmpfs is its memory; OUT keeps a copy
        failures += fails
        print("block size %d: %d images, mount refused %d, an operation refused %d, "
              "fsck -n found damage in %d, missed what the kernel refused in %d, "
              "neither noticed %d; went read-only (errors=remount-ro, odd seeds) %d; "
              "mounted as not cleanly unmounted %d" % (
                  bs, tally.get("images", 0), tally.get("mount_refused", 0),
                  tally.get("op_refused", 0), tally.get("fsck_found", 0),
                  tally.get("fsck_missed", 0), tally.get("neither", 0), tally.get("went_ro", 0),
                  tally.get("unclean", 0)),
              flush=True)
        for k in tally:
            totals[k] = totals.get(k, 0) + tally[k]
        if totals.get("hangs"):
            break
    print("fuzz-mount: %d images in %ds (%d worker(s)), seeds %d..%d; %d splat(s), %d hang(s), "
          "%d fsck crash(es), %d fsck miss(es)" % (
              totals.get("images", 0), time.monotonic() - t0, JOBS, FIRST, FIRST + IMAGES - 1,
              totals.get("splats", 0), totals.get("hangs", 0), totals.get("fsck_crash", 0),
              totals.get("fsck_missed", 0)))
    print("time per phase (s, summed over workers): " +
          ", ".join("%s %.0f" % kv for kv in sorted(PHASES.items())))
    for f in failures[:50]:
        print("FAIL: " + f)
    if failures:
        print("(base images in %s; rebuild one: cp base-BS.img x.img; "
              "mapfs-corrupt x.img --seed S --changes C)" % OUT)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
