# The filesystem (samples/mapfs, its format included) has no `unsafe`: every
# unsafe operation lives in the wrappers under rust/. Each mapfs module also
# carries #![forbid(unsafe_code)]; the crate root cannot (module! expands to
# unsafe glue there), so this check covers it, and any module missing the
# attribute.
set -eu
top=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$top/samples/mapfs"
hits=$(grep -rn --include='*.rs' -E '\bunsafe\b' . | grep -vE '^\S+:[0-9]+:\s*//' | grep -v 'forbid(unsafe_code)' || true)
if [ -n "$hits" ]; then
	echo "unsafe in samples/mapfs:"; echo "$hits"; exit 1
fi
for f in *.rs format/mod.rs; do
	[ "$f" = mapfs.rs ] && continue
	grep -q '^#!\[forbid(unsafe_code)\]' "$f" || { echo "$f lacks #![forbid(unsafe_code)]"; exit 1; }
done
echo ok
