# Helpers shared by the data-path tests tools/tests/guest/tests/iomap-* (and
# namespace-basic). Source after lib.sh:
#
#   . "$MAPFS_TOP/tools/tests/guest/lib.sh"
#   . "$MAPFS_TOP/tools/tests/guest/iomap-lib.sh"
#
# The model. A test describes what it does to its files as a list of
# operations, one a line, and pipes the list into `drive`. One python3 process
# applies each operation to the real file under $MNT through the system call
# it names (pwrite, ftruncate, fallocate, a shared mmap, ...) and to an
# in-memory model of what the file must then hold: a plain byte array, with
# the semantics the man pages give (pwrite(2), ftruncate(2), fallocate(2),
# mmap(2)). At the end it writes each model to $IOMAP_TMP/ref-$FS-$BS/NAME, and
# `verify3 WHAT NAME...` compares $MNT/NAME with it byte for byte (sha256sum,
# then cmp -l to show the first differences) in the page cache, after
# drop_caches (read back from the disk) and after a remount, and checks that
# size and mtime survived.
#
# Data written is a "tape" of random bytes without any zero byte, read at a
# position that depends on the file offset and a seed: a block or page that
# lands at the wrong offset, stale data from an earlier write or a block that
# should read as zeros all show as a difference.
#
# Everything here is sized for a guest under software emulation with KASAN,
# where starting a process costs 0.2-1 s: a test pipes all its operations into
# as few `drive` calls as it can.
#
# Operations (numbers in C syntax: 4096, 0x1000; a line starting with # is a
# comment; "== NAME" starts sub-check NAME, named in any failure):
#   f NAME            select $MNT/NAME (created if missing) and its model
#   fm NAME           select only the model of NAME (to mirror what another
#                     program did to the file)
#   w OFF LEN SEED    pwrite(2) LEN pattern bytes at OFF
#   W OFF LEN BYTE    pwrite(2) LEN copies of BYTE at OFF
#   wseq N LEN SEED   N sequential pwrites of LEN bytes from offset 0
#   wrand N SEED SPAN MAXLEN
#                     N pwrites of 1..MAXLEN bytes below SPAN (a fixed LCG)
#   a LEN SEED        write(2) on an O_APPEND descriptor
#   ap LEN SEED       pwrite(2) at offset 0 on an O_APPEND descriptor: Linux
#                     appends anyway (pwrite(2), BUGS)
#   t SIZE            ftruncate(2)
#   fa MODE OFF LEN   fallocate(2); MODE: alloc (0), keep (KEEP_SIZE),
#                     zero (ZERO_RANGE), zerokeep (ZERO_RANGE|KEEP_SIZE),
#                     punch (PUNCH_HOLE|KEEP_SIZE)
#   m OFF LEN SEED    write the pattern through a MAP_SHARED mapping of the
#                     pages holding [OFF, OFF+LEN), msync(MS_SYNC), munmap;
#                     bytes at or past EOF are not file data (the model keeps
#                     only those below the size)
#   mn OFF LEN SEED   the same without msync: the pages stay dirty
#   sync              fsync(2)
#   syncall           sync(2)
#   drop              sync(2), then evict the page cache of every file opened
#                     so far (posix_fadvise DONTNEED: invalidate_mapping_pages,
#                     what drop_caches does to each inode)
#   sleep SECONDS
#   Mw OFF LEN SEED / MW OFF LEN BYTE / MA LEN BYTE / Mt SIZE
#                     model only: pattern write, constant write, constant
#                     append, truncate
# Checks (a failed one prints "check failed: ..." and makes drive fail):
#   size N            fstat size and model size are N
#   cmp [rev]         read(2) the whole file in odd-sized chunks, compare
#                     (rev: from the end backwards)
#   mcmp [tail]       the same through a shared read-only mapping; with
#                     "tail", the rest of the last page past EOF reads zeros
#   bsave             remember st_blocks
#   bfreed N          st_blocks went down by at least N bytes since bsave
#   balloc N          st_blocks covers at least N bytes
#   tsave             remember mtime and ctime
#   tnewer            mtime and ctime are later than at tsave
#   sigbus OFF r|w    a child that maps the pages up to OFF and reads or
#                     writes byte OFF dies of SIGBUS (OFF in a page wholly
#                     past EOF); "nosigbus OFF r|w" expects it to live

