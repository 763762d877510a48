#!/bin/sh
# Differential test of our .fbp parser against the reference (npm fbp@1.8.0):
# regenerate every checked-in vector's expected output with the installed
# reference, then generate random graphs (a quarter of them broken) and
# compare our parser's JSON, error messages and error places with it.
#
#   fbp-differential.sh PATH/TO/test_fbp_vectors [COUNT] [SEED]
#
# Exits 77 (skipped) when node or node_modules/fbp is missing.
# FBP_DIFF_COUNT and FBP_DIFF_SEED override COUNT (2000) and SEED (1).
set -u
here=$(cd "$(dirname "$0")" && pwd)
driver=${1:?usage: fbp-differential.sh TEST_FBP_VECTORS [COUNT] [SEED]}
count=${FBP_DIFF_COUNT:-${2:-2000}}
seed=${FBP_DIFF_SEED:-${3:-1}}

if ! command -v node >/dev/null 2>&1; then
    echo "fbp-differential: node not found; skipped"
    exit 77
fi
if [ ! -f "$here/node_modules/fbp/package.json" ]; then
    echo "fbp-differential: $here/node_modules/fbp missing (npm install --prefix tests/conformance); skipped"
    exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

node "$here/gen-fbp-vectors.js" --out "$tmp/vectors" || exit 1
"$driver" "$tmp/vectors" > "$tmp/vectors.log" 2>&1
rc=$?
tail -n 3 "$tmp/vectors.log"
if [ $rc -ne 0 ]; then
    grep -E 'FAILED|ours|ref:|reference' "$tmp/vectors.log" | head -n 40
    exit 1
fi

node "$here/gen-fbp-vectors.js" --random "$count" --seed "$seed" --out "$tmp/random" || exit 1
"$driver" "$tmp/random" > "$tmp/random.log" 2>&1
rc=$?
tail -n 3 "$tmp/random.log"
if [ $rc -ne 0 ]; then
    grep -E 'FAILED|ours|ref:|reference' "$tmp/random.log" | head -n 40
    for f in $(grep -E '^\[  FAILED  \] random' "$tmp/random.log" | awk '{print $4}' | sort -u | head -n 5); do
        echo "--- $f.fbp"; cat "$tmp/random/$f.fbp"; echo
    done
    exit 1
fi
exit 0
