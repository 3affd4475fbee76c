#!/bin/bash
# Work on the series as git commits.
#   devtree.sh init DIR    DIR := git tree of the pristine kvm sources
#                          (from build.sh's cache) with the series applied
#                          by `git am`, base commit tagged "base"
#   devtree.sh export DIR  rewrite patches/ from DIR's commits base..HEAD
#                          (git format-patch), keeping the cover letter's
#                          subject and blurb
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?init|export}; dir=${2:?DIR}
case $cmd in
init)
	pristine=$(bash "$HERE/build.sh" --apply-only | tail -n1)/../pristine
	[ ! -e "$dir" ] || { echo "$dir exists" >&2; exit 1; }
	cp -a "$pristine" "$dir"
	cd "$dir"
	rm -f .id
	git init -q
	git add -A
	git -c user.name=base -c user.email=base@localhost commit -qm "Debian linux-source-6.1 (subset)"
	git tag base
	for p in "$HERE"/patches/0*.patch; do
		case $p in */0000-cover-letter.patch) ;; *) git am -q "$p" ;; esac
	done
	git log --oneline
	;;
export)
	cover=$HERE/patches/0000-cover-letter.patch
	subj=$(sed -n 's/^Subject: \[PATCH [0-9]*\/[0-9]*\] //p' "$cover" 2>/dev/null || true)
	blurb=$(awk 'f && /^[^ ].* \([0-9]+\):$/ {exit} f {print} /^$/ && !f && h {f=1} /^Subject:/ {h=1}' "$cover" 2>/dev/null || true)
	rm -f "$HERE"/patches/0*.patch
	git -C "$dir" format-patch -q --cover-letter -o "$HERE/patches" base..HEAD
	SUBJ=$subj BLURB=$blurb python3 - "$cover" <<'PY'
import os, sys
p = sys.argv[1]; s = open(p).read()
s = s.replace('*** SUBJECT HERE ***', os.environ['SUBJ'].strip() or '*** SUBJECT HERE ***')
s = s.replace('*** BLURB HERE ***\n', os.environ['BLURB'].strip('\n') + '\n' if os.environ['BLURB'].strip() else '*** BLURB HERE ***\n')
open(p, 'w').write(s)
PY
	ls "$HERE/patches"
	;;
*) echo "usage: devtree.sh init|export DIR" >&2; exit 1 ;;
esac