PAGE=$(getconf PAGESIZE)
IOMAP_TMP=$(mktemp -d /tmp/iomap.XXXXXX)
# -I -S: no site packages, no user paths; python starts 3x faster in the guest.
PY=(python3 -I -S)
# A child killed by SIGBUS must not spend seconds writing a core file.
ulimit -c 0

# drive: apply the operations on stdin to the files and their models.
drive() {
	"${PY[@]}" -c "$IOMAP_DRIVER" "$MNT" "$IOMAP_TMP/ref-$FS-$BS" "$IOMAP_TMP/tape" || return
	mark "drive done"
}

# ops LINE...: print operation lines (a builtin: no process).
ops() { printf '%s\n' "$@"; }

# same NAME...: each $MNT/NAME holds exactly the bytes of its model (one
# sha256sum over files and models; cmp -l shows where they differ).
same() {
	local ref=$IOMAP_TMP/ref-$FS-$BS n=$# i bad=0 sums
	sums=$(sha256sum -- "${@/#/$MNT/}" "${@/#/$ref/}") || return 1
	readarray -t sums <<< "$sums"
	for ((i = 0; i < n; i++)); do
		[ "${sums[i]:0:64}" = "${sums[i + n]:0:64}" ] && continue
		bad=1
		echo "  ${sums[i]#*  } differs from its model ${sums[i + n]#*  }: sizes" \
			"$(stat -c %s "${sums[i]#*  }" "${sums[i + n]#*  }" | tr '\n' ' ')"
		echo "  first differences (1-based offset, octal byte read, octal byte expected):"
		cmp -l -- "${sums[i]#*  }" "${sums[i + n]#*  }" 2>&1 | head -n 8 | sed 's/^/    /' || :
	done
	return "$bad"
}

# stat_line NAME...: the metadata a remount must not change.
stat_line() { stat -c '%n size=%s mtime=%.9Y ctime=%.9Z mode=%a links=%h' -- "${@/#/$MNT/}"; }

# verify3 WHAT NAME...: the files equal their models in the page cache, after
# drop_caches and after a remount; size and times are unchanged by both.
verify3() {
	local what=$1 before after
	shift
	check "$what: content (page cache)" same "$@"
	before=$(stat_line "$@")
	mark "verified in the page cache"
	drop_caches
	check "$what: content after drop_caches" same "$@"
	mark "verified after drop_caches"
	remount
	check "$what: content after remount" same "$@"
	mark "verified after remount"
	after=$(stat_line "$@")
	check "$what: size and times unchanged by drop_caches and remount" \
		same_text "$before" "$after"
}

# same_text A B: A equals B; otherwise show the lines that differ.
same_text() {
	[ "$1" = "$2" ] && return 0
	diff <(echo "$1") <(echo "$2") | sed 's/^/  /' || :
	return 1
}

# case_begin / mark WHAT / case_end: log the time each case and each step
# takes (the suite reports only the whole test's); builtins only.
case_begin() { export IOMAP_T0=${EPOCHREALTIME/./}; }
case_begin
mark() {
	local t=${EPOCHREALTIME/./}
	t=$(((t - IOMAP_T0) / 100000))
	echo "  [$((t / 10)).$((t % 10)) s] $*"
}
case_end() { mark "case $FS-$BS done"; }

read -r -d '' IOMAP_DRIVER <<'PY' || :
import os, signal, sys, time

mnt, refdir, tapepath = sys.argv[1:4]
T0 = int(os.environ.get("IOMAP_T0", "0")) / 1e6
def stamp(what):
    print(f"  [{time.time() - T0:.1f} s] {what}", flush=True)
stamp("driver started")
PAGE = os.sysconf("SC_PAGE_SIZE")
os.makedirs(refdir, exist_ok=True)

libc = None
def lc():
    """libc through ctypes, imported on first use (it costs a second in the guest)."""
    global libc, ctypes
    if libc is None:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                              ctypes.c_int, ctypes.c_long]
        libc.msync.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
    return libc
