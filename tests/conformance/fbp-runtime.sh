#!/bin/bash
# The msgflo runtime against the FBP ecosystem's own test tools, on real
# brokers (the "brokers" CTest fixture), with real C participants started from
# a component library (core/Repeat, core/Drop, core/ToNumber):
#
#   fbp-runtime.sh fbp-test MSGFLO BIN_DIR   # fbp-test (npm fbp-protocol 0.9.8): the
#                                           # protocol's 22 tests, on MQTT and AMQP,
#                                           # with the runtime's own random secret
#                                           # (read from its Flowhub link), --secret
#                                           # and MSGFLO_SECRET
#   fbp-runtime.sh fbp-spec MSGFLO BIN_DIR   # fbp-spec 0.8.0 runs fbp-spec/*.yaml
#
# Exit 77 (skipped) when the npm packages are not installed.
set -u
mode=$1
msgflo=$2
bindir=$3
here=$(cd "$(dirname "$0")" && pwd)
for tool in fbp-test fbp-spec; do
    if [ ! -x "$here/node_modules/.bin/$tool" ]; then
        echo "fbp-runtime: $tool not installed (npm install in tests/conformance): skipping"
        exit 77
    fi
done
# shellcheck disable=SC1090
. "${MSGFLO_TEST_BROKERS_ENV:?}"

work=$(mktemp -d /tmp/msgflo-fbp-XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/components"
cat >"$work/library.json" <<JSON
{
  "namespace": "core",
  "components": {
    "core/Repeat": "$bindir/repeat #ROLE",
    "core/Drop": "$bindir/drop #ROLE",
    "core/ToNumber": "$bindir/tonumber #ROLE"
  }
}
JSON

# start_runtime BROKER [msgflo options]: sets $pid, $port and $link_secret
# (the secret in the printed Flowhub link). fbp-test checks the FBP
# protocol's meaning of network:status `running` (false once the work
# drained), which the runtime gives with --network-running busy; its default
# is the original msgflo's (docs/runtime-protocol.md#running).
start_runtime() {
    local broker=$1 meaning=()
    shift
    [ "$mode" = fbp-test ] && meaning=(--network-running busy)
    : >"$work/out"
    "$msgflo" --port 0 --broker "$broker" --library "$work/library.json" \
        --componentdir "$work/components" "${meaning[@]}" "$@" >"$work/out" 2>"$work/err" &
    pid=$!
    for _ in $(seq 100); do
        port=$(sed -n 's|^msgflo started on ws://[^:]*:\([0-9]*\).*|\1|p' "$work/out")
        link_secret=$(sed -n 's|^Open in Flowhub: .*%26secret%3D\([^%]*\).*|\1|p' "$work/out")
        [ -n "$port" ] && [ -n "$link_secret" ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "fbp-runtime: msgflo did not start"
    cat "$work/out" "$work/err"
    return 1
}

stop_runtime() {
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=
}

failed=0
# run NAME BROKER HOW: HOW is "own" (the runtime's random secret, read from
# the link as Flowhub gets it), "option" (--secret) or "env" (MSGFLO_SECRET).
run() {
    local name=$1 broker=$2 how=$3 secret="s3cr3t-$$" rc
    echo "=== $mode: $name"
    case $how in
    own) start_runtime "$broker" || { failed=1; return; } ;;
    option) start_runtime "$broker" --secret "$secret" || { failed=1; return; } ;;
    env) MSGFLO_SECRET=$secret start_runtime "$broker" || { failed=1; return; } ;;
    esac
    if [ "$how" = own ]; then
        secret=$link_secret
    elif [ "$link_secret" != "$secret" ]; then
        echo "--- the link holds '$link_secret', not the secret given"
        failed=1
    fi
    if [ "$mode" = fbp-test ]; then
        printf '{"name":"msgflo-c","command":null,"host":"localhost","port":%s,"collection":"core","version":"0.7"}\n' \
            "$port" >"$work/fbp-config.json"
        # fbp-test runs ./node_modules/.bin/_mocha: start it where that is.
        (cd "$here" && PROJECT_HOME="$work" FBP_PROTOCOL_SECRET="$secret" \
            timeout 300 ./node_modules/.bin/fbp-test)
        rc=$?
    else
        local args=(--address "ws://localhost:$port" --command-timeout 10 --secret "$secret")
        (cd "$work" && timeout 300 "$here/node_modules/.bin/fbp-spec" "${args[@]}" "$here/fbp-spec")
        rc=$?
    fi
    stop_runtime
    if [ $rc -ne 0 ]; then
        echo "--- $mode on $name failed ($rc); runtime output:"
        cat "$work/out" "$work/err"
        failed=1
    fi
}

run mqtt "$MSGFLO_TEST_MQTT" own
run amqp "$MSGFLO_TEST_AMQP" option
run "mqtt, MSGFLO_SECRET" "$MSGFLO_TEST_MQTT" env
exit $failed
