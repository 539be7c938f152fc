#!/usr/bin/env bash
# A/B of the native addon at two git revisions on the tree layer's node products (see ab.ts):
#   bash bench/addon-ab/run.sh OLD_REV NEW_REV [forms] [k list]
# builds both revisions' addons in a temporary directory (g++, node-gyp from npm), then runs ab.ts from the
# working tree. NEW_REV may be "." for the working tree's native/ as it is.
set -euo pipefail
usage="usage: bash bench/addon-ab/run.sh OLD_REV NEW_REV [forms] [k list]   (NEW_REV may be . for the working tree)"
source "$(dirname "$0")/../ab-builds.sh"
ab_build build/Release/treegate_native.node 'node scripts/build-native.mjs' native binding.gyp scripts/build-native.mjs
cd "$root"
node --import tsx bench/addon-ab/ab.ts "$tmp/old/build/Release/treegate_native.node" "$tmp/new/build/Release/treegate_native.node" "$@"