PROT_READ, PROT_WRITE, MAP_SHARED, MS_SYNC = 1, 2, 1, 4
FALLOC = {"alloc": 0, "keep": 0x01, "punch": 0x03, "zero": 0x10, "zerokeep": 0x11}

# The tape: random bytes, none of them zero, shared by every drive call of
# one test run.
T = (1 << 20) + 1021
if os.path.exists(tapepath):
    with open(tapepath, "rb") as fh:
        tape = fh.read()
else:
    tape = os.urandom(T).replace(b"\0", b"\x5a")
    with open(tapepath + ".new", "wb") as fh:
        fh.write(tape)
    os.rename(tapepath + ".new", tapepath)

stamp("tape ready")

def pat(seed, off, n):
    k = (off + seed * 1000003) % T
    out = bytearray()
    while n > 0:
        c = min(n, T - k)
        out += tape[k:k + c]
        n -= c
        k = 0
    return bytes(out)

sub, lineno, line = "-", 0, ""
def fail(msg):
    print(f"check failed: [{sub}] line {lineno} '{line}': {msg}", flush=True)
    sys.exit(1)

models, fds = {}, {}
cur = None          # selected name
def model():
    return models[cur]
def fd():
    if cur not in fds:
        fail("no target file open (fm selects the model only)")
    return fds[cur]

def mput(off, data):
    m = model()
    if off > len(m):
        m.extend(bytes(off - len(m)))
    m[off:off + len(data)] = data

def mtrunc(size):
    m = model()
    if size < len(m):
        del m[size:]
    else:
        m.extend(bytes(size - len(m)))

def mzero(off, end):
    end = min(end, len(model()))
    if end > off:
        mput(off, bytes(end - off))

def first_diff(a, b):
    n = min(len(a), len(b))
    for i in range(0, n, 65536):
        if a[i:i + 65536] != b[i:i + 65536]:
            for j in range(i, min(n, i + 65536)):
                if a[j] != b[j]:
                    return j
    return n

def compare(got, what):
    m = model()
    if got != m:
        i = first_diff(got, m)
        fail(f"{what}: {cur} differs from its model at offset {i} "
             f"(got {bytes(got[i:i + 8]).hex()}, want {bytes(m[i:i + 8]).hex()}; "
             f"sizes {len(got)} / {len(m)})")

def do_mmap(length, prot, off, f=None):
    addr = lc().mmap(None, length, prot, MAP_SHARED, fd() if f is None else f, off)
    if addr is None or addr == ctypes.c_void_p(-1).value:
        fail(f"mmap: {os.strerror(ctypes.get_errno())}")
    return addr

