#!/usr/bin/env bash
# npm run setup: installs the Debian tools netlab uses as real peers and oracles.
# Idempotent, no prompts. Needs root on Debian; says so plainly otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."

# Jazzer.js (the fuzz engine) needs a small glibc shim on Debian 12; runs after the packages
# (it needs gcc), whatever happens to them.
# Debian's real xenstored (fetched and unpacked, not installed) is the oracle of the xenstore
# differential test; it needs apt-get download, dpkg -x and gcc.
trap 'node harness/fuzz/jazzer/prepare.mjs || true; bash harness/xenstore/real/prepare.sh || true' EXIT

# chromium (headless) runs the library bundled for the browser (test/package/browser.test.ts).
# hping3 floods the stack over a tap (test/interop/syn-flood.test.ts).
# traceroute is the kernel's traceroute(8) across netlab routers (harness/lab/examples/traceroute-linux.json).
# python3-scapy builds reference packets (the IPv6 wire tests' golden bytes came from it; run it
# as /usr/bin/python3 where another python3 is first on PATH).
PACKAGES=(
  tshark tcpdump dnsmasq isc-dhcp-client busybox iperf3 curl iputils-ping ethtool
  nftables iproute2 xenstore-utils libxen-dev gcc python3 procps chromium python3-scapy hping3 traceroute
)

if [ ! -r /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "netlab setup: this is not a Debian system (no /etc/debian_version or apt-get)." >&2
  echo "netlab setup: install these by hand to run the interop tests: ${PACKAGES[*]}" >&2
  echo "netlab setup: the simulated lab (npm start, most of npm test) works without them." >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "netlab setup: must run as root to apt-get install: ${PACKAGES[*]}" >&2
  echo "netlab setup: rerun as root (sudo npm run setup); tests that need these tools will report themselves skipped." >&2
  exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "netlab setup: all peer tools already installed."
  exit 0
fi
echo "netlab setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "netlab setup: done."
