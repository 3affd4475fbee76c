#!/bin/bash
# Prepare the host for the nested-KVM tier:
#   - install qemu-system-x86, busybox-static, kmod, cpio, jq if missing;
#   - fetch the Debian bookworm kernel image package that the L1 guest boots
#     (chosen by tests/l1-kernel.sh: linux-image-ABI=VERSION) and unpack it
#     into /var/cache/exitmon-vmtest/ABI_VERSION/ (kept across runs: a fresh
#     clone on the same machine reuses it, an empty cache works).
# Prints the cache directory on the last line of stdout, so callers can do
#   kdir=$(bash tests/vm/setup.sh | tail -n1)
# Everything else goes to stderr.
# Exit status: 0 ok, 2 a prerequisite cannot be had (caller SKIPs; a failure
# under CI=true), 1 error (including a pinned kernel the archive dropped).
set -euo pipefail

CACHE_ROOT=${EXITMON_VMTEST_CACHE:-/var/cache/exitmon-vmtest}
log() { printf 'setup: %s\n' "$*" >&2; }

need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
# The initramfs needs the static busybox (the dynamic one would need libs).
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' ||
	need_pkgs+=(busybox-static)
command -v depmod >/dev/null && command -v modinfo >/dev/null || need_pkgs+=(kmod)
command -v cpio >/dev/null || need_pkgs+=(cpio)
# The VMM is linked statically: gcc plus glibc's libc.a.
command -v gcc >/dev/null || need_pkgs+=(gcc)
[ -e "/usr/lib/$(uname -m)-linux-gnu/libc.a" ] || need_pkgs+=(libc6-dev)
command -v jq >/dev/null || need_pkgs+=(jq)

apt_updated=0
apt_update() {
	if [ "$apt_updated" = 0 ]; then
		log "apt-get update"
		apt-get update -qq >&2 || return 1
		apt_updated=1
	fi
}

if [ "${#need_pkgs[@]}" -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		log "missing packages ${need_pkgs[*]} and not root"
		exit 2
	fi
	log "installing ${need_pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq -o DPkg::Lock::Timeout=120 "${need_pkgs[@]}" >&2; then
		apt_update || { log "apt-get update failed"; exit 2; }
		apt-get install -y -qq -o DPkg::Lock::Timeout=120 "${need_pkgs[@]}" >&2 || {
			log "cannot install ${need_pkgs[*]}"
			exit 2
		}
	fi
fi

# The L1 kernel is decided in one place (pin in tests/l1-kernel.pin): the
# kpatch tier builds its modules for exactly the same package version.
l1rc=0
l1=$(bash "$(dirname "${BASH_SOURCE[0]}")/../l1-kernel.sh") || l1rc=$?
if [ "$l1rc" != 0 ]; then
	log "tests/l1-kernel.sh failed (status $l1rc)"
	exit "$l1rc"
fi
eval "$l1"                          # L1_KVER L1_PKGVER L1_KEY
kver=$L1_KVER                       # e.g. 6.1.0-57-amd64
kpkg=linux-image-$kver
# Keyed by ABI and package version: a moved archive never reuses a stale
# unpack (Debian can rebuild one ABI under a new package version).
kdir=$CACHE_ROOT/$L1_KEY

# The cache is complete only once the stamp exists: an interrupted unpack
# is redone, not trusted.
mkdir -p "$CACHE_ROOT"
# Concurrent runs on one machine: one fetches, the others wait and reuse.
exec 9>"$CACHE_ROOT/.lock"
flock 9
if [ ! -e "$kdir/.complete" ]; then
	log "fetching $kpkg into $kdir"
	tmp=$(mktemp -d "$CACHE_ROOT/.tmp.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	(
		cd "$tmp"
		apt-get download -o APT::Sandbox::User=root "$kpkg=$L1_PKGVER" >&2 ||
			{ apt_update && apt-get download -o APT::Sandbox::User=root "$kpkg=$L1_PKGVER" >&2; }
	) || { log "apt-get download $kpkg=$L1_PKGVER failed"; exit 2; }
	deb=$(ls "$tmp"/*.deb)
	got=$(dpkg-deb -f "$deb" Version)
	[ "$got" = "$L1_PKGVER" ] || { log "downloaded $kpkg $got, wanted $L1_PKGVER"; exit 1; }
	dpkg-deb -x "$deb" "$tmp/root"
	out=$tmp/out
	mkdir -p "$out/modules"
	cp "$tmp/root/boot/vmlinuz-$kver" "$out/vmlinuz"
	cp "$tmp/root/boot/config-$kver" "$out/config"
	mdir=$tmp/root/lib/modules/$kver
	[ -d "$mdir" ] || mdir=$tmp/root/usr/lib/modules/$kver
	# Keep only what KVM needs, plus the module metadata so modinfo/depends
	# work; full tree is ~0.5 GB, this is a few MB.
	depmod -b "$tmp/root" "$kver" 2>/dev/null ||
		depmod -b "$tmp/root/usr" "$kver" 2>/dev/null || true
	want=(irqbypass kvm ccp kvm-amd kvm-intel)
	declare -A seen=()
	queue=("${want[@]}")
	while [ "${#queue[@]}" -gt 0 ]; do
		m=${queue[0]}
		queue=("${queue[@]:1}")
		mu=${m//-/_}
		[ -n "${seen[$mu]:-}" ] && continue
		seen[$mu]=1
		f=$(find "$mdir/kernel" -name "$m.ko" -o -name "${mu}.ko" | head -n1)
		if [ -z "$f" ]; then
			f=$(find "$mdir/kernel" -name "${m//_/-}.ko" | head -n1)
		fi
		[ -n "$f" ] || { log "module $m not found in $kpkg"; exit 1; }
		cp "$f" "$out/modules/$(basename "$f")"
		deps=$(modinfo -F depends "$f" 2>/dev/null || true)
		IFS=, read -r -a more <<<"$deps"
		for d in "${more[@]}"; do [ -n "$d" ] && queue+=("$d"); done
	done
	echo "$kver" >"$out/version"
	echo "$L1_PKGVER" >"$out/pkgversion"
	rm -rf "$kdir"
	mv "$out" "$kdir"
	touch "$kdir/.complete"
	rm -rf "$tmp"
	trap - EXIT
	log "cached $(du -sh "$kdir" | cut -f1) in $kdir"
fi
echo "$kdir"
