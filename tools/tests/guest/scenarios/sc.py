# Helpers for the scenario scripts (tools/tests/guest/scenarios/*), imported
# by their python3 parts. Everything a scenario prints goes into its golden
# output, so the helpers print only what must be the same on every
# filesystem and block size: offsets chosen by the scenario, errno names,
# yes/no answers to "did it change".
import ctypes, errno, fcntl, os, signal, struct, subprocess, sys, time

TEST_DIR = os.environ.get("TEST_DIR", ".")
BS = int(os.environ.get("BS", "4096"))
FS = os.environ.get("FS", "?")
libc = ctypes.CDLL(None, use_errno=True)


def say(*a):
    print(*a, flush=True)


def ename(e):
    """ENOSPC, EFBIG, ... for an OSError or an errno number."""
    n = e.errno if isinstance(e, OSError) else e
    return errno.errorcode.get(n, str(n))


def attempt(what, fn, *args):
    """Runs fn(*args); prints "what: ok" or "what: ENAME"; returns the value."""
    try:
        r = fn(*args)
    except OSError as e:
        say(f"{what}: {ename(e)}")
        return None
    say(f"{what}: ok")
    return r


def pattern(n, seed):
    """n bytes that depend on seed, none zero."""
    out = bytearray(n)
    x = (seed * 2654435761 + 1) & 0xFFFFFFFF
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        out[i] = (x >> 16) % 255 + 1
    return bytes(out)


def seek(fd, off, whence):
    """The result of lseek(fd, off, SEEK_DATA/SEEK_HOLE) or its errno name."""
    try:
        return os.lseek(fd, off, whence)
    except OSError as e:
        return ename(e)


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


FS_IOC_FIEMAP = 0xC020660B
FIEMAP_FLAG_SYNC = 1
FIEMAP_EXTENT_LAST = 0x1
FIEMAP_EXTENT_UNWRITTEN = 0x800


def fiemap(fd, count=64):
    """Logical extents [(start, length, unwritten)] of fd, merged where they
    touch with the same state (how a filesystem splits an extent is its own
    business); an errno name when FIEMAP fails."""
    hdr = struct.pack("=QQIIII", 0, 0xFFFFFFFFFFFFFFFF, FIEMAP_FLAG_SYNC, 0, count, 0)
    buf = bytearray(hdr + b"\0" * (56 * count))
    try:
        fcntl.ioctl(fd, FS_IOC_FIEMAP, buf)
    except OSError as e:
        return ename(e)
    n = struct.unpack_from("=I", buf, 20)[0]
    out = []
    for i in range(n):
        lo, _ph, ln, _r1, _r2, fl = struct.unpack_from("=QQQQQI", buf, 32 + 56 * i)
        unw = bool(fl & FIEMAP_EXTENT_UNWRITTEN)
        if out and out[-1][0] + out[-1][1] == lo and out[-1][2] == unw:
            out[-1] = (out[-1][0], out[-1][1] + ln, unw)
        else:
            out.append((lo, ln, unw))
    return out


def times(path):
    st = os.stat(path)
    return st.st_mtime_ns, st.st_ctime_ns


def tick():
    """Lets the timestamp clock move on (coarse clock: a jiffy or more)."""
    time.sleep(0.05)


def changed(before, after):
    """ "mtime changed, ctime same" style answer for two times() tuples."""
    m = "changed" if after[0] != before[0] else "same"
    c = "changed" if after[1] != before[1] else "same"
    return f"mtime {m}, ctime {c}"


def child_signal(code):
    """Runs python code in a child; returns "exit N" or the signal's name
    (a SIGBUS must not take the scenario down with it)."""
    r = subprocess.run([sys.executable, "-c", code], cwd=TEST_DIR)
    if r.returncode < 0:
        return signal.Signals(-r.returncode).name
    return f"exit {r.returncode}"


def statfs_free(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize
