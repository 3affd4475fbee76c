#!/bin/bash
# Build the patched kvm.ko + kvm-amd.ko (+ kvm-intel.ko, compile only) for
# the Debian bookworm kernel the nested rig boots, out of tree, with module
# BTF (see docs/kvm-module-build.md in the shared docs).  The kernel is the
# one tests/l1-kernel.sh decides (ABI + package version, pinned in
# tests/l1-kernel.pin); sources, headers and image are all taken at exactly
# that package version, never "whatever is newest": built from a newer
# linux-source-6.1, the modules load but L1 rejects their BTF.
# Everything lives in a cache outside the checkout, keyed by both versions,
# $CACHE = /var/cache/exitmon-kpatch/ABI_VERSION:
#   $CACHE/linux-source-6.1.tar.xz  from `apt-get download linux-source-6.1=VERSION`
#   $CACHE/pristine/   the kvm sources unpacked from that tarball
#   $CACHE/src/        pristine + the series; files are only rewritten when
#                      their content changes, so a rebuild after an edit of
#                      one patch recompiles what that patch touches
#   $CACHE/hdr/        private copy of linux-headers-$KVER with a BTF vmlinux
#   $CACHE/out/        kvm.ko kvm-amd.ko kvm-intel.ko (debug-stripped) and
#                      exit_stats_test (the series' KVM selftest, static)
#   $CACHE/uapi/       linux-libc-dev=VERSION unpacked: the uapi headers the
#                      selftest is built against
# Prints the out/ directory on the last line of stdout; logs on stderr.
# Exit status: 0 built, 2 a prerequisite cannot be installed, 1 error.
#
# Options: --apply-only  stop after preparing src/ (no compiler run)
#          --source      only fetch the source tarball; print its path
#          --check DIR   only run `git apply --check` of the series on DIR
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
log() { printf 'kpatch-build: %s\n' "$*" >&2; }
l1rc=0
l1=$(bash "$HERE/../tests/l1-kernel.sh") || l1rc=$?
[ "$l1rc" = 0 ] || { log "tests/l1-kernel.sh failed (status $l1rc)"; exit "$l1rc"; }
eval "$l1"                       # L1_KVER L1_PKGVER L1_KEY
KVER=$L1_KVER PKGVER=$L1_PKGVER
CACHE=${EXITMON_KPATCH_CACHE:-/var/cache/exitmon-kpatch}/$L1_KEY
SERIES=()
for p in "$HERE"/patches/0*.patch; do
	case $p in */0000-cover-letter.patch) ;; *) SERIES+=("$p") ;; esac
done
JOBS=${JOBS:-$(nproc)}

# Paths of the source tarball the series touches or the build needs.
SRC_PATHS=(arch/x86/kvm virt/kvm arch/x86/include/asm/kvm_host.h
	arch/x86/include/asm/kvm-x86-ops.h scripts/extract-vmlinux
	Documentation/admin-guide/kernel-parameters.txt
	Documentation/virt/kvm/x86/cpuid.rst
	tools/testing/selftests/kvm tools/testing/selftests/lib.mk
	tools/testing/selftests/kselftest.h
	tools/testing/selftests/kselftest_harness.h tools/include tools/arch/x86/include
	tools/lib/rbtree.c tools/build/Build.include scripts/subarch.include)

apply_only=0 source_only=0
case "${1:-}" in
--apply-only) apply_only=1 ;;
--source) source_only=1 ;;
--check)
	cd "$2"
	git apply --check "${SERIES[@]}"
	exit $?
	;;
"") ;;
*) log "unknown option $1"; exit 1 ;;
esac

