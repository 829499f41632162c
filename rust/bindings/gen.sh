#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Module-local bindgen, called by Kbuild:
#   gen.sh OUT KERNEL_BINDINGS BINDGEN HEADER PARAMS -- CLANG_FLAGS...
#
# Pass 1 generates the allowlisted items with everything they reach. Every
# struct, union or type alias of pass 1 that kernel::bindings defines with a
# body (not as an opaque `_unused` stub) is then blocklisted in pass 2, and the
# output imports kernel::bindings, so the module and the kernel crate share one
# Rust type per C type. Types that kernel::bindings has only as opaque stubs
# (fs_context, iomap_ops, buffer_head, ...) are generated here in full.
set -euf
out=$1 kbind=$2 bindgen=$3 header=$4 params=$5
shift 5
[ "$1" = -- ] && shift

common="--rust-target 1.85 --use-core --with-derive-default --ctypes-prefix ffi
	--no-layout-tests --no-debug .* --enable-function-attribute-detection
	--no-doc-comments --default-enum-style consts
	--with-derive-custom-struct .*=MaybeZeroable
	--with-derive-custom-union .*=MaybeZeroable"
opts=$(grep -Ev '^#|^$' "$params")

tmp=$out.pass1
# shellcheck disable=SC2086
$bindgen "$header" $common $opts -o "$tmp" -- "$@" -w -fno-builtin -D__BINDGEN__ -DMODULE

# Every type name with a mark: C (complete definition) or O (opaque stub).
types() {
	awk '
	/^pub (struct|union) [A-Za-z0-9_]+ \{/ { n=$3; getline nxt; print n, (nxt ~ /_unused/ ? "O" : "C"); next }
	/^pub (struct|union) [A-Za-z0-9_]+/ { n=$3; sub(/[^A-Za-z0-9_].*/, "", n); print n, "C"; next }
	/^pub type [A-Za-z0-9_]+ =/ { print $3, "C" }' "$1" | sort -u -k1,1
}
types "$kbind" > "$tmp.kernel"
types "$tmp" > "$tmp.ours"
# Blocklist what kernel::bindings has, unless it has only a stub and we have
# the full definition.
block=$(join "$tmp.ours" "$tmp.kernel" | awk '!($2 == "C" && $3 == "O") { print $1 }')

bl=""
for t in $block; do bl="$bl --blocklist-type=^$t\$"; done
# shellcheck disable=SC2086
$bindgen "$header" $common $opts $bl \
	--raw-line 'pub use kernel::bindings::*;' \
	--raw-line '#[allow(unused_imports)] use kernel::ffi;' \
	--raw-line '#[allow(unused_imports)] use pin_init::{MaybeZeroable, Zeroable};' \
	-o "$out" -- "$@" -w -fno-builtin -D__BINDGEN__ -DMODULE
rm -f "$tmp" "$tmp.ours" "$tmp.kernel"
