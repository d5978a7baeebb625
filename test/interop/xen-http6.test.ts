// HTTP/TCP over IPv6 through the Xen path: netlab's HTTP client in a domU behind netfront, netback
// and dom0's bridge fetches a small file and a large one (sha256) from python3's http.server bound
// to the kernel's v6 address: the scenario of http6.test.ts (ipv6-scenarios.ts). Once with no
// offloads anywhere; once with the kernel's offloads on the tap and csum_blank and GSO negotiated
// on the rings: the kernel's TCPv6 segments come with partial checksums (virtio NEEDS_CSUM; the
// tap asks for TSO4 only, so they stay wire-sized), cross the bridge and reach the domU as
// NETRXF_csum_blank | data_validated, while the domU's own TCP over IPv6 uses neither GSO nor
// csum_blank (TCPv4 only); once more with a netfront that does not write
// feature-ipv6-csum-offload, for which netback finishes those checksums in dom0 (the domU's stack
// then verifies every one). (xen-http.test.ts serves curl -6 from the domU.)
import { describe, expect, it } from "vitest";
import { announceSkip, interopSkipReason } from "./support.ts";
import { clientFetchesFromKernel } from "./ipv6-scenarios.ts";
import { watchXenPath, report, withXenLab, type XenLabOptions } from "./xen-support.ts";

const skip = announceSkip("Xen-path HTTP over IPv6 interop", interopSkipReason(["python3", "tcpdump", "tshark"]));
const LARGE_BYTES = Number(process.env["NETLAB_INTEROP_XEN_HTTP6_BYTES"] ?? 8 * 1024 * 1024);

describe.skipIf(skip)("HTTP over IPv6 from a kernel server to a domU behind netfront/netback", () => {
  const TAP_OFFLOADS: XenLabOptions = { offloadsOff: false, tap: { txOffloads: true, rxOffloads: true } };
  const variants: Array<[string, XenLabOptions]> = [
    ["no offloads on the rings", { xen: { netfront: { checksumOffload: false, gso: false } } }],
    [
      "offloads end to end: the kernel's partial checksums through the tap's virtio_net_hdr and csum_blank on the rings",
      { ...TAP_OFFLOADS, xen: { netfront: { checksumOffload: true, gso: true } } },
    ],
    [
      "the kernel's partial checksums through the tap, finished by netback for a frontend without feature-ipv6-csum-offload",
      { ...TAP_OFFLOADS, xen: { netfront: { checksumOffload: true, gso: true, ipv6ChecksumOffload: false } } },
    ],
  ];
  it.each(variants)(
    `netlab's client in the domU fetches a small file and a ${LARGE_BYTES >> 20} MiB one (sha256) from python3's http.server over IPv6 (%s)`,
    async (label, options) => {
      await withXenLab(`http6 client in domU ${label.slice(0, 20)}`, { ipv6: true, snaplen: 256, ...options }, async (x) => {
        const xenPathClean = watchXenPath(x);
        const { figure } = await clientFetchesFromKernel(x, LARGE_BYTES, { kernelPartialChecksums: options.tap?.rxOffloads === true });
        const path = await xenPathClean();
        const c = x.xen.counters();
        // The domU's segments are finished, wire-sized frames: nothing for dom0's bridge to segment or complete.
        expect(c["bridge.link.segmented"]).toBe(0);
        expect(c["bridge.link.checksumsCompleted"]).toBe(0);
        report(`xen (${label}): ${figure}; ${path}`);
      });
    },
    60_000,
  );
});
