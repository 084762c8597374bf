#!/bin/sh
# The whole test suite, as CI runs it: built once with AddressSanitizer,
# UndefinedBehaviorSanitizer and warnings as errors (build-dev.ini), then
# the valgrind suite on a build without sanitizers, then (where clang is
# installed) a warnings-as-errors build with clang.
set -eu
cd "$(dirname "$0")/.."
ulimit -c unlimited 2>/dev/null || true
# The tests ask no debuginfod server but the one the debuginfod test starts
# (a login shell's profile may name Debian's).
unset DEBUGINFOD_URLS
meson setup build-dev --native-file build-dev.ini --wipe >/dev/null 2>&1 ||
	meson setup build-dev --native-file build-dev.ini
meson test -C build-dev --print-errorlogs
meson setup build-valgrind --wipe >/dev/null 2>&1 || meson setup build-valgrind
meson test -C build-valgrind --suite valgrind --print-errorlogs
# Where clang is installed, the code must build warning-free with it too.
if command -v clang >/dev/null 2>&1; then
	CC=clang meson setup build-clang --werror --wipe >/dev/null 2>&1 ||
		CC=clang meson setup build-clang --werror
	ninja -C build-clang
fi
