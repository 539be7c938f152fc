#!/usr/bin/env bash
# A/B of the native kernels at two git revisions, node by node (see ab.cc), in both orders:
#   bash bench/kernel-ab/run.sh OLD_REV NEW_REV [NT|NN|TN|NTP] [memory|cache] [rows...]
# prints, per row count, new's speed-up over old in each order and their geometric mean, and both versions' median
# times in each order.
# Needs g++; compiles the AVX-512 kernels where the processor has AVX-512, else the AVX2 ones (ISA=avx2 forces
# those); takes about a minute per form and order.
set -euo pipefail
usage="usage: bash bench/kernel-ab/run.sh OLD_REV NEW_REV [NT|NN|TN|NTP] [memory|cache] [rows...]   (NEW_REV may be . for the working tree)"
if [ $# -lt 2 ] || [ "$1" = --help ] || [ "$1" = -h ]; then echo "$usage" >&2; [ $# -ge 1 ] && [[ $1 = -* ]] && exit 0; exit 2; fi
old=$1; new=$2
form=${3:-NT}; where=${4:-memory}; shift $(( $# < 4 ? $# : 4 ))
case $form in NT) f=0 ;; NN) f=1 ;; TN) f=2 ;; NTP) f=3 ;; *) echo "form must be NT, NN, TN or NTP (NT over packed panels)" >&2; echo "$usage" >&2; exit 2 ;; esac
case $where in memory|cache) ;; *) echo "the place must be memory or cache, not '$where'" >&2; echo "$usage" >&2; exit 2 ;; esac
root=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for v in old new; do
  rev=${!v}
  if [ "$rev" = . ]; then src=$(cat "$root/native/kernels_impl.h"); else src=$(git -C "$root" show "$rev:native/kernels_impl.h"); fi
  sed '/^extern const Kernels kernels/,/};/d' <<< "$src" > "$tmp/$v.h"  # the table's initializer, however many lines
done
isa=${ISA:-$(grep -qw avx512f /proc/cpuinfo && echo avx512 || echo avx2)}
case $isa in
  avx512) flags=(-O3 -std=c++17 -mavx512f -mavx512vl -mfma -mavx2 -DTG_W=16 -I"$tmp" -I"$root/native") ;;
  avx2) flags=(-O3 -std=c++17 -mfma -mavx2 -DTG_W=8 -I"$tmp" -I"$root/native") ;;
  *) echo "ISA must be avx512 or avx2, not '$isa'" >&2; exit 2 ;;
esac
g++ "${flags[@]}" -DVA='"old.h"' -DVB='"new.h"' "$root/bench/kernel-ab/ab.cc" -o "$tmp/on"
g++ "${flags[@]}" -DVA='"new.h"' -DVB='"old.h"' "$root/bench/kernel-ab/ab.cc" -o "$tmp/no"
"$tmp/on" "$f" "$where" "$@" > "$tmp/on.txt"
"$tmp/no" "$f" "$where" "$@" > "$tmp/no.txt"
echo "# $form ($isa), weights from $where: speed-up of $new over $old (old first, new first, geometric mean; medians of old and new, µs, in each order)"
paste "$tmp/on.txt" "$tmp/no.txt" | awk '{
  r1 = $(NF/2); r2 = $NF  # old first: first/second = old/new; new first: first/second = new/old
  h = NF / 2  # each half: FORM place rows R: first T us, second T us, first/second X
  printf "%s rows %4d: %.3f  %.3f  %.3f   old %.1f / %.1f, new %.1f / %.1f\n", $1, $4, r1, 1 / r2, sqrt(r1 / r2), $6, $(h + 9), $9, $(h + 6) }'
