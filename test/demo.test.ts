import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDemoSite, runDemo } from "../harness/cli/commands/demo.ts";
import { parseCapture } from "../stack/link/pcap/index.ts";
import { writeCaptureFile } from "../harness/pcap/files.ts";
import { checkCaptureWithTshark, tsharkFields, tsharkMissingReason } from "../harness/oracle/tshark.ts";

const first = await runDemo({ seed: 1 });

const SHA256_256K = "93940ece6daa9c932cfda5b72abd7a1f13969ce82d8833cc34f277555e1f66c1";
const POOL = /^192\.0\.2\.1\d\d$/;

/**
 * Wireshark 4.0 hands a TCP segment flagged out-of-order or fast-retransmitted to reassembly even
 * when its bytes belong to a PDU it already reassembled, and reports "New fragment overlaps old
 * data (retransmission?)". The demo records each frame twice (out on the sender, in on the
 * receiver) and retransmits under loss, so HTTP bodies meet this. Returns the offending lines that
 * are NOT such a byte-identical repeat of TCP payload seen earlier in the same direction.
 */
function unexplained(path: string, offending: string[]): string[] {
  const OVERLAP = "[Reassembly error, protocol TCP: New fragment overlaps old data (retransmission?)]";
  const frames = new Map<number, string>();
  for (const line of offending) frames.set(Number(line.trim().split(/\s+/)[0]), line);
  const flows = new Map<string, { data: number[]; seen: boolean[] }>();
  const bad: string[] = [];
  for (const [no, stream, srcPort, seq, payload] of tsharkFields(
    path,
    ["frame.number", "tcp.stream", "tcp.srcport", "tcp.seq", "tcp.payload"],
    "tcp.len > 0",
  )) {
    const key = `${stream}:${srcPort}`;
    const flow = flows.get(key) ?? { data: [], seen: [] };
    flows.set(key, flow);
    const bytes = Buffer.from(payload!.replaceAll(":", ""), "hex");
    const at = Number(seq);
    const line = frames.get(Number(no));
    if (line !== undefined) {
      frames.delete(Number(no));
      const repeat = bytes.every((b, i) => flow.seen[at + i] === true && flow.data[at + i] === b);
      if (!line.includes(OVERLAP) || !repeat) bad.push(line);
    }
    bytes.forEach((b, i) => {
      flow.data[at + i] = b;
      flow.seen[at + i] = true;
    });
  }
  return [...bad, ...frames.values()];
}

