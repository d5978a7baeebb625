import { describe, expect, it } from "vitest";
import { createDemoSite, runDemo } from "../../harness/cli/commands/demo.ts";

const XEN_CHECKS = ["Xen: netfronts connected, no peer errors", "Xen: h1's pages on xvda through blkfront"];

describe("demo with Xen guests (the default)", () => {
  it("runs the three demo hosts as domUs behind netfront and dom0 bridges; every check passes and the capture is reproducible", async () => {
    const a = await runDemo({ seed: 2 });
    expect(a.xen).toBe(true);
    expect(a.checks.filter((c) => !c.ok)).toEqual([]);
    expect(a.checks.map((c) => c.name)).toEqual(expect.arrayContaining(XEN_CHECKS));
    expect(a.checks.find((c) => c.name === XEN_CHECKS[0])!.detail).toMatch(/^3\/3 netfronts connected through dom0 netback, 0 peer errors$/);
    // netfront, netback and the dom0 bridges carry IPv6 (ethertype 0x86dd): every v6 check passes.
    expect(a.checks.filter((c) => c.family === "ipv6" && c.ok)).toHaveLength(4);
    expect(a.ipv6.tcp).toMatchObject({ received: 262144, intact: true });
    const b = await runDemo({ seed: 2, xen: true });
    expect(Buffer.from(b.pcap).equals(Buffer.from(a.pcap))).toBe(true);
  }, 60_000);

  it("serves h1's pages from its xvda: written and flushed at boot, every 200 body read back through blkfront, front and back agreeing", async () => {
    const r = await runDemo({ seed: 3 });
    const d = r.disk!;
    const site = createDemoSite();
    const siteBytes = [...site.values()].reduce((n, p) => n + p.body.length, 0);
    const sectors = (n: number): number => Math.ceil(n / 512);
    // Both families' servers serve the same site from the disk.
    const bodyOk = [...r.http.requests, ...r.ipv6.http.requests].filter((q) => q.status === 200 && q.sha256Ok);
    expect(d).toMatchObject({
      host: "h1",
      device: "xvda",
      sizeBytes: 4 << 20,
      sectorSize: 512,
      files: site.size,
      siteBytes,
      imageMatches: true,
      ok: true,
      writes: site.size,
      flushes: 1,
      errors: 0,
      reads: bodyOk.length,
      servedFromDisk: bodyOk.length,
    });
    expect(bodyOk).toHaveLength(12);
    // Every file written once, and each body served read back once (whole sectors).
    expect(d.bytesWritten).toBe([...site.values()].reduce((n, p) => n + sectors(p.body.length) * 512, 0));
    expect(d.bytesRead).toBe(bodyOk.reduce((n, q) => n + sectors(q.bytes) * 512, 0));
    expect(d.backendStats).toEqual({ requests: d.requests, errors: 0, sectorsRead: d.bytesRead / 512, sectorsWritten: d.bytesWritten / 512 });
    // Writes, the flush and the reads: at least one ring request each.
    expect(d.requests).toBeGreaterThanOrEqual(d.writes + d.flushes + d.reads);
    // The pages were on the disk before the server listened, long before the first request.
    expect(d.installedAtMs).toBeGreaterThanOrEqual(0);
    expect(d.installedAtMs).toBeLessThan(Math.min(...bodyOk.map((q) => q.startMs)));
    expect(r.checks.find((c) => c.name === XEN_CHECKS[1])).toMatchObject({ ok: true });
  }, 60_000);

  it("runs the bare stacks on the switch ports with xen: false (--no-xen): every check passes, no Xen checks, no disk", async () => {
    const r = await runDemo({ seed: 2, xen: false });
    expect(r.xen).toBe(false);
    expect(r.disk).toBeUndefined();
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
    expect(r.checks.map((c) => c.name).filter((n) => n.startsWith("Xen:"))).toEqual([]);
    expect(r.http.totals).toMatchObject({ requests: 8, correct: 8 });
    // The switch carries ethertype 0x86dd as it does IPv4: SLAAC, ping6, TCP and HTTP over IPv6.
    expect(r.checks.filter((c) => c.family === "ipv6").map((c) => [c.name, c.ok])).toEqual([
      ["SLAAC from h1's RA", true],
      ["ping6: every pair reachable", true],
      ["TCP over IPv6 transfer", true],
      ["HTTP over IPv6: every body correct", true],
    ]);
  }, 60_000);
});
