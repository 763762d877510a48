#!/bin/sh
# Every tool answers --version (exit 0, "NAME (msgflo-c) VERSION" on stdout)
# and --help (exit 0), and rejects an unknown option wherever it stands (exit
# 2, "NAME: unknown option --bogus" on stderr). msgflo-send-message names an
# MQTT wildcard in the topic it is asked to send to; a bad broker URL exits 2
# with the same line in every tool that takes one.
#   check_tools_cli.sh VERSION TOOL...
set -u
version=$1
shift
status=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; status=1; }
for tool in "$@"; do
    name=$(basename "$tool")
    "$tool" --version >"$tmp/out" 2>"$tmp/err"
    rc=$?
    [ $rc -eq 0 ] || fail "$name --version: exit $rc"
    grep -qx "$name (msgflo-c) $version" "$tmp/out" || fail "$name --version printed: $(cat "$tmp/out")"
    "$tool" --help >"$tmp/out" 2>"$tmp/err"
    rc=$?
    [ $rc -eq 0 ] || fail "$name --help: exit $rc"
    grep -q -- "--version" "$tmp/out" || fail "$name --help does not list --version"
    for args in "--bogus" "--bogus=1" "x.fbp --bogus" "--bogus x.fbp"; do
        # shellcheck disable=SC2086
        "$tool" $args </dev/null >"$tmp/out" 2>"$tmp/err"
        rc=$?
        [ $rc -eq 2 ] || fail "$name $args: exit $rc, not 2"
        grep -q "^$name: unknown option --bogus\$" "$tmp/err" ||
            fail "$name $args: stderr has no '$name: unknown option --bogus': $(head -1 "$tmp/err")"
    done
    # a bad broker URL is a usage error (2), said the same way everywhere
    case $name in
    msgflo) args="--port 0" ;;
    msgflo-setup) args="g.fbp" ;;
    msgflo-send-message) args="--queue q --json 1" ;;
    msgflo-dump-message) args="--queue q" ;;
    msgflo-register) args="--role a:missing.yaml" ;;
    msgflo-register-foreign) args="missing.yaml" ;;
    msgflo-router) args="--instance default" ;;
    *) args= ;;
    esac
    if [ -n "$args" ]; then
        # shellcheck disable=SC2086
        "$tool" --broker bogus://u:pw@x $args </dev/null >"$tmp/out" 2>"$tmp/err"
        rc=$?
        [ $rc -eq 2 ] || fail "$name --broker bogus://: exit $rc, not 2"
        grep -q "^$name: broker URL bogus://u:\*\*\*@x: unsupported scheme 'bogus'" "$tmp/err" ||
            fail "$name --broker bogus://: $(head -1 "$tmp/err")"
    fi
    if [ "$name" = msgflo-send-message ]; then
        # an MQTT topic with a wildcard is named as such, before connecting
        for topic in 'a/#' 'a/+/b'; do
            "$tool" --broker mqtt://127.0.0.1:1 --queue "$topic" --json 1 >"$tmp/out" 2>"$tmp/err"
            rc=$?
            [ $rc -eq 2 ] || fail "$name --queue $topic: exit $rc, not 2"
            grep -q "cannot send to '$topic': + and # are MQTT wildcards" "$tmp/err" ||
                fail "$name --queue $topic: $(head -1 "$tmp/err")"
        done
    fi
done
[ $status -eq 0 ] && echo "$# tools: --version, --help and unknown options as expected"
exit $status
