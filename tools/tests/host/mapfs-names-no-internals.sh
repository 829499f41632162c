# The filesystem reaches C only through the wrappers' public API: it names
# no raw binding (crate::kfs::bindings, kernel::bindings), no C helper
# (kfs_helper_*), no raw pointer accessor. The wrapper tree enforces most of
# this by privacy (the compile-fail suite proves it); kernel::bindings is a
# public crate, so this check is the only guard against naming it.
set -eu
top=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$top/samples/mapfs"
hits=$(grep -rn --include='*.rs' -E '\bbindings\b|kfs_helper_|\bas_ptr\b|\bfrom_raw\b|\bffi::' . \
	| grep -vE '^\S+:[0-9]+:\s*//' || true)
if [ -n "$hits" ]; then
	echo "samples/mapfs names wrapper internals or raw bindings:"; echo "$hits"; exit 1
fi
echo ok
