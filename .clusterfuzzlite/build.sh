#!/bin/bash -eu
# Builds netlab's fuzz targets for ClusterFuzzLite / OSS-Fuzz (language: javascript, Jazzer.js):
# each target in harness/fuzz/targets is bundled with esbuild to fuzz-build/<name>.js and
# installed with compile_javascript_fuzzer (--sync for synchronous targets, 10 s per input as
# `netlab fuzz` uses), with $OUT/<name>.dict from harness/fuzz/dicts and
# $OUT/<name>_seed_corpus.zip from corpora/<name>/ (inputs and fixed findings in regressions/;
# open/ findings are left out). Needs SRC and OUT, as in the OSS-Fuzz builder images.
cd "$SRC/netlab"
if [ ! -d node_modules/@jazzer.js/core ] || [ ! -d node_modules/esbuild ]; then
  npm ci --no-audit --no-fund
fi
rm -rf fuzz-build
npx tsx harness/fuzz/oss-fuzz-build.ts fuzz-build > /dev/null

zip_seeds() { # zip_seeds OUT.zip FILE...: flat archive of the files
  local out=$1; shift
  if command -v zip > /dev/null; then zip -qj "$out" "$@"; else python3 -m zipfile -c "$out" "$@"; fi
}

while read -r name mode; do
  sync_flag=""
  if [ "$mode" = sync ]; then sync_flag="--sync"; fi
  # The harness checks prototype pollution after each input itself (harness/fuzz/replay.ts), at a
  # fraction of the cost of Jazzer.js's detector. Modules named *.noinst.cjs (the world around a
  # target's code under test, harness/fuzz/runner.ts bundleTarget) are not instrumented.
  compile_javascript_fuzzer netlab "fuzz-build/$name.js" $sync_flag --timeout=10000 --disable_bug_detectors=prototype-pollution \
    --excludes=node_modules --excludes=.noinst.cjs
  if [ -f "harness/fuzz/dicts/$name.dict" ]; then cp "harness/fuzz/dicts/$name.dict" "$OUT/$name.dict"; fi
  seeds=()
  for f in "corpora/$name"/* "corpora/$name"/regressions/*; do
    if [ -f "$f" ]; then seeds+=("$f"); fi
  done
  rm -f "$OUT/${name}_seed_corpus.zip"
  if [ ${#seeds[@]} -gt 0 ]; then zip_seeds "$OUT/${name}_seed_corpus.zip" "${seeds[@]}"; fi
done < fuzz-build/targets.txt
