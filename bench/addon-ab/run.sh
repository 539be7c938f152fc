#!/usr/bin/env bash
# A/B of the native addon at two git revisions on the tree layer's node products (see ab.ts):
#   bash bench/addon-ab/run.sh OLD_REV NEW_REV [forms] [k list]
# builds both revisions' addons in a temporary directory (g++, node-gyp from npm), then runs ab.ts from the
# working tree. NEW_REV may be "." for the working tree's native/ as it is.
set -euo pipefail
usage="usage: bash bench/addon-ab/run.sh OLD_REV NEW_REV [forms] [k list]   (NEW_REV may be . for the working tree)"
if [ $# -lt 2 ] || [ "$1" = --help ] || [ "$1" = -h ]; then echo "$usage" >&2; [ $# -ge 1 ] && [[ $1 = -* ]] && exit 0; exit 2; fi
old=$1; new=$2
shift 2
root=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for v in old new; do
  rev=${!v}
  mkdir -p "$tmp/$v"
  if [ "$rev" = . ]; then cp -r "$root/native" "$root/binding.gyp" "$root/scripts" "$tmp/$v/"
  else git -C "$root" archive "$rev" native binding.gyp scripts/build-native.mjs | tar -x -C "$tmp/$v"; fi
  (cd "$tmp/$v" && node scripts/build-native.mjs >/dev/null)
  test -f "$tmp/$v/build/Release/treegate_native.node" || { echo "build of $rev failed" >&2; exit 1; }
done
cd "$root"
node --import tsx bench/addon-ab/ab.ts "$tmp/old/build/Release/treegate_native.node" "$tmp/new/build/Release/treegate_native.node" "$@"
