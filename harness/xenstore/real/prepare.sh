#!/usr/bin/env bash
# Fetches Debian's real C xenstored (xen-utils-4.17) and the Xen libraries it links into
# build/xenstored-real/ with `apt-get download` + `dpkg -x` (nothing is installed), and builds
# the LD_PRELOAD shim (xsd-shim.c) that fakes the hypervisor for it. Used by the differential
# test harness/xenstore/real/differential.test.ts. Idempotent; run by `npm run setup`.
set -uo pipefail
cd "$(dirname "$0")/../../.."
OUT="$PWD/build/xenstored-real"
DEBS=(xen-utils-4.17 libxenmisc4.17 libxenevtchn1 libxengnttab1 libxencall1 libxentoollog1
      libxentoolcore1 libxenforeignmemory1 libxendevicemodel1)
say() { echo "netlab setup: real xenstored: $*"; }

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
  say "no apt-get/dpkg here (not Debian); the differential xenstored test will be skipped."
  exit 0
fi
mkdir -p "$OUT/debs" "$OUT/root"
if [ ! -x "$OUT/root/usr/lib/xen-4.17/bin/xenstored" ]; then
  fetch() { (cd "$OUT/debs" && apt-get download "${DEBS[@]}" >/dev/null 2>"$OUT/apt.log"); }
  if ! fetch; then
    [ "$(id -u)" -eq 0 ] && apt-get update -qq >/dev/null 2>&1
    if ! fetch; then
      say "apt-get download ${DEBS[*]} failed (no Debian mirror reachable?): see $OUT/apt.log; the differential test will be skipped."
      exit 0
    fi
  fi
  for d in "$OUT"/debs/*.deb; do dpkg -x "$d" "$OUT/root"; done
  say "unpacked $(ls "$OUT"/debs | tr '\n' ' ')into $OUT/root (not installed)."
fi
if ! command -v gcc >/dev/null 2>&1; then
  say "gcc missing: cannot build the shim; the differential test will be skipped."
  exit 0
fi
if [ ! -f "$OUT/xsd-shim.so" ] || [ harness/xenstore/real/xsd-shim.c -nt "$OUT/xsd-shim.so" ]; then
  gcc -shared -fPIC -O2 -Wall -Wextra -pthread -o "$OUT/xsd-shim.so" harness/xenstore/real/xsd-shim.c -ldl || { say "shim build failed"; exit 0; }
  say "built $OUT/xsd-shim.so"
fi