describe("netlab demo", () => {
  it("passes every check with the default seed: Xen guests with h1's disk, DHCP, pings, UDP echo, a fragmented datagram, TCP, HTTP, impairments at work", () => {
    expect(first.xen).toBe(true);
    expect(first.checks.filter((c) => !c.ok)).toEqual([]);
    expect(first.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        "DHCP: every client bound",
        "DHCP: no address given twice",
        "HTTP: every body correct",
        "Xen: netfronts connected, no peer errors",
        "Xen: h1's pages on xvda through blkfront",
        "SLAAC from h1's RA",
        "ping6: every pair reachable",
        "TCP over IPv6 transfer",
        "HTTP over IPv6: every body correct",
      ]),
    );
    // Every check about one family names it.
    expect(first.checks.filter((c) => c.family === "ipv6").map((c) => c.name)).toEqual([
      "SLAAC from h1's RA",
      "ping6: every pair reachable",
      "TCP over IPv6 transfer",
      "HTTP over IPv6: every body correct",
    ]);
    expect(first.checks.filter((c) => c.family === "ipv4").map((c) => c.name)).toEqual(
      expect.arrayContaining(["ping replies", "TCP transfer", "HTTP: every body correct"]),
    );
    expect(first.ping.rtt.count).toBeGreaterThan(50);
    // Fastest path h1<->h2: (1 - 0.5) + (2 - 1) ms each way.
    expect(first.ping.rtt.minMs).toBeGreaterThanOrEqual(3);
    expect(first.udpEcho.echoed).toBeGreaterThan(15);
    expect(first.fragmented.fragmentsSent).toBeGreaterThanOrEqual(3);
    expect(first.impairmentTotals.lost).toBeGreaterThan(0);
    expect(first.switch.learned).toBe(3);
    expect(first.tcp).toMatchObject({ bytes: 262144, received: 262144, intact: true });
    expect(first.tcp.durationMs).toBeGreaterThan(0);
  });

  it("gives h2 and h3 distinct leases from h1's pool, with the server's gateway, DNS and lease time", () => {
    expect(first.hosts.map((h) => [h.name, h.config])).toEqual([
      ["h1", "static"],
      ["h2", "dhcp"],
      ["h3", "dhcp"],
    ]);
    expect(first.hosts[0]!.ip).toBe("192.0.2.1");
    expect(first.dhcp.leases.map((l) => [l.host, l.mac, l.state])).toEqual([
      ["h2", "02:00:00:00:00:02", "bound"],
      ["h3", "02:00:00:00:00:03", "bound"],
    ]);
    for (const l of first.dhcp.leases) {
      expect(l.address).toMatch(POOL);
      expect(l).toMatchObject({
        prefixLength: 24,
        gateway: "192.0.2.1",
        dnsServers: ["192.0.2.1"],
        domainName: "lab.example",
        leaseTime: 3600,
        server: "192.0.2.1",
      });
      expect(first.hosts.find((h) => h.name === l.host)!.ip).toBe(l.address);
      // Bound in the DHCP phase, before the other phases began.
      expect(l.boundAtMs).toBeGreaterThan(0);
      expect(l.boundAtMs).toBeLessThan(first.networkReadyMs);
    }
    expect(new Set(first.dhcp.leases.map((l) => l.address)).size).toBe(2);
    expect(first.dhcp.server.stats).toMatchObject({ acks: 2, naks: 0, declines: 0 });
  });

  it("fetches the pages over one kept-alive connection per client, with a pipelined pair, every body matching its sha256", () => {
    const site = createDemoSite();
    expect(site.get("/data/256k.bin")!.sha256).toBe(SHA256_256K);
    const rows = first.http.requests.map((r) => [r.client, r.path, r.status, r.bytes, r.sha256Ok, r.reused, r.pipelined]);
    const perClient = (c: string) => [
      [c, "/", 200, site.get("/")!.body.length, true, false, false],
      [c, "/data/256k.bin", 200, 262144, true, true, false],
      [c, "/hello.txt", 200, site.get("/hello.txt")!.body.length, true, true, true],
      [c, "/missing.html", 404, 10, true, true, false],
    ];
    expect(rows).toEqual([...perClient("h2"), ...perClient("h3")]);
    expect(first.http.requests.filter((r) => r.path === "/data/256k.bin").map((r) => r.sha256)).toEqual([SHA256_256K, SHA256_256K]);
    expect(first.http.requests.every((r) => r.error === undefined && r.durationMs > 0)).toBe(true);
    expect(first.http.clients).toEqual([
      { host: "h2", connectionsOpened: 1, reusedConnections: 3, retries: 0 },
      { host: "h3", connectionsOpened: 1, reusedConnections: 3, retries: 0 },
    ]);
    expect(first.http.server.stats).toMatchObject({ connections: 2, requests: 8, responses: 8, parseErrors: 0 });
    expect(first.http.totals).toEqual({ requests: 8, correct: 8, bytes: 2 * (347 + 262144 + 67 + 10) });
  });

  it("IPv6 beside IPv4: h1 advertises 2001:db8::/64, h2 and h3 autoconfigure (SLAAC, EUI-64) with h1 as default router, then ping6, TCP and HTTP over IPv6 all succeed", () => {
    const v = first.ipv6;
    expect(v.family).toBe("ipv6");
    expect(v.hosts.map((h) => [h.name, h.linkLocal, h.address, h.origin, h.state])).toEqual([
      ["h1", "fe80::ff:fe00:1", "2001:db8::1", "static", "preferred"],
      ["h2", "fe80::ff:fe00:2", "2001:db8::ff:fe00:2", "slaac", "preferred"],
      ["h3", "fe80::ff:fe00:3", "2001:db8::ff:fe00:3", "slaac", "preferred"],
    ]);
    for (const h of v.hosts.slice(1)) {
      expect(h.routers).toEqual(["fe80::ff:fe00:1"]);
      expect(h.firstRaAtMs).toBeGreaterThan(0);
      expect(h.rsSent).toBeGreaterThanOrEqual(1);
    }
    expect(v.hosts[0]!.raSent).toBeGreaterThanOrEqual(1);
    expect(v.ping.pairs).toHaveLength(6);
    expect(v.ping.pairs.every((p) => p.sent === 10 && p.replies > 0)).toBe(true);
    // Fastest path h1<->h2 as for v4.
    expect(v.ping.rtt.minMs).toBeGreaterThanOrEqual(3);
    expect(v.tcp).toMatchObject({ bytes: 262144, received: 262144, intact: true });
    expect(v.tcp.virtualGoodputBitsPerSecond).toBeGreaterThan(0);
    expect(v.http.requests.map((r) => [r.client, r.path, r.status, r.bytes, r.sha256Ok, r.reused, r.pipelined])).toEqual(
      first.http.requests.map((r) => [r.client, r.path, r.status, r.bytes, r.sha256Ok, r.reused, r.pipelined]),
    );
    expect(v.http.server).toMatchObject({ host: "h1", address: "2001:db8::1", port: 80, stats: { connections: 2, requests: 8, responses: 8, parseErrors: 0 } });
    expect(v.http.totals).toEqual(first.http.totals);
    // Each family's figures stand apart: the v4 server saw only v4 connections.
    expect(first.http.server.stats).toMatchObject({ connections: 2, requests: 8 });
  });

  it("writes byte-identical pcapng for the same seed and a different capture for another seed", async () => {
    const again = await runDemo({ seed: 1 });
    expect(Buffer.from(again.pcap).equals(Buffer.from(first.pcap))).toBe(true);
    const other = await runDemo({ seed: 2 });
    expect(Buffer.from(other.pcap).equals(Buffer.from(first.pcap))).toBe(false);
  });

  it("passes every check with seeds 1 to 20 (DHCP and TCP recover from loss; netfronts and h1's disk hold up)", async () => {
    const failed: string[] = [];
    for (let seed = 1; seed <= 20; seed++) {
      const r = seed === 1 ? first : await runDemo({ seed });
      for (const c of r.checks) if (!c.ok) failed.push(`seed ${seed}: ${c.name}: ${c.detail}`);
    }
    expect(failed).toEqual([]);
  }, 60_000);

  it("captures one pcapng interface per host, every frame with its direction", () => {
    const r = parseCapture(first.pcap);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.interfaces.map((i) => i.name)).toEqual(["h1", "h2", "h3"]);
    expect(r.value.packets.length).toBe(first.capture.packets);
    expect(r.value.packets.every((p) => p.direction === "in" || p.direction === "out")).toBe(true);
    const times = r.value.packets.map((p) => p.timestampNs);
    expect(times.every((t, i) => i === 0 || t >= times[i - 1]!)).toBe(true);
  });

  const missing = tsharkMissingReason();
  it.skipIf(missing !== undefined)(
    `leaves a capture in which tshark finds nothing wrong and decodes DHCP and HTTP${missing ? ` (skipped: ${missing})` : ""}`,
    () => {
      const dir = mkdtempSync(join(tmpdir(), "netlab-demo-"));
      const path = join(dir, "demo.pcapng");
      try {
        writeCaptureFile(path, first.pcap);
        const verdict = checkCaptureWithTshark(path);
        expect(verdict.packets).toBe(first.capture.packets);
        expect(unexplained(path, verdict.offending), `capture kept at ${path}`).toEqual([]);
        const badChecksums = tsharkFields(
          path,
          ["frame.number"],
          'ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || udp.checksum.status == "Bad" || icmpv6.checksum.status == "Bad"',
        );
        expect(badChecksums).toEqual([]);
        const fragments = tsharkFields(path, ["frame.number"], "ip.flags.mf == 1 || ip.frag_offset > 0");
        expect(fragments.length).toBeGreaterThan(0);
        // DHCP as sent by each client (out on its own interface): DISCOVER, REQUEST; the server's OFFER and ACK.
        const dhcp = tsharkFields(path, ["frame.interface_name", "dhcp.option.dhcp"], "dhcp && frame.p2p_dir == 0");
        for (const host of ["h2", "h3"]) expect(dhcp.filter(([i]) => i === host).map(([, t]) => t)).toEqual(expect.arrayContaining(["1", "3"]));
        expect(dhcp.filter(([i]) => i === "h1").map(([, t]) => t)).toEqual(expect.arrayContaining(["2", "5"]));
        // HTTP as each side sent it (out copies; pipelined requests or responses may share a segment).
        // ... over each family (the same requests and answers over IPv4 and over IPv6).
        for (const family of ["ip", "ipv6"]) {
          const uris = tsharkFields(path, ["frame.interface_name", "http.request.uri"], `${family} && http.request && frame.p2p_dir == 0`).flatMap(([i, v]) =>
            v!.split(",").map((u) => `${i} ${u}`),
          );
          expect(uris.sort()).toEqual([
            "h2 /",
            "h2 /data/256k.bin",
            "h2 /hello.txt",
            "h2 /missing.html",
            "h3 /",
            "h3 /data/256k.bin",
            "h3 /hello.txt",
            "h3 /missing.html",
          ]);
          const codes = tsharkFields(path, ["http.response.code"], `${family} && http.response && frame.p2p_dir == 0 && frame.interface_name == "h1"`).flatMap(
            ([v]) => v!.split(","),
          );
          expect(codes.sort()).toEqual(["200", "200", "200", "200", "200", "200", "404", "404"]);
        }
        // IPv6: h1's RA and the hosts' RSs, DAD and neighbour discovery, MLD, echo request and reply, TCP over IPv6.
        const icmpv6 = new Set(tsharkFields(path, ["icmpv6.type"], "icmpv6").map(([t]) => Number(t)));
        for (const t of [128, 129, 133, 134, 135, 136, 143]) expect(icmpv6).toContain(t);
        const ras = tsharkFields(path, ["frame.interface_name", "icmpv6.opt.prefix"], "icmpv6.type == 134 && frame.p2p_dir == 0");
        expect(ras.length).toBeGreaterThan(0);
        expect(ras.every(([i, p]) => i === "h1" && p === "2001:db8::")).toBe(true);
        expect(tsharkFields(path, ["frame.number"], "ipv6 && tcp.port == 9 && tcp.len > 0").length).toBeGreaterThan(100);
        rmSync(dir, { recursive: true, force: true });
      } catch (e) {
        process.stderr.write(`demo capture kept at ${path}\n`);
        throw e;
      }
    },
  );
});
