#!/bin/bash
# Build the patched kvm.ko + kvm-amd.ko (+ kvm-intel.ko, compile only) for
# the Debian bookworm kernel the nested rig boots (default 6.1.0-56-amd64),
# out of tree, with module BTF (see docs/kvm-module-build.md in the shared
# docs).  Everything lives in a cache outside the checkout:
#   $CACHE/pristine/   the kvm sources unpacked from linux-source-6.1
#   $CACHE/src/        pristine + the series; files are only rewritten when
#                      their content changes, so a rebuild after an edit of
#                      one patch recompiles what that patch touches
#   $CACHE/hdr/        private copy of linux-headers-$KVER with a BTF vmlinux
#   $CACHE/out/        kvm.ko kvm-amd.ko kvm-intel.ko (debug-stripped)
# Prints the out/ directory on the last line of stdout; logs on stderr.
# Exit status: 0 built, 2 a prerequisite cannot be installed, 1 error.
#
# Options: --apply-only  stop after preparing src/ (no compiler run)
#          --check DIR   only run `git apply --check` of the series on DIR
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
KVER=${KVER:-6.1.0-56-amd64}
CACHE=${EXITMON_KPATCH_CACHE:-/var/cache/exitmon-kpatch}/$KVER
SERIES=()
for p in "$HERE"/patches/0*.patch; do
	case $p in */0000-cover-letter.patch) ;; *) SERIES+=("$p") ;; esac
done
JOBS=${JOBS:-$(nproc)}
log() { printf 'kpatch-build: %s\n' "$*" >&2; }

# Paths of the source tarball the series touches or the build needs.
SRC_PATHS=(arch/x86/kvm virt/kvm arch/x86/include/asm/kvm_host.h
	arch/x86/include/asm/kvm-x86-ops.h scripts/extract-vmlinux
	Documentation/admin-guide/kernel-parameters.txt)

apply_only=0
case "${1:-}" in
--apply-only) apply_only=1 ;;
--check)
	cd "$2"
	git apply --check "${SERIES[@]}"
	exit $?
	;;
"") ;;
*) log "unknown option $1"; exit 1 ;;
esac

need=()
[ -e /usr/src/linux-source-6.1.tar.xz ] || need+=(linux-source-6.1)
[ -d /usr/src/linux-headers-$KVER ] || need+=(linux-headers-$KVER)
command -v pahole >/dev/null || need+=(pahole)
command -v xz >/dev/null || need+=(xz-utils)
command -v gcc-12 >/dev/null || need+=(gcc-12)
command -v make >/dev/null || need+=(make)
command -v rsync >/dev/null || need+=(rsync)
command -v git >/dev/null || need+=(git)
if [ "${#need[@]}" -gt 0 ]; then
	[ "$(id -u)" = 0 ] || { log "need ${need[*]} and not root"; exit 2; }
	log "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq "${need[@]}" >&2 ||
		{ apt-get update -qq >&2 && apt-get install -y -qq "${need[@]}" >&2; } ||
		{ log "cannot install ${need[*]}"; exit 2; }
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

# 1. Pristine sources, keyed by the tarball's identity.
tarball=/usr/src/linux-source-6.1.tar.xz
tar_id=$(stat -c '%s-%Y' "$tarball")
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
	for c in "${EXITMON_VMTEST_CACHE:-/var/cache/exitmon-vmtest}/$KVER/vmlinuz" \
		"/boot/vmlinuz-$KVER"; do
		[ -e "$c" ] && { vmlinuz=$c; break; }
	done
	if [ -z "$vmlinuz" ]; then
		tmp=$(mktemp -d "$CACHE/.img.XXXXXX")
		(cd "$tmp" && apt-get download -o APT::Sandbox::User=root \
			"linux-image-$KVER" >&2) ||
			{ log "cannot download linux-image-$KVER"; rm -rf "$tmp"; exit 2; }
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
echo "$CACHE/out"
