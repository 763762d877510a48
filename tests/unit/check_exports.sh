#!/bin/sh
# libmsgflo.so exports the public API and nothing else: every dynamic symbol it
# defines is msgflo_* and declared in include/msgflo/, and every function
# declared there is exported.
#   check_exports.sh LIBMSGFLO_SO INCLUDE_DIR
set -eu
lib=$1
inc=$2
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sort -u)
status=0
for s in $exported; do
    case $s in
    msgflo_*) ;;
    *) echo "exported but internal: $s"; status=1 ;;
    esac
done
declared=$(cat "$inc"/msgflo/*.h | grep -o '\bmsgflo_[a-z0-9_]*(' | tr -d '(' | sort -u)
for s in $declared; do
    echo "$exported" | grep -qx "$s" || { echo "declared but not exported: $s"; status=1; }
done
for s in $exported; do
    echo "$declared" | grep -qx "$s" || { echo "exported but not declared in include/msgflo: $s"; status=1; }
done
[ $status -eq 0 ] && echo "libmsgflo exports $(echo "$exported" | wc -l) symbols, all public"
exit $status
