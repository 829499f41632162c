# Every `unsafe` block and `unsafe impl` in the wrappers (rust/, the only
# place with unsafe code) says why it is sound: a `// SAFETY:` comment on
# the lines just above it (comments and attributes in between allowed), or
# on the same line, or above the statement it is part of. Every `unsafe fn`
# (and `unsafe extern "C" fn`) says what its caller must guarantee: a
# `# Safety` section in its doc comment, unless it implements a trait's
# method (the trait documents the contract). The generated bindings are
# not ours and are skipped.
set -eu
top=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$top"
# shellcheck disable=SC2046 # the tracked paths have no spaces
python3 - $(git ls-files 'rust/*.rs') <<'PY'
import re, sys

def in_trait_impl(lines, i):
    """Whether line i is inside a top-level `impl Trait for Type` block."""
    for k in range(i - 1, -1, -1):
        t = lines[k]
        if not t or t[0] in " \t}" or t.startswith("//"):
            continue
        return bool(re.match(r"(unsafe\s+)?impl\b.* for ", t))
    return False

missing = []
count = fns = 0
for path in sys.argv[1:]:
    lines = open(path, encoding="utf-8").read().split("\n")
    for i, line in enumerate(lines):
        code = line.split("//", 1)[0]
        for m in re.finditer(r"\bunsafe\b", code):
            rest = code[m.end():].lstrip()
            if re.match(r"(fn|extern)\b", rest):
                # A function pointer type (`unsafe extern "C" fn(...)`) is
                # no definition.
                if re.match(r'(extern\s+"C"\s+)?fn\s*\(', rest):
                    continue
                fns += 1
                k = i - 1
                while k >= 0 and lines[k].strip().startswith(("///", "#[", "//")):
                    if "# Safety" in lines[k]:
                        break
                    k -= 1
                if (k < 0 or "# Safety" not in lines[k]) and not in_trait_impl(lines, i):
                    missing.append(f"{path}:{i + 1}: no '# Safety' section: {line.strip()}")
                continue
            count += 1
            if "SAFETY:" in line:
                continue
            ok = False
            k = i - 1
            while k >= 0:
                t = lines[k].strip()
                if "SAFETY:" in t:
                    ok = True
                    break
                if t.startswith("//") or t.startswith("#["):
                    k -= 1
                    continue
                # The same statement, begun on an earlier line
                # (`let x =`, a call's first arguments).
                if i - k <= 6 and t and not t.endswith((";", "{", "}")):
                    k -= 1
                    continue
                break
            if not ok:
                missing.append(f"{path}:{i + 1}: no // SAFETY: {line.strip()}")
if missing:
    print(f"{len(missing)} of {count} unsafe blocks/impls and {fns} unsafe fns undocumented:")
    print("\n".join(missing))
    sys.exit(1)
if count == 0 or fns == 0:
    print("no unsafe block or fn found: the check looks at the wrong files")
    sys.exit(1)
print(f"ok: {count} unsafe blocks and impls, each with a // SAFETY: comment; "
      f"{fns} unsafe fns, each with a # Safety section or a trait's contract")
PY
