# Sourced by the A/B scripts (bench/addon-ab/run.sh, bench/wasm-ab/run.sh) once they have set `usage`: takes
# OLD_REV and NEW_REV from the script's arguments (the rest stay in "$@"), and defines ab_build, which builds
# both revisions in a temporary directory removed on exit.
if [ $# -lt 2 ] || [ "$1" = --help ] || [ "$1" = -h ]; then echo "$usage" >&2; [ $# -ge 1 ] && [[ $1 = -* ]] && exit 0; exit 2; fi
old=$1; new=$2
shift 2
root=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ab_build PRODUCT COMMAND PATH...: copies PATHs of each revision (of the working tree as it is where the revision
# is ".") into $tmp/old and $tmp/new, runs COMMAND in each (this checkout's node_modules linked in), and checks that
# it made PRODUCT there (else prints the build's output and exits). Revisions before the wasm modules moved to wasm/
# made them in build/: a PRODUCT under wasm/ is taken from there too.
ab_build() {
  local product=$1 command=$2 v rev
  shift 2
  for v in old new; do
    rev=${!v}
    mkdir -p "$tmp/$v"
    if [ "$rev" = . ]; then (cd "$root" && tar -cf - "$@") | tar -xf - -C "$tmp/$v"
    else git -C "$root" archive "$rev" "$@" | tar -x -C "$tmp/$v"; fi
    ln -s "$root/node_modules" "$tmp/$v/node_modules"
    (cd "$tmp/$v" && eval "$command") > "$tmp/$v.log" 2>&1 || true
    if [[ $product = wasm/* && ! -f $tmp/$v/$product && -f $tmp/$v/build/${product#wasm/} ]]; then
      mkdir -p "$tmp/$v/wasm" && cp "$tmp/$v/build/${product#wasm/}" "$tmp/$v/$product"
    fi
    test -f "$tmp/$v/$product" || { cat "$tmp/$v.log" >&2; echo "build of $rev failed (its output above)" >&2; exit 1; }
  done
}
