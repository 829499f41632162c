# The module installs the way out-of-tree modules are installed:
# `make modules_install INSTALL_MOD_PATH=dir` puts mapfs.ko under
# dir/lib/modules/<release>/updates/ with a depmod index that resolves
# `modprobe mapfs` and the alias `fs-mapfs` (what `mount -t mapfs` asks
# for); and `dkms build` builds it from a copy of the sources with
# dkms.conf, in a private DKMS tree. The installed tree stays in
# out/modules-install for the guest test module-install, which loads it
# through `mount -t mapfs`. Skipped (exit 77) without a built module.
set -eu
top=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$top"
[ -f mapfs.ko ] || { echo "skip: no built module (make modules)"; exit 77; }
kdir=${KDIR:-$(tools/kernel path)}
rel=$(cat "$kdir/include/config/kernel.release")
root=$top/out/modules-install/root
rm -rf "$root"
make -s modules_install INSTALL_MOD_PATH="$root" > "$top/out/modules-install.log" 2>&1 \
	|| { tail -n 20 "$top/out/modules-install.log"; exit 1; }
mod=$root/lib/modules/$rel/updates/mapfs.ko
cmp "$mod" mapfs.ko || { echo "installed $mod differs from mapfs.ko"; exit 1; }
grep -q '^updates/mapfs.ko:' "$root/lib/modules/$rel/modules.dep" || { echo "depmod did not index mapfs.ko"; exit 1; }
grep -qx 'alias fs-mapfs mapfs' "$root/lib/modules/$rel/modules.alias" || { echo "no fs-mapfs alias in modules.alias"; exit 1; }
got=$(modprobe -d "$root" -S "$rel" --show-depends fs-mapfs)
[ "$got" = "insmod $mod " ] || { echo "modprobe fs-mapfs would run: '$got'"; exit 1; }
echo "modules_install: $mod, indexed, alias fs-mapfs resolves"

# DKMS, in a private tree: nothing outside the temporary directory changes.
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' dkms.conf)
src=$t/src/mapfs-$ver
mkdir -p "$src" "$t/tree" "$t/inst"
git ls-files -z Kbuild dkms.conf rust samples tools/dkms-build | xargs -0 cp --parents -t "$src"
d() { dkms --dkmstree "$t/tree" --sourcetree "$t/src" --installtree "$t/inst" "$@"; }
d add -m mapfs -v "$ver" > "$t/add.log" 2>&1 || { cat "$t/add.log"; exit 1; }
if ! d build -m mapfs -v "$ver" -k "$rel" --kernelsourcedir "$kdir" > "$t/build.log" 2>&1; then
	cat "$t/build.log"; tail -n 30 "$t/tree/mapfs/$ver/build/make.log" 2>/dev/null; exit 1
fi
built=$(find "$t/tree/mapfs/$ver/$rel" -name 'mapfs.ko*' | head -n 1)
[ -n "$built" ] || { echo "dkms build left no mapfs.ko"; cat "$t/build.log"; exit 1; }
modinfo -F vermagic "$built" | grep -q "^$rel " || { echo "dkms-built module has vermagic '$(modinfo -F vermagic "$built")'"; exit 1; }
modinfo -F alias "$built" | grep -qx fs-mapfs || { echo "dkms-built module lacks the fs-mapfs alias"; exit 1; }
echo "dkms build: $(basename "$built") for $rel"
echo ok
