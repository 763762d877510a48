#!/bin/bash
# The install tree works wherever it is put: installs the build into a
# temporary prefix, builds a participant against it with pkg-config and with
# CMake's find_package(msgflo), runs both, and runs the installed demo (the
# runtime, the example participants and their library from share/msgflo).
#   check_install.sh BUILD_DIR SOURCE_DIR
set -u
build=$1
src=$2
tmp=$(mktemp -d)
runtime=
cleanup() {
    [ -n "$runtime" ] && kill -TERM "$runtime" 2>/dev/null && wait "$runtime" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$tmp/log" ] && tail -n 20 "$tmp/log"; exit 1; }

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; fail "cmake --install"; }
# Moved after installing: nothing may depend on the prefix it was installed to
# (but the demo library's commands, written at install time).
mv "$prefix" "$tmp/moved" && prefix=$tmp/moved

# 1. pkg-config, as the README says
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
flags=$(pkg-config --cflags --libs msgflo) || fail "pkg-config --cflags --libs msgflo"
cc "$src/examples/repeat.c" $flags -o "$tmp/repeat-pc" 2>"$tmp/log" || fail "cc with pkg-config"
"$tmp/repeat-pc" --help >"$tmp/log" 2>&1
rc=$?
[ $rc -eq 127 ] && fail "participant built with pkg-config cannot start (libmsgflo not found)"
grep -qi "usage" "$tmp/log" || fail "participant built with pkg-config: no usage on --help (exit $rc)"
echo "ok: participant built with pkg-config runs"

# 2. CMake package
mkdir -p "$tmp/cm"
cp "$src/examples/repeat.c" "$tmp/cm/"
cat >"$tmp/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(msgflo 0.1 REQUIRED)
add_executable(repeat repeat.c)
target_link_libraries(repeat PRIVATE msgflo::msgflo)
CM
cmake -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/log" 2>&1 ||
    fail "cmake configure with find_package(msgflo)"
cmake --build "$tmp/cm/build" >"$tmp/log" 2>&1 || fail "cmake build against msgflo::msgflo"
"$tmp/cm/build/repeat" --help >"$tmp/log" 2>&1
[ $? -eq 127 ] && fail "participant built with CMake cannot start"
grep -qi "usage" "$tmp/log" || fail "participant built with CMake: no usage on --help"
echo "ok: participant built with find_package(msgflo) runs"

# 3. the installed demo (installed tools must start; the library's commands
# point at the install prefix, so install again to the place we now use)
cmake --install "$build" --prefix "$prefix" >/dev/null 2>&1 || fail "second install"
"$prefix/bin/msgflo" --help >/dev/null 2>&1 || fail "installed msgflo --help"
export BUTTON_PRESS_EVERY=1 BUTTON_PRESSES=1 MOTOR_RUN_SECONDS=1
unset MSGFLO_BROKER CLOUDAMQP_URL
"$prefix/bin/msgflo" --graph "$prefix/share/msgflo/examples/motorcontrol.fbp" \
    --library "$prefix/share/msgflo/examples/msgflo.json" --port 0 >"$tmp/log" 2>&1 &
runtime=$!
for _ in $(seq 300); do
    grep -q '^warninglight: red ON' "$tmp/log" && break
    kill -0 "$runtime" 2>/dev/null || fail "installed msgflo exited early"
    sleep 0.1
done
grep -q '^warninglight: red ON' "$tmp/log" || fail "installed demo: the light never turned red in 30 s"
kill -TERM "$runtime"
wait "$runtime"
rc=$?
runtime=
[ $rc -eq 0 ] || fail "installed msgflo exited $rc after SIGTERM"
echo "ok: the installed demo runs (button -> motor -> light) and stops"
