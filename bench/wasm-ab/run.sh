#!/usr/bin/env bash
# A/B of the wasm kernels at two git revisions on the tree layer (see ab.ts):
#   bash bench/wasm-ab/run.sh OLD_REV NEW_REV [forms] [k list]
# builds both revisions' wasm/treegate-threads.wasm in a temporary directory (the AssemblyScript compiler of
# this checkout's node_modules), then runs ab.ts from the working tree. NEW_REV may be "." for the working
# tree's assembly/ as it is. Runs ab.ts twice, the old build loaded first and then the new (the module loaded
# second can run faster whatever it is), and ends with the geometric mean of the two runs' ratios. The working
# tree's loader (src/kernels/wasm/, module.ts: the kernels' names and arguments) drives both modules, so OLD_REV must
# export the same kernels with the same arguments.
set -euo pipefail
usage="usage: bash bench/wasm-ab/run.sh OLD_REV NEW_REV [forms] [k list]   (NEW_REV may be . for the working tree)"
source "$(dirname "$0")/../ab-builds.sh"
ab_build wasm/treegate-threads.wasm 'node scripts/build-wasm.mjs' assembly scripts/build-wasm.mjs
cd "$root"
for load in old-first new-first; do
  LOAD=$load AB_JSON="$tmp/rows.jsonl" node --import tsx bench/wasm-ab/ab.ts "$tmp/old/wasm/treegate-threads.wasm" "$tmp/new/wasm/treegate-threads.wasm" "$@"
  echo
done
node -e '
const rows = require("node:fs").readFileSync(process.argv[1], "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
const by = new Map();
for (const r of rows) { const key = `${r.form} | ${r.k}`; if (!by.has(key)) by.set(key, []); by.get(key).push(r.old / r.new); }
console.log("both load orders: old ÷ new, geometric mean (each run)\n| form | k | old ÷ new | runs |\n|---|---:|---:|---|");
for (const [key, v] of by) console.log(`| ${key} | ${Math.exp(v.reduce((a, x) => a + Math.log(x), 0) / v.length).toFixed(3)}× | ${v.map((x) => x.toFixed(3)).join(", ")} |`);
' "$tmp/rows.jsonl"