installed() { dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null | sed -n 's/^install ok installed //p'; }
need=()
# The headers (and linux-kbuild-6.1, which they pin) at exactly PKGVER.
[ "$(installed "linux-headers-$KVER")" = "$PKGVER" ] || need+=("linux-headers-$KVER=$PKGVER")
command -v pahole >/dev/null || need+=(pahole)
command -v xz >/dev/null || need+=(xz-utils)
command -v gcc-12 >/dev/null || need+=(gcc-12)
command -v make >/dev/null || need+=(make)
command -v rsync >/dev/null || need+=(rsync)
command -v git >/dev/null || need+=(git)
[ "$source_only" = 0 ] || need=()
if [ "${#need[@]}" -gt 0 ]; then
	[ "$(id -u)" = 0 ] || { log "need ${need[*]} and not root"; exit 2; }
	log "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq -o DPkg::Lock::Timeout=120 "${need[@]}" >&2 ||
		{ apt-get update -qq >&2 && apt-get install -y -qq -o DPkg::Lock::Timeout=120 "${need[@]}" >&2; } ||
		{ log "cannot install ${need[*]}"; exit 2; }
fi
if [ "$source_only" = 0 ]; then
	for p in "linux-headers-$KVER" linux-kbuild-6.1; do
		v=$(installed "$p")
		[ "$v" = "$PKGVER" ] || { log "$p is at '$v', not $PKGVER"; exit 1; }
	done
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

