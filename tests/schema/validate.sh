#!/bin/bash
# Runs validate.py, installing python3-jsonschema from apt first when it is
# missing and we are root (the tiers that validate call this). Exit 77 =
# the validator is not available (callers skip, or fail under CI=true).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if ! python3 -c 'import jsonschema' 2>/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-jsonschema >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-jsonschema >/dev/null 2>&1; }
fi
exec python3 "$here/validate.py" "$@"