def mmap_write(off, data, sync):
    start = off // PAGE * PAGE
    length = -(-(off + len(data)) // PAGE) * PAGE - start
    addr = do_mmap(length, PROT_READ | PROT_WRITE, start)
    ctypes.memmove(addr + off - start, data, len(data))
    if sync and lc().msync(addr, length, MS_SYNC) != 0:
        fail(f"msync: {os.strerror(ctypes.get_errno())}")
    lc().munmap(addr, length)
    size = len(model())
    if off < size:
        mput(off, data[:size - off])

def probe(off, how):
    """Fork a child that touches byte OFF through a mapping; its wait status."""
    length = (off // PAGE + 1) * PAGE
    f = fd()
    pid = os.fork()
    if pid == 0:
        try:
            addr = lc().mmap(None, length, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0)
            if addr == ctypes.c_void_p(-1).value:
                os._exit(3)
            if how == "w":
                ctypes.memset(addr + off, 0x77, 1)
            else:
                ctypes.string_at(addr + off, 1)
            os._exit(0)
        except BaseException:
            os._exit(4)
    return os.waitpid(pid, 0)[1]

saved = {}
for lineno, line in enumerate(sys.stdin, 1):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    if line.startswith("=="):
        if sub != "-":
            print(f"    {sub}: {time.monotonic() - t_sub:.1f} s", flush=True)
        sub, t_sub = line[2:].split()[0], time.monotonic()
        continue
    op, *a = line.split()
    def n(i):
        return int(a[i], 0)
    try:
        if op in ("f", "fm"):
            cur = a[0]
            if cur not in models:
                ref = os.path.join(refdir, cur)
                if os.path.exists(ref):
                    with open(ref, "rb") as fh:
                        models[cur] = bytearray(fh.read())
                else:
                    models[cur] = bytearray()
            if op == "f" and cur not in fds:
                fds[cur] = os.open(os.path.join(mnt, cur), os.O_RDWR | os.O_CREAT, 0o644)
        elif op == "w":
            data = pat(n(2), n(0), n(1))
            if os.pwrite(fd(), data, n(0)) != len(data):
                fail("short write")
            mput(n(0), data)
        elif op == "W":
            data = bytes([n(2)]) * n(1)
            if os.pwrite(fd(), data, n(0)) != len(data):
                fail("short write")
            mput(n(0), data)
        elif op in ("a", "ap"):
            data = pat(n(1), len(model()), n(0))
            afd = os.open(os.path.join(mnt, cur), os.O_WRONLY | os.O_APPEND)
            k = os.write(afd, data) if op == "a" else os.pwrite(afd, data, 0)
            os.close(afd)
            if k != len(data):
                fail("short write")
            mput(len(model()), data)
        elif op in ("wseq", "wrand"):
            # wseq N LEN SEED: N records of LEN bytes from offset 0, each its
            # own seed; wrand N SEED SPAN MAXLEN: N writes of 1..MAXLEN bytes
            # at offsets below SPAN chosen by a fixed LCG.
            x = n(1) if op == "wrand" else 0
            for i in range(n(0)):
                if op == "wseq":
                    off, ln, seed = i * n(1), n(1), n(2) + i % 64
                else:
                    x = (x * 6364136223846793005 + 1442695040888963407) % 2**64
                    off, ln, seed = (x >> 33) % n(2), (x >> 13) % n(3) + 1, i % 64
                data = pat(seed, off, ln)
                if os.pwrite(fd(), data, off) != ln:
                    fail("short write")
                mput(off, data)
        elif op == "t":
            os.ftruncate(fd(), n(0))
            mtrunc(n(0))
        elif op == "fa":
            mode, off, ln = a[0], n(1), n(2)
            if lc().fallocate(fd(), FALLOC[mode], off, ln) != 0:
                fail(f"fallocate: {os.strerror(ctypes.get_errno())}")
            if mode in ("alloc", "zero") and off + ln > len(model()):
                mtrunc(off + ln)
            if mode in ("zero", "zerokeep", "punch"):
                mzero(off, off + ln)
        elif op in ("m", "mn"):
            mmap_write(n(0), pat(n(2), n(0), n(1)), op == "m")
        elif op == "sync":
            os.fsync(fd())
        elif op == "syncall":
            os.sync()
        elif op == "drop":
            # Write back everything, then evict the page cache of every file
            # this driver opened: invalidate_mapping_pages, as drop_caches
            # does, without emptying the caches of the root filesystem (9p in
            # the guest) that every later program start would pay for.
            os.sync()
            for f in fds.values():
                os.posix_fadvise(f, 0, 0, os.POSIX_FADV_DONTNEED)
        elif op == "sleep":
            time.sleep(float(a[0]))
        elif op == "Mw":
            mput(n(0), pat(n(2), n(0), n(1)))
        elif op == "MW":
            mput(n(0), bytes([n(2)]) * n(1))
        elif op == "MA":
            mput(len(model()), bytes([n(1)]) * n(0))
        elif op == "Mt":
            mtrunc(n(0))
        elif op == "size":
            st = os.fstat(fd())
            if st.st_size != n(0) or len(model()) != n(0):
                fail(f"size {st.st_size}, model {len(model())}, want {n(0)}")
        elif op == "cmp" and not a:
            got, off, chunks, i = bytearray(), 0, (4093, 1, 65537, 511, 12289), 0
            while True:
                b = os.pread(fd(), chunks[i % len(chunks)], off)
                if not b:
                    break
                got += b
                off += len(b)
                i += 1
            compare(got, "read(2)")
        elif op == "cmp" and a == ["rev"]:
            # Backwards in 12289-byte pieces: no sequential readahead helps.
            size = os.fstat(fd()).st_size
            pieces, end = [], size
            while end > 0:
                start = max(0, end - 12289)
                b = os.pread(fd(), end - start, start)
                if len(b) != end - start:
                    fail(f"short read at {start}: {len(b)} of {end - start} bytes")
                pieces.append(b)
                end = start
            if os.pread(fd(), 100, size) != b"":
                fail(f"read at EOF ({size}) returned data")
            compare(b"".join(reversed(pieces)), "backward read(2)")
        elif op == "mcmp":
            size = os.fstat(fd()).st_size
            length = -(-size // PAGE) * PAGE
            got = b""
            if length:
                addr = do_mmap(length, PROT_READ, 0)
                whole = ctypes.string_at(addr, length)
                lc().munmap(addr, length)
                got = whole[:size]
                if a and a[0] == "tail" and whole[size:] != bytes(length - size):
                    fail(f"mapped bytes past EOF ({size}) in the last page are not zero")
            compare(got, "mmap read")
        elif op == "bsave":
            saved["blocks"] = os.fstat(fd()).st_blocks
        elif op == "bfreed":
            now = os.fstat(fd()).st_blocks
            if (saved["blocks"] - now) * 512 < n(0):
                fail(f"st_blocks {saved['blocks']} -> {now}: less than {n(0)} bytes freed")
        elif op == "balloc":
            now = os.fstat(fd()).st_blocks
            if now * 512 < n(0):
                fail(f"st_blocks {now} covers less than {n(0)} bytes")
        elif op == "tsave":
            st = os.fstat(fd())
            saved["times"] = (st.st_mtime_ns, st.st_ctime_ns)
        elif op == "tnewer":
            st = os.fstat(fd())
            m0, c0 = saved["times"]
            if not (st.st_mtime_ns > m0 and st.st_ctime_ns > c0):
                fail(f"mtime {m0} -> {st.st_mtime_ns}, ctime {c0} -> {st.st_ctime_ns}: not later")
        elif op in ("sigbus", "nosigbus"):
            status = probe(n(0), a[1])
            died = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGBUS
            if op == "sigbus" and not died:
                fail(f"touching offset {n(0)} (size {os.fstat(fd()).st_size}) did not raise "
                     f"SIGBUS (wait status {status:#x})")
            if op == "nosigbus" and status != 0:
                fail(f"touching offset {n(0)} (size {os.fstat(fd()).st_size}) failed "
                     f"(wait status {status:#x})")
        else:
            fail(f"unknown operation {op}")
    except OSError as e:
        fail(f"{e.strerror} (errno {e.errno})")

if sub != "-":
    print(f"    {sub}: {time.monotonic() - t_sub:.1f} s", flush=True)
for f in fds.values():
    os.close(f)
for name, m in models.items():
    with open(os.path.join(refdir, name), "wb") as fh:
        fh.write(m)
PY
