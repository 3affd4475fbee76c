#!/bin/bash
# The one place that decides the L1 kernel of the nested rigs (tests/vm and
# tests/kpatch) and the kernel sources the kpatch tier builds from.
#
#   bash tests/l1-kernel.sh          print the pinned kernel as shell
#                                    assignments, after checking that the
#                                    archive still offers it:
#       L1_KVER=6.1.0-57-amd64       ABI name (linux-image-$L1_KVER)
#       L1_PKGVER=6.1.192-3          package version of linux-image-$L1_KVER,
#                                    linux-headers-$L1_KVER, linux-source-6.1
#       L1_KEY=6.1.0-57-amd64_6.1.192-3   cache key (both versions)
#   bash tests/l1-kernel.sh --bump   rewrite tests/l1-kernel.pin with what
#                                    the archive's linux-image-amd64 offers now
#
# The pin lives in tests/l1-kernel.pin. EXITMON_L1_KERNEL="ABI VERSION"
# overrides it for one run, EXITMON_L1_KERNEL=archive follows the archive's
# linux-image-amd64 (both print what they chose on stderr).
# Exit status: 0 ok; 1 the archive no longer offers the pinned version (with
# the bump instruction: a real failure, never a skip); 2 the archive cannot
# be asked (no apt lists and apt-get update fails, e.g. no network).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pin_file=$here/l1-kernel.pin
log() { printf 'l1-kernel: %s\n' "$*" >&2; }

# "Version" of PKG=VER as the archive's lists know it, empty if unknown.
offered() { # PKG VER
	apt-cache madison "$1" 2>/dev/null | awk -F' *[|] *' -v v="$2" '$2 == v { print $2; exit }'
}
# ABI and version of the archive's linux-image-amd64 candidate.
archive_latest() {
	local meta kpkg ver
	meta=$(apt-cache policy linux-image-amd64 2>/dev/null | sed -n 's/^ *Candidate: //p')
	[ -n "$meta" ] && [ "$meta" != "(none)" ] || return 1
	kpkg=$(apt-cache depends "linux-image-amd64=$meta" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1)
	[ -n "$kpkg" ] || return 1
	ver=$(apt-cache policy "$kpkg" 2>/dev/null | sed -n 's/^ *Candidate: //p')
	[ -n "$ver" ] && [ "$ver" != "(none)" ] || return 1
	echo "${kpkg#linux-image-} $ver"
}

apt_updated=0
apt_update() { # once per run; root only
	[ "$apt_updated" = 0 ] || return 0
	apt_updated=1
	[ "$(id -u)" = 0 ] || { log "not root: cannot apt-get update"; return 1; }
	log "apt-get update"
	apt-get update -qq >&2
}

read_pin() {
	local line
	line=$(grep -v '^[[:space:]]*\(#\|$\)' "$pin_file" | head -n1) ||
		{ log "no pin in $pin_file"; exit 1; }
	set -- $line
	[ $# = 2 ] || { log "bad pin line in $pin_file: '$line' (want: ABI VERSION)"; exit 1; }
	echo "$1 $2"
}

if [ "${1:-}" = --bump ]; then
	apt_update || { log "cannot refresh the apt lists"; exit 2; }
	latest=$(archive_latest) || { log "the archive offers no linux-image-amd64"; exit 1; }
	set -- $latest
	for p in "linux-headers-$1" linux-source-6.1; do
		[ -n "$(offered "$p" "$2")" ] ||
			{ log "archive has linux-image-$1=$2 but not $p=$2: not bumping"; exit 1; }
	done
	old=$(read_pin)
	sed -i "s/^$(printf '%s' "$old" | sed 's/[.]/[.]/g')\$/$1 $2/" "$pin_file"
	[ "$(read_pin)" = "$1 $2" ] || { log "could not rewrite $pin_file"; exit 1; }
	log "pin: $old -> $1 $2 ($pin_file). Now run 'bash tests/kpatch/run.sh' and"
	log "'make vmtest'; the series must still apply; commit tests/l1-kernel.pin."
	exit 0
fi

case ${EXITMON_L1_KERNEL:-} in
"") choice=$(read_pin); from="pin $pin_file" ;;
archive)
	choice=$(archive_latest) || { apt_update && choice=$(archive_latest); } ||
		{ log "cannot resolve linux-image-amd64 from the archive"; exit 2; }
	from="the archive's linux-image-amd64 (EXITMON_L1_KERNEL=archive)" ;;
*) choice=$EXITMON_L1_KERNEL; from="EXITMON_L1_KERNEL" ;;
esac
set -- $choice
[ $# = 2 ] || { log "bad kernel choice '$choice' from $from (want: ABI VERSION)"; exit 1; }
kver=$1 pkgver=$2
case $kver$pkgver in *[!A-Za-z0-9.+~:_-]*) log "bad characters in '$choice'"; exit 1 ;; esac
[ -z "${EXITMON_L1_KERNEL:-}" ] || log "L1 kernel $kver ($pkgver) from $from"

# Every package the rigs take at this version must be in the archive.
pkgs=("linux-image-$kver" "linux-headers-$kver" linux-source-6.1)
missing() { local p; for p in "${pkgs[@]}"; do [ -n "$(offered "$p" "$pkgver")" ] || echo "$p=$pkgver"; done; }
gone=$(missing)
if [ -n "$gone" ]; then
	apt_update || { log "cannot check the archive for $(echo $gone) (apt-get update failed)"; exit 2; }
	gone=$(missing)
fi
if [ -n "$gone" ]; then
	log "ERROR: the archive no longer offers $(echo $gone) ($from)."
	log "ERROR: bump the L1 kernel: 'sudo bash tests/l1-kernel.sh --bump', then run"
	log "ERROR: 'bash tests/kpatch/run.sh' and 'make vmtest' and commit tests/l1-kernel.pin"
	log "ERROR: (see tests/README.md, 'Bumping the L1 kernel')."
	exit 1
fi
echo "L1_KVER=$kver"
echo "L1_PKGVER=$pkgver"
echo "L1_KEY=${kver}_$pkgver"