# 1. The source tarball of exactly PKGVER (not the installed or newest
#    linux-source-6.1), then the pristine kvm sources from it.
tarball=$CACHE/linux-source-6.1.tar.xz
if [ ! -e "$tarball" ]; then
	log "fetching linux-source-6.1=$PKGVER"
	tmp=$(mktemp -d "$CACHE/.src.XXXXXX")
	(cd "$tmp" && apt-get download -o APT::Sandbox::User=root "linux-source-6.1=$PKGVER" >&2) ||
		{ log "apt-get download linux-source-6.1=$PKGVER failed"; rm -rf "$tmp"; exit 2; }
	got=$(dpkg-deb -f "$tmp"/*.deb Version)
	[ "$got" = "$PKGVER" ] || { log "downloaded linux-source-6.1 $got, wanted $PKGVER"; rm -rf "$tmp"; exit 1; }
	dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -xO ./usr/src/linux-source-6.1.tar.xz >"$tmp/src.tar.xz"
	mv "$tmp/src.tar.xz" "$tarball"
	rm -rf "$tmp"
fi
[ "$source_only" = 0 ] || { echo "$tarball"; exit 0; }
tar_id="$PKGVER $(stat -c '%s-%Y' "$tarball") ${SRC_PATHS[*]}"
if [ "$(cat "$CACHE/pristine/.id" 2>/dev/null)" != "$tar_id" ]; then
	log "unpacking kvm sources from $tarball"
	rm -rf "$CACHE/pristine"
	mkdir -p "$CACHE/pristine"
	tar -xJf "$tarball" -C "$CACHE/pristine" --strip-components=1 \
		"${SRC_PATHS[@]/#/linux-source-6.1/}"
	echo "$tar_id" >"$CACHE/pristine/.id"
fi

# 2. Patched tree: apply to a scratch copy, then sync by content.
stage=$CACHE/stage
rm -rf "$stage"
cp -a "$CACHE/pristine" "$stage"
(cd "$stage" && git apply "${SERIES[@]}")
# The out-of-tree overlay: kbuild reads Kbuild before Makefile.
cat >"$stage/arch/x86/kvm/Kbuild" <<'KB'
# Out-of-tree build of arch/x86/kvm against a linux-headers tree
# (exitmon kernel-patch/build.sh).  Sources live under KVMSRC, and the
# patched asm headers there must win over the headers package's copies.
KVMSRC := $(abspath $(src)/../../..)
LINUXINCLUDE := -I$(KVMSRC)/arch/x86/include $(LINUXINCLUDE)
ccflags-y += -I$(KVMSRC)/arch/x86
$(eval $(subst $$(srctree)/,$(KVMSRC)/,$(file <$(src)/Makefile)))
KB
mkdir -p "$CACHE/src"
rsync -rc --delete --exclude='*.o' --exclude='*.ko' --exclude='*.cmd' \
	--exclude='.*.cmd' --exclude='*.mod*' --exclude='modules.order' \
	--exclude='Module.symvers' --exclude='*.a' --exclude='.*.d' \
	"$stage"/ "$CACHE/src"/
rm -rf "$stage"
[ "$apply_only" = 1 ] && { echo "$CACHE/src"; exit 0; }

# 3. Private headers copy with a BTF-only vmlinux for module BTF.
hdr=$CACHE/hdr
if [ ! -e "$hdr/.complete" ]; then
	log "preparing headers copy in $hdr"
	rm -rf "$hdr"
	cp -a "/usr/src/linux-headers-$KVER" "$hdr"
	for l in scripts tools; do
		if [ -L "$hdr/$l" ]; then
			rm "$hdr/$l"
			ln -s /usr/lib/linux-kbuild-6.1/$l "$hdr/$l"
		fi
	done
	# The kernel image: the rig's cache if it has it, else the .deb.
	vmlinuz=""
	c=${EXITMON_VMTEST_CACHE:-/var/cache/exitmon-vmtest}/$L1_KEY/vmlinuz
	[ ! -e "$c" ] || vmlinuz=$c
	if [ -z "$vmlinuz" ]; then
		tmp=$(mktemp -d "$CACHE/.img.XXXXXX")
		(cd "$tmp" && apt-get download -o APT::Sandbox::User=root \
			"linux-image-$KVER=$PKGVER" >&2) ||
			{ log "cannot download linux-image-$KVER=$PKGVER"; rm -rf "$tmp"; exit 2; }
		dpkg-deb --fsys-tarfile "$tmp"/*.deb |
			tar -x -C "$tmp" "./boot/vmlinuz-$KVER"
		mv "$tmp/boot/vmlinuz-$KVER" "$CACHE/vmlinuz"
		rm -rf "$tmp"
		vmlinuz=$CACHE/vmlinuz
	fi
	sh "$CACHE/pristine/scripts/extract-vmlinux" "$vmlinuz" >"$hdr/vmlinux.full"
	objcopy --only-section=.BTF "$hdr/vmlinux.full" "$hdr/vmlinux"
	rm -f "$hdr/vmlinux.full"
	touch "$hdr/.complete"
fi

# 4. Build.  linux-kbuild-6.1 has no resolve_btfids; kvm has no BTF_ID users.
log "building in $CACHE/src/arch/x86/kvm"
make -s -C "$hdr" M="$CACHE/src/arch/x86/kvm" -j"$JOBS" \
	RESOLVE_BTFIDS=true modules >&2
mkdir -p "$CACHE/out"
for m in kvm kvm-amd kvm-intel; do
	strip --strip-debug -o "$CACHE/out/$m.ko.tmp" "$CACHE/src/arch/x86/kvm/$m.ko"
	mv "$CACHE/out/$m.ko.tmp" "$CACHE/out/$m.ko"
done

# 5. The series' KVM selftest, with upstream's Makefile and lib/kvm_util
#    from the same tarball, against the uapi headers of the same version
#    (linux-libc-dev=VERSION, i.e. the tarball's `make headers_install`);
#    static, as it runs in the rig's busybox initramfs.
uapi=$CACHE/uapi
if [ ! -e "$uapi/.complete" ]; then
	rm -rf "$uapi"
	tmp=$(mktemp -d "$CACHE/.uapi.XXXXXX")
	(cd "$tmp" && apt-get download -o APT::Sandbox::User=root \
		"linux-libc-dev=$PKGVER" >&2) ||
		{ log "cannot download linux-libc-dev=$PKGVER"; rm -rf "$tmp"; exit 2; }
	dpkg-deb -x "$tmp"/*.deb "$uapi"
	rm -rf "$tmp"
	touch "$uapi/.complete"
fi
log "building the KVM selftest exit_stats_test"
make -s -C "$CACHE/src/tools/testing/selftests/kvm" OUTPUT="$CACHE/selftest" \
	INSTALL_HDR_PATH="$uapi/usr" \
	KHDR_INCLUDES="-isystem $uapi/usr/include -isystem $uapi/usr/include/x86_64-linux-gnu" \
	LDFLAGS="-static -pthread -no-pie" "$CACHE/selftest/x86_64/exit_stats_test" >&2
cp "$CACHE/selftest/x86_64/exit_stats_test" "$CACHE/out/exit_stats_test.tmp"
mv "$CACHE/out/exit_stats_test.tmp" "$CACHE/out/exit_stats_test"
echo "$CACHE/out"
