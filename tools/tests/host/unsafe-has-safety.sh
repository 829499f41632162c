# Every `unsafe` block and `unsafe impl` in the wrappers (rust/, the only
# place with unsafe code) says why it is sound: a `// SAFETY:` comment on
# the lines just above it (comments and attributes in between allowed), or
# on the same line, or above the statement it is part of. `unsafe fn` and
# `unsafe extern "C" fn` are declarations (their contract is the `# Safety`
# section of their docs) and are not counted. The generated bindings are
# not ours and are skipped.
set -eu
top=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$top"
# shellcheck disable=SC2046 # the tracked paths have no spaces
python3 - $(git ls-files 'rust/*.rs') <<'PY'
import re, sys

missing = []
count = 0
for path in sys.argv[1:]:
    lines = open(path, encoding="utf-8").read().split("\n")
    for i, line in enumerate(lines):
        code = line.split("//", 1)[0]
        for m in re.finditer(r"\bunsafe\b", code):
            rest = code[m.end():].lstrip()
            if re.match(r"(fn|extern)\b", rest):
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
                missing.append(f"{path}:{i + 1}: {line.strip()}")
if missing:
    print(f"{len(missing)} of {count} unsafe blocks/impls without a // SAFETY: comment:")
    print("\n".join(missing))
    sys.exit(1)
if count == 0:
    print("no unsafe block found: the check looks at the wrong files")
    sys.exit(1)
print(f"ok: {count} unsafe blocks and impls, each with a // SAFETY: comment")
PY
