#!/bin/sh
# The device core built for microcontrollers with arm-none-eabi-gcc, warnings
# as errors, for Cortex-M0+ and Cortex-M4, then linked into a two-port
# participant (two_port.c) with newlib-nano to measure what it costs:
#   flash: the core's functions and constants kept by the linker, plus the
#          string.h functions they pull in from newlib-nano
#   RAM:   the core's own static data (none) and one msgflo_device; the
#          caller's buffer is counted apart
#   stack: the deepest frame of a core function (-fstack-usage)
# The sizes are printed, not asserted (the targets are in docs/device.md).
#   cross_size.sh SOURCE_DIR WORK_DIR
set -eu
src=$1
work=$2
CC=${ARM_CC:-arm-none-eabi-gcc}
command -v "$CC" >/dev/null || {
    echo "$CC not found: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"
    exit 1
}
mkdir -p "$work"
core="device discovery_text"
for cpu in cortex-m0plus cortex-m4; do
    out=$work/$cpu
    mkdir -p "$out"
    flags="-mcpu=$cpu -mthumb -Os -ffreestanding -std=c99 -Wall -Wextra -Wpedantic -Werror
           -ffunction-sections -fdata-sections -fstack-usage -I$src/include"
    for f in $core; do
        # shellcheck disable=SC2086
        $CC $flags -c "$src/src/device/$f.c" -o "$out/$f.o"
    done
    # shellcheck disable=SC2086
    $CC $flags -c "$src/tests/device/two_port.c" -o "$out/two_port.o"
    # shellcheck disable=SC2086
    $CC $flags -c "$src/tests/device/stubs.c" -o "$out/stubs.o"
    # shellcheck disable=SC2086
    $CC $flags --specs=nano.specs --specs=nosys.specs -Wl,--gc-sections \
        "$out/device.o" "$out/discovery_text.o" "$out/two_port.o" "$out/stubs.o" \
        -o "$out/two_port.elf"
    syms=$(for f in $core; do arm-none-eabi-nm --defined-only "$out/$f.o"; done |
        awk '$2 ~ /^[TtRrDdBb]$/ {print $3}' | sort -u)
    sizes=$(arm-none-eabi-nm -S -t d "$out/two_port.elf")
    sum() { # symbol names on stdin -> total size in the ELF
        while read -r s; do
            echo "$sizes" | awk -v s="$s" '$4 == s {print $2 + 0}'
        done | awk '{t += $1} END {print t + 0}'
    }
    core_flash=$(echo "$syms" | while read -r s; do
        echo "$sizes" | awk -v s="$s" '$4 == s && $3 ~ /^[TtRr]$/ {print s}'
    done | sum)
    core_ram=$(echo "$syms" | while read -r s; do
        echo "$sizes" | awk -v s="$s" '$4 == s && $3 ~ /^[DdBb]$/ {print s}'
    done | sum)
    libc=$(printf '%s\n' memcpy memset memcmp strlen strcmp | sum)
    device=$(echo dev | sum)
    buffer=$(echo buf | sum)
    stack=$(cat "$out/device.su" "$out/discovery_text.su" | awk '{if ($2 > m) m = $2} END {print m}')
    echo "$cpu: flash $((core_flash + libc)) bytes (core $core_flash + newlib-nano string functions $libc);" \
        "RAM $((core_ram + device)) bytes (core statics $core_ram + one msgflo_device $device)" \
        "+ the caller's buffer ($buffer here); deepest core stack frame $stack bytes"
done
