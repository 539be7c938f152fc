#!/usr/bin/env bash
# A/B of whole revisions on the tree layer's training step (see step.ts):
#   bash bench/step-ab/run.sh OLD_REV NEW_REV [backend] [k list] [rounds]
# copies each revision's src/, assembly/, native/ and build scripts into a temporary directory (NEW_REV may be "."
# for the working tree), builds its wasm modules (backend wasm) or its addon (native), and runs the working tree's
# step.ts in each, alternating the two (old first in odd rounds, new first in even ones) for `rounds` rounds
# (default 4), each a process of its own. Prints the medians over rounds of each k's training step as train() runs
# it and of the separate optimizer step, and old ÷ new. For changes that span TypeScript and the kernels (wasm-ab and
# addon-ab swap the compiled kernels only, driven by the working tree's loader). Both revisions must have the layer
# and optimizer API step.ts uses (TreeGated, Optimizer.early, registerAvailableBackends).
set -euo pipefail
usage="usage: bash bench/step-ab/run.sh OLD_REV NEW_REV [wasm|native] [k list] [rounds]   (NEW_REV may be . for the working tree)"
source "$(dirname "$0")/../ab-builds.sh"
backend=${1:-wasm}; ks=${2:-2,4,6,8}; rounds=${3:-4}
case $backend in
  wasm) ab_build wasm/treegate-threads.wasm 'node scripts/build-wasm.mjs' src assembly scripts package.json tsconfig.json ;;
  native) ab_build build/Release/treegate_native.node 'node scripts/build-native.mjs' src native binding.gyp scripts package.json tsconfig.json ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
for v in old new; do mkdir -p "$tmp/$v/bench/step-ab" && cp "$root/bench/step-ab/step.ts" "$tmp/$v/bench/step-ab/"; done
for ((r = 1; r <= rounds; r++)); do
  order="old new"; ((r % 2 == 0)) && order="new old"
  for v in $order; do
    (cd "$tmp/$v" && node --import tsx bench/step-ab/step.ts "$backend" "$ks" 9) | tail -1 | sed "s/^/$v /" >> "$tmp/rows.txt"
  done
done
node -e '
const lines = require("node:fs").readFileSync(process.argv[1], "utf8").split("\n").filter((l) => l.trim());
const by = { old: [], new: [] };
for (const l of lines) { const [v, json] = [l.slice(0, 3), l.slice(4)]; by[v].push(JSON.parse(json)); }
const median = (v) => { const o = [...v].sort((a, b) => a - b), h = o.length >> 1; return o.length % 2 ? o[h] : (o[h - 1] + o[h]) / 2; };
console.log(`${process.argv[2]} vs ${process.argv[3]} on ${process.argv[4]}, ${by.old.length} rounds (medians over rounds of each process\x27s medians)`);
console.log("| k | training step, old | new | old ÷ new | optimizer step, old | new | old ÷ new |\n|---:|---:|---:|---:|---:|---:|---:|");
by.old[0].forEach(({ k }, i) => {
  const f = (v, key) => median(by[v].map((run) => run[i][key]));
  const [to, tn, so, sn] = [f("old", "train"), f("new", "train"), f("old", "step"), f("new", "step")];
  console.log(`| ${k} | ${to.toFixed(2)} ms | ${tn.toFixed(2)} ms | ${(to / tn).toFixed(2)}× | ${so.toFixed(2)} ms | ${sn.toFixed(2)} ms | ${(so / sn).toFixed(2)}× |`);
});
' "$tmp/rows.txt" "$old" "$new" "$backend"
