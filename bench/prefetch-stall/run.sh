#!/usr/bin/env bash
# Whether prefetching one node's weights during another node's arithmetic pays on this machine (see stall.cc):
#   bash bench/prefetch-stall/run.sh [region MB ...]     (default: 1 4 8)
# Compiles the working tree's native/kernels_impl.h into the program (g++, AVX-512) and runs it; about a minute.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed '/^extern const Kernels kernels/,/};/d' "$root/native/kernels_impl.h" > "$tmp/impl.h"
g++ -O3 -std=c++17 -mavx512f -mavx512vl -mfma -mavx2 -I"$tmp" -I"$root/native" "$root/bench/prefetch-stall/stall.cc" -o "$tmp/stall"
if [ $# -eq 0 ]; then set -- 1 4 8; fi
"$tmp/stall" "$@"
