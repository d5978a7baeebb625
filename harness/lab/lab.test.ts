import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { errorsOf, example } from "./test-kit.ts";
import { checkCaptureWithTshark, tsharkFields, tsharkMissingReason } from "../oracle/tshark.ts";
import {
  TOPOLOGY_SCHEMA,
  describeTopology,
  describeTopologySvg,
  formatLabSummary,
  goodputOf,
  jainIndex,
  listExamples,
  loadTopology,
  runLab,
  validateTopology,
} from "./index.ts";

/** A headless Chromium to render SVGs with, as harness/report/html.test.ts finds it. */
const CHROMIUM = ["chromium", "chromium-browser", "google-chrome"]
  .map((name) => spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }))
  .find((r) => r.status === 0 && r.stdout.trim() !== "")
  ?.stdout.trim();

/** The smallest valid topology: two hosts on one wire. */
const pair = (): Record<string, any> => ({
  name: "pair",
  durationMs: 1000,
  nodes: [
    { name: "a", kind: "host", interfaces: [{ name: "eth0", address: "10.0.0.1/24" }] },
    { name: "b", kind: "host", interfaces: [{ name: "eth0", address: "10.0.0.2/24" }] },
  ],
  links: [{ endpoints: ["a:eth0", "b:eth0"] }],
});

describe("topology files", () => {
  it("validateTopology() names the JSON path of each bad field", async () => {
    expect(errorsOf(pair())).toEqual([]);
    const t = pair();
    t.links[0].rateBitsPerSecond = -1;
    t.links[0].colour = "red";
    t.nodes[1].kind = "bridge";
    delete t.durationMs;
    expect(errorsOf(t)).toEqual([
      "/durationMs: is required",
      '/nodes/1/kind: must be one of "host", "router", "switch"',
      "/links/0/rateBitsPerSecond: must be >= 0",
      "/links/0/colour: is not a known field",
    ]);
  });

  it("refuses address overlaps, routes to nowhere, unknown endpoints, flows from routers and nodes it cannot run yet", async () => {
    const t = pair();
    t.nodes[1].interfaces[0].address = "10.0.0.1/24";
    t.nodes[0].routes = [{ destination: "default", via: "10.9.9.9" }];
    t.links.push({ endpoints: ["a:eth1", "c:eth0"] });
    t.nodes.push({ name: "l", kind: "router", implementation: "linux", interfaces: [{ name: "eth0", address: "10.0.0.3/24" }] });
    t.nodes.push({ name: "x", kind: "host", implementation: "xen", interfaces: [{ name: "eth0", address: "10.0.0.4/24" }] });
    t.nodes.push({ name: "k", kind: "host", implementation: "linux", interfaces: [{ name: "eth0", address: "10.0.0.5/24" }] });
    t.flows = [
      { kind: "bulk-tcp", from: "a", to: "zz", durationMs: 10 },
      { kind: "ping", from: "k", to: "a" },
      { kind: "bulk-tcp", from: "a", to: "k", durationMs: 10 },
    ];
    expect(errorsOf(t)).toEqual([
      "/nodes/0/routes/0/via: gateway 10.9.9.9 is on none of a's subnets (a route to nowhere)",
      "/nodes/1/interfaces/0/address: address 10.0.0.1 is also a:eth0's",
      "/nodes/2/implementation: a linux router is not supported by this runner yet (linux hosts only)",
      "/links/1/endpoints/0: a has no interface eth1",
      "/links/1/endpoints/1: unknown node c",
      "/flows/0/to: unknown node zz",
      "/flows/1/from: a linux host takes part, with a netlab host at the other end, only as the sender of a bulk-tcp flow or either end of a traceroute in this runner (between two linux hosts: iperf3)",
      "/flows/2/to: a linux host takes part, with a netlab host at the other end, only as the sender of a bulk-tcp flow or either end of a traceroute in this runner (between two linux hosts: iperf3)",
    ]);
  });

  it("refuses before running a flow whose packets would loop between routers", async () => {
    const t = JSON.parse(JSON.stringify(example("pmtu-1280"))) as any;
    t.nodes[2].routes.push({ destination: "10.2.0.2/32", via: "10.0.0.1" }); // r2 sends b's traffic back to r1
    expect(errorsOf(t)).toEqual([]);
    await expect(runLab(t, { durationMs: 100 })).rejects.toThrow("/flows/0: the way from a to b loops (a -> r1 -> r2 -> r1)");
  });

  it("refuses an iperf3 flow with a netlab end, without a whole number of seconds, or with fields it does not take", async () => {
    const t = pair();
    t.nodes[0].implementation = "linux";
    t.nodes.push({ name: "k", kind: "host", implementation: "linux", interfaces: [{ name: "eth0", address: "10.0.0.5/24" }] });
    t.links.push({ endpoints: ["k:eth0", "b:eth1"] });
    t.nodes[1].interfaces.push({ name: "eth1", address: "10.0.1.1/24" });
    t.nodes[1].kind = "router";
    t.flows = [
      { kind: "iperf3", from: "a", to: "k", durationMs: 2000, congestionControl: "newreno", port: 5301 },
      { kind: "iperf3", from: "a", to: "b", durationMs: 1500, payloadBytes: 100 },
      { kind: "iperf3", from: "k", to: "a" },
    ];
    expect(errorsOf(t)).toEqual([
      "/flows/1/to: b is a router; flows run between hosts",
      "/flows/1/durationMs: must be whole seconds for an iperf3 flow (iperf3 -t)",
      "/flows/1/payloadBytes: does not apply to a iperf3 flow",
      "/flows/2/durationMs: is required for an iperf3 flow",
    ]);
    t.nodes[1].kind = "host";
    t.nodes[1].interfaces.pop();
    t.links.pop();
    t.nodes[2].interfaces[0].address = "10.0.0.6/24";
    t.links.push({ endpoints: ["k:eth0", "b:eth0"] });
    t.links.splice(0, 1, { endpoints: ["a:eth0", "c:eth0"] });
    t.nodes.push({ name: "c", kind: "host", interfaces: [{ name: "eth0", address: "10.0.0.7/24" }] });
    t.flows = [
      { kind: "iperf3", from: "a", to: "c", durationMs: 1000 },
      { kind: "iperf3", from: "a", to: "k", durationMs: 1000 },
      { kind: "iperf3", from: "a", to: "k", durationMs: 1000, port: 5202 },
    ];
    expect(errorsOf(t)).toEqual([
      "/flows/0/to: an iperf3 flow runs between two linux hosts; c is netlab",
      "/flows/2/port: iperf3 flow 1 already listens on k:5202",
    ]);
  });

  it("refuses xen routers and switches and a xen host on a link narrower than netfront's 1500-byte MTU", async () => {
    const t = pair();
    t.nodes[0].implementation = "xen";
    t.links[0].mtu = 1280;
    t.nodes.push({ name: "xr", kind: "router", implementation: "xen", interfaces: [{ name: "eth0", address: "10.0.1.1/24" }] });
    expect(errorsOf(t)).toEqual([
      "/nodes/2/implementation: a xen router is not supported by this runner (xen hosts only: a domU behind netfront)",
      "/links/0/mtu: a:eth0 is a xen host's netfront, whose MTU is 1500 (endpoint 0)",
    ]);
  });

  it("refuses a loop of switches, addresses on switch ports and hosts or routers without one", async () => {
    const t = pair();
    t.nodes.push({ name: "s1", kind: "switch", interfaces: [{ name: "p1" }, { name: "p2" }, { name: "p3", address: "10.0.0.9/24" }] });
    t.nodes.push({ name: "s2", kind: "switch", interfaces: [{ name: "p1" }, { name: "p2" }], routes: [] });
    t.nodes.push({ name: "c", kind: "host", interfaces: [{ name: "eth0" }] });
    t.links.push({ endpoints: ["s1:p1", "s2:p1"] }, { endpoints: ["s2:p2", "s1:p2"] });
    expect(errorsOf(t)).toEqual([
      "/nodes/2/interfaces/2/address: a switch port has no address",
      "/nodes/3/routes: a switch has no routes",
      "/nodes/4/interfaces/0/address: is required on a host",
      "/links/2/endpoints: closes a loop of switches (s2, s1): frames would circle for ever (no spanning tree, no TTL on Ethernet)",
    ]);
  });

  it("refuses flow fields that do not apply to the flow's kind and a udp-cbr flow without a rate", async () => {
    const t = pair();
    t.flows = [
      { kind: "ping", from: "a", to: "b", congestionControl: "cubic", intervalMs: 0.5 },
      { kind: "udp-cbr", from: "a", to: "b", payloadBytes: 8 },
      { kind: "http", from: "a", to: "b", maxHops: 3, requests: 2 },
    ];
    expect(errorsOf(t)).toEqual([
      "/flows/0/intervalMs: must be >= 1 for a ping flow",
      "/flows/0/congestionControl: does not apply to a ping flow",
      "/flows/1/rateBitsPerSecond: is required for a udp-cbr flow",
      "/flows/1/payloadBytes: must be >= 12 for a udp-cbr flow (sequence number and send time)",
      "/flows/2/maxHops: does not apply to a http flow",
    ]);
  });

  it("topology.schema.json is TOPOLOGY_SCHEMA", async () => {
    expect(JSON.parse(readFileSync(new URL("./topology.schema.json", import.meta.url), "utf8"))).toEqual(TOPOLOGY_SCHEMA);
  });

  it("every shipped example is valid", async () => {
    const names = listExamples().map((e) => e.name);
    expect(names).toEqual([
      "dumbbell-cc",
      "dumbbell-drop-tail",
      "dumbbell-fq-codel",
      "dumbbell-linux-xen",
      "dumbbell-mixed",
      "dumbbell-xen",
      "dumbbell8-drop-tail-bdp",
      "dumbbell8-drop-tail",
      "dumbbell8-fq-codel",
      "home-drop-tail",
      "home-fq-codel",
      "iperf3-linux",
      "lan-dhcp",
      "lan-switch",
      "parking-lot",
      "pmtu-1280-v6",
      "pmtu-1280",
      "traceroute-chain",
      "traceroute-linux",
    ]);
    for (const n of names) expect(loadTopology(n).ok).toBe(true);
  });

  it("describeTopology() lists each node's composition, interfaces, routing table, and the links", async () => {
    const text = describeTopology(example("pmtu-1280"));
    expect(text).toContain(
      "  r1 (router, netlab): createRouter: per interface Ethernet -> ARP -> IPv4 -> ICMP; one routing table; forwarding plane (RFC 1812)",
    );
    expect(text).toContain("    eth1     10.0.0.1/30        device: end of link narrow to r2:eth0");
    expect(text).toContain("    route 10.2.0.0/24 via 10.0.0.2 dev eth1 static");
    expect(text).toContain("    route 10.0.0.0/30 dev eth1 connected");
    expect(text).toContain("  narrow       r1:eth1 <-> r2:eth0: 20.0 Mbit/s, 10 ms delay, MTU 1280, queue drop-tail (limitPackets 1000)");
  });

  it("describeTopology() names a xen host's composition: stack on netfront -> netback -> dom0's bridge -> its link", async () => {
    const text = describeTopology(example("dumbbell-xen"));
    expect(text).toContain(
      "  src1 (host, xen): a Xen domU: createStack: Ethernet -> ARP -> IPv4 (+ reassembly) -> ICMP -> UDP -> TCP on netfront -> netback -> bridge xenbr-src1 -> its link",
    );
    expect(text).toContain("    eth0     10.1.2.2/24        device: netfront; dom0's bridge xenbr-src2 has port eth0: end of link src2-r1 to r1:eth2");
    expect(text).toContain("  src3 (host, netlab): createStack:");
  });

  it("describeTopologySvg() draws every example as well-formed SVG: a box per node naming it, kind and implementation, a line per link with its rate, delay and queue", async () => {
    // Python's XML parser (expat) is the judge of well-formedness; it prints what it found per group.
    const parse = (svg: string): { nodes: { name: string; texts: string[] }[]; links: { name: string; lines: number; texts: string[] }[] } => {
      const script = [
        "import json, sys, xml.etree.ElementTree as E",
        "S = '{http://www.w3.org/2000/svg}'",
        "root = E.fromstring(sys.stdin.read())",
        "assert root.tag == S + 'svg'",
        "groups = root.findall(S + 'g')",
        "texts = lambda g: [''.join(t.itertext()) for t in g.iter(S + 'text')]",
        "print(json.dumps({'nodes': [{'name': g.get('data-node'), 'texts': texts(g)} for g in groups if g.get('class') == 'node'],",
        "  'links': [{'name': g.get('data-link'), 'lines': len(g.findall(S + 'line')), 'texts': texts(g)} for g in groups if g.get('class') == 'link']}))",
      ].join("\n");
      const r = spawnSync("python3", ["-c", script], { input: svg, encoding: "utf8" });
      if (r.status !== 0) throw new Error(`not well-formed: ${r.stderr}`);
      return JSON.parse(r.stdout);
    };
    for (const { name } of listExamples()) {
      const t = example(name);
      const g = parse(describeTopologySvg(t));
      expect(g.nodes.map((n) => n.name)).toEqual(t.nodes.map((n) => n.name));
      t.nodes.forEach((n, i) => expect(g.nodes[i]!.texts.slice(0, 2)).toEqual([n.name, `${n.kind} · ${n.implementation ?? "netlab"}`]));
      expect(g.links.map((l) => [l.name, l.lines])).toEqual(t.links.map((l, i) => [l.name ?? `link${i}`, 1]));
    }
    const dumbbell = parse(describeTopologySvg(example("dumbbell-cc")));
    expect(dumbbell.links.find((l) => l.name === "bottleneck")!.texts).toEqual(["bottleneck", "10.0 Mbit/s, 20 ms", "drop-tail 1000 pkts"]);
    expect(dumbbell.nodes.find((n) => n.name === "r1")!.texts).toEqual([
      "r1",
      "router · netlab",
      "core 10.0.0.1/30",
      "eth1 10.1.1.1/24",
      "eth2 10.1.2.1/24",
      "eth3 10.1.3.1/24",
    ]);
    const fq = parse(describeTopologySvg(example("pmtu-1280")));
    expect(fq.links.find((l) => l.name === "narrow")!.texts).toEqual(["narrow", "20.0 Mbit/s, 10 ms", "drop-tail 1000 pkts, MTU 1280"]);
    expect(parse(describeTopologySvg(example("dumbbell-xen"))).nodes.find((n) => n.name === "src1")!.texts[1]).toBe("host · xen");
  });

  it.skipIf(CHROMIUM === undefined)(
    `describeTopologySvg() renders in headless Chromium: no parser error, every node and link in the DOM, a drawn picture${CHROMIUM === undefined ? " (skipped: no chromium)" : ""}`,
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "netlab-describe-"));
      try {
        const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", `--user-data-dir=${join(dir, "profile")}`];
        for (const name of ["lan-dhcp", "dumbbell-cc"]) {
          const t = example(name);
          const file = join(dir, `${name}.svg`);
          writeFileSync(file, describeTopologySvg(t));
          const dom = spawnSync(CHROMIUM!, [...flags, "--dump-dom", `file://${file}`], { encoding: "utf8", timeout: 60_000 });
          expect(dom.status).toBe(0);
          expect(dom.stdout).not.toContain("parsererror");
          expect(dom.stdout.match(/<g class="node"/g)).toHaveLength(t.nodes.length);
          expect(dom.stdout.match(/<g class="link"[^>]*>\s*<line /g)).toHaveLength(t.links.length);
          const png = join(dir, `${name}.png`);
          const shot = spawnSync(CHROMIUM!, [...flags, "--window-size=1400,500", `--screenshot=${png}`, `file://${file}`], {
            encoding: "utf8",
            timeout: 60_000,
          });
          expect(shot.status).toBe(0);
          expect(readFileSync(png).subarray(1, 4).toString("latin1")).toBe("PNG");
          // Boxes, lines and labels compress to tens of KB; a blank page to a few.
          expect(statSync(png).size).toBeGreaterThan(20_000);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    120_000,
  );

  it("netlab lab describe FILE --svg OUT.svg prints the text and writes the drawing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-describe-"));
    try {
      const out = join(dir, "graph.svg");
      const r = spawnSync(process.execPath, [fileURLToPath(new URL("../../bin/netlab.mjs", import.meta.url)), "lab", "describe", "lan-switch", "--svg", out], {
        encoding: "utf8",
      });
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`${describeTopology(example("lan-switch"))}\nconfiguration graph drawn to ${out}\n`);
      expect(readFileSync(out, "utf8")).toBe(describeTopologySvg(example("lan-switch")));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a dhcp host on a segment without a DHCP server, two servers on one, dhcp routers, pools outside the subnet or over static addresses, and flows to a dhcp host", async () => {
    const lan = (): Record<string, any> => JSON.parse(readFileSync(listExamples().find((e) => e.name === "lan-dhcp")!.path, "utf8"));
    expect(errorsOf(lan())).toEqual([]);
    const noServer = lan();
    delete noServer.nodes[0].interfaces[0].dhcpServer;
    expect(errorsOf(noServer)).toEqual([
      "/nodes/3/interfaces/0/address: no DHCP server on laptop:eth0's segment (give an interface there a dhcpServer)",
      "/nodes/4/interfaces/0/address: no DHCP server on phone:eth0's segment (give an interface there a dhcpServer)",
    ]);
    // A server on the other side of the router is on another segment: DHCP broadcasts are not forwarded.
    const across = lan();
    across.nodes[5].interfaces[0].dhcpServer = { pool: "10.2.0.100-10.2.0.110" };
    delete across.nodes[0].interfaces[0].dhcpServer;
    expect(errorsOf(across)).toContain("/nodes/3/interfaces/0/address: no DHCP server on laptop:eth0's segment (give an interface there a dhcpServer)");
    const bad = lan();
    bad.nodes[1].interfaces[0].dhcpServer = { pool: "10.1.1.50-10.1.1.60" };
    bad.nodes[0].interfaces[1].address = "dhcp";
    delete bad.nodes[0].interfaces[0].dhcpServer;
    bad.nodes[2].interfaces[0].dhcpServer = { pool: "10.1.1.1-10.1.2.9", gateway: "10.9.9.9" };
    bad.nodes[3].routes = [{ destination: "default", via: "10.1.1.1" }];
    bad.flows.push({ kind: "ping", from: "srv", to: "laptop" });
    expect(errorsOf(bad)).toEqual([
      "/nodes/1/interfaces/0/dhcpServer: a DHCP server runs on a netlab host or router in this runner (sw is a netlab switch)",
      "/nodes/2/interfaces/0/dhcpServer/pool: 10.1.1.1-10.1.2.9 is not inside nas:eth0's subnet 10.1.1.2/24",
      "/nodes/2/interfaces/0/dhcpServer/pool: 10.1.1.1-10.1.2.9 holds 10.1.1.1, r1:lan's static address",
      "/nodes/2/interfaces/0/dhcpServer/pool: 10.1.1.1-10.1.2.9 holds 10.1.1.2, nas:eth0's static address",
      "/nodes/2/interfaces/0/dhcpServer/gateway: 10.9.9.9 is not on 10.1.1.2/24",
      '/nodes/0/interfaces/1/address: "dhcp" is for netlab hosts in this runner (r1 is a netlab router)',
      "/nodes/3/routes: a dhcp host takes its gateway from the lease (the server's gateway)",
      "/flows/3/to: laptop leases its address by DHCP during the run: it sends flows (from the lease on), it does not receive them in this runner",
    ]);
    const two = lan();
    two.nodes[2].interfaces[0].dhcpServer = { pool: "10.1.1.200-10.1.1.209" };
    expect(errorsOf(two)).toEqual(["/nodes/2/interfaces/0/dhcpServer: r1:lan already serves DHCP on this segment"]);
    const small = lan();
    small.nodes[0].interfaces[0].dhcpServer.pool = "10.1.1.100-10.1.1.100";
    expect(errorsOf(small)).toEqual(["/nodes/0/interfaces/0/dhcpServer/pool: 1 addresses for 2 dhcp hosts"]);
    const malformed = lan();
    malformed.nodes[0].interfaces[0].dhcpServer.pool = "10.1.1.200-10.1.1.100";
    malformed.nodes[4].interfaces[0].address = "auto";
    expect(errorsOf(malformed)).toEqual([
      "/nodes/0/interfaces/0/dhcpServer/pool: must be ipv4-range",
      "/nodes/4/interfaces/0/address: must be ipv4-cidr-or-dhcp",
    ]);
  });

  it("describeTopology() shows a DHCP server's pool and each dhcp host's server", async () => {
    const text = describeTopology(example("lan-dhcp"));
    expect(text).toContain(
      "    lan      10.1.1.1/24        device: end of link uplink to sw:p0\n             DHCP server (stack/app/dhcp/server.ts) on UDP 67: pool 10.1.1.100-10.1.1.199, gateway 10.1.1.1, lease 3600 s\n",
    );
    expect(text).toContain(
      "    eth0     dhcp               device: end of link phone-sw to sw:p3\n             DHCP client (stack/app/dhcp/client.ts, ARP probe of the offer) leasing from r1:lan; its flows start once it is bound\n",
    );
  });

  it("jainIndex() is 1 for equal shares and 1/n when one flow takes everything", async () => {
    expect(jainIndex([3, 3, 3, 3])).toBe(1);
    expect(jainIndex([4, 0, 0, 0])).toBe(0.25);
    expect(jainIndex([])).toBeNull();
  });
});

describe("lab run (virtual time, netlab nodes)", () => {
  it("dumbbell-fq-codel: four CUBIC flows share the bottleneck fairly with a short queue", async () => {
    const r = await runLab(example("dumbbell-fq-codel"), { durationMs: 8000 });
    expect(r.flows.every((f) => f.connected && f.bytesReceived > 0)).toBe(true);
    expect(r.jainIndex!).toBeGreaterThan(0.95);
    const q = r.queues.find((x) => x.name === "bottleneck r1:core->r2:core")!;
    expect(q.stats.kind).toBe("fq-codel");
    expect(q.stats.sojournMs.p50).toBeLessThan(15);
    const total = r.flows.reduce((a, f) => a + goodputOf(f.steady), 0);
    expect(total).toBeGreaterThan(8.5e6);
    expect(r.routers.r1!.forwarded).toBeGreaterThan(1000);
  });

  it("dumbbell-drop-tail: the same flows build a standing queue of hundreds of ms", async () => {
    const r = await runLab(example("dumbbell-drop-tail"), { durationMs: 8000 });
    const q = r.queues.find((x) => x.name === "bottleneck r1:core->r2:core")!;
    expect(q.stats.kind).toBe("drop-tail");
    expect(q.stats.sojournMs.p50).toBeGreaterThan(300);
    expect(q.stats.maxBacklogPackets).toBeGreaterThan(500);
  });

  it("dumbbell-cc: cubic, newreno and bbr all connect; alone, BBR keeps the drop-tail bottleneck's queue short where CUBIC fills it", async () => {
    const t = example("dumbbell-cc");
    const sojourn = (r: Awaited<ReturnType<typeof runLab>>) => r.queues.find((x) => x.name === "bottleneck r1:core->r2:core")!.stats;
    const together = await runLab(t, { durationMs: 10000 });
    expect(together.flows.map((f) => [f.name, f.congestionControl, f.connected, f.bytesReceived > 0])).toEqual([
      ["cubic", "cubic", true, true],
      ["newreno", "newreno", true, true],
      ["bbr", "bbr", true, true],
    ]);
    // The loss-based flows keep the 1000-packet queue near full; BBR v1's window (2 BDP at its 40 ms min RTT) then gets it little.
    expect(sojourn(together).sojournMs.p50).toBeGreaterThan(300);
    const bbr = together.flows.find((f) => f.name === "bbr")!;
    expect(goodputOf(bbr.steady)).toBeLessThan(Math.min(...together.flows.filter((f) => f !== bbr).map((f) => goodputOf(f.steady))));
    const alone = async (name: string) =>
      runLab({ ...t, flows: t.flows!.filter((f) => f.name === name).map((f) => ({ ...f, startMs: 0 })) }, { durationMs: 10000 });
    const [cubic, bbrAlone] = [await alone("cubic"), await alone("bbr")];
    for (const r of [cubic, bbrAlone]) expect(goodputOf(r.flows[0]!.steady)).toBeGreaterThan(9e6);
    expect(sojourn(cubic).sojournMs.p50).toBeGreaterThan(300);
    expect(sojourn(cubic).maxBacklogPackets).toBeGreaterThan(500);
    expect(sojourn(bbrAlone).sojournMs.p50).toBeLessThan(20);
    expect(sojourn(bbrAlone).maxBacklogPackets).toBeLessThan(200);
    expect(bbrAlone.flows[0]!.samples.at(-1)!.srttMs).toBeLessThan(100);
  });

  it("lan-dhcp: laptop and phone lease distinct addresses from the router through the switch; their flows start once bound and reach srv past the router", async () => {
    const r = await runLab(example("lan-dhcp"));
    const leases = new Map(r.dhcp!.map((d) => [d.host, d]));
    expect([...leases.keys()]).toEqual(["laptop", "phone"]);
    for (const d of leases.values()) {
      expect(d.server).toBe("r1:lan");
      expect(d.state).toBe("bound");
      expect(d.gateway).toBe("10.1.1.1");
      expect(d.leaseSeconds).toBe(3600);
      expect(d.address).toMatch(/^10\.1\.1\.1\d\d\/24$/);
      // The REQUEST goes out within the 0.5 s start-up delay; the address is configured after the RFC 5227 probe.
      expect(d.acquiredAtMs!).toBeLessThan(1000);
      expect(d.boundAtMs!).toBeGreaterThan(d.acquiredAtMs!);
      expect(d.boundAtMs!).toBeLessThan(9000);
    }
    expect(leases.get("laptop")!.address).not.toBe(leases.get("phone")!.address);
    const download = r.flows[0]!;
    expect(download.connected).toBe(true);
    expect(download.bytesReceived).toBeGreaterThan(500_000);
    expect(download.path).toEqual(["laptop-sw laptop:eth0->sw:p2", "uplink sw:p0->r1:lan", "wan r1:wan->srv:eth0"]);
    // The first 100 ms goodput bins before the lease are empty.
    const bound = leases.get("laptop")!.boundAtMs!;
    expect(download.samples.filter((x) => x.t <= bound).every((x) => x.virtualGoodputBitsPerSecond === 0)).toBe(true);
    const [ping, pingNas] = r.pings;
    expect(ping!.startMs).toBe(leases.get("phone")!.boundAtMs);
    expect(ping!.sent).toBe(Math.ceil((10_000 - ping!.startMs) / 200));
    expect(ping!.received).toBe(ping!.sent - ping!.unanswered);
    expect(ping!.rttMs!.min).toBeGreaterThan(20);
    // Asked to start at 5 s, before the phone's lease: it starts at the lease.
    expect(pingNas!.startMs).toBe(Math.max(5000, leases.get("phone")!.boundAtMs!));
    expect(pingNas!.received).toBe(Math.ceil((10_000 - pingNas!.startMs) / 1000) - pingNas!.unanswered);
    expect(formatLabSummary(r)).toContain(`  phone    from r1:lan: ${leases.get("phone")!.address} via 10.1.1.1, requested at`);
    const again = await runLab(example("lan-dhcp"));
    expect(again.dhcp).toEqual(r.dhcp);
    expect(again.flows[0]!.bytesReceived).toBe(download.bytesReceived);
    // The same server on a host of the LAN (nas) instead of the router: the same leases, from nas.
    const t = example("lan-dhcp");
    const { dhcpServer, ...lanInterface } = t.nodes[0]!.interfaces[0]!;
    const onHost = await runLab({
      ...t,
      nodes: t.nodes.map((n) =>
        n.name === "r1"
          ? { ...n, interfaces: [lanInterface, n.interfaces[1]!] }
          : n.name === "nas"
            ? { ...n, interfaces: [{ ...n.interfaces[0]!, dhcpServer: dhcpServer! }] }
            : n,
      ),
    });
    expect(onHost.dhcp!.map((d) => [d.host, d.server, d.address, d.state])).toEqual(r.dhcp!.map((d) => [d.host, "nas:eth0", d.address, "bound"]));
    expect(onHost.flows[0]!.connected).toBe(true);
  });

  it("pmtu-1280: the router answers DF segments with fragmentation-needed and the flow goes on with smaller ones", async () => {
    const r = await runLab(example("pmtu-1280"), { durationMs: 3000 });
    expect(r.routers.r1!["drop.frag-needed"]).toBeGreaterThan(0);
    expect(r.flows[0]!.virtualGoodputBitsPerSecond!).toBeGreaterThan(10e6);
    expect(r.links.find((l) => l.name === "narrow")!.framesDelivered).toBeGreaterThan(1000);
  });

  it("traceroute-chain: time exceeded from each of five routers by the interface facing the source, then the echo reply", async () => {
    const r = await runLab(example("traceroute-chain"), { durationMs: 1500 });
    expect(r.traceroutes).toHaveLength(1);
    const t = r.traceroutes[0]!;
    expect(t.reached).toBe(true);
    expect(t.hops.map((h) => [h.ttl, h.from, h.reached])).toEqual([
      [1, "10.1.0.1", false],
      [2, "10.0.1.2", false],
      [3, "10.0.2.2", false],
      [4, "10.0.3.2", false],
      [5, "10.0.4.2", false],
      [6, "10.2.0.2", true],
    ]);
    // Each further router adds two 2 ms link crossings (and serialization) to the round trip.
    for (let i = 2; i < 5; i++) expect(t.hops[i]!.rttMs! - t.hops[i - 1]!.rttMs!).toBeCloseTo(4.18, 1);
    for (const name of ["r1", "r2", "r3", "r4", "r5"]) expect(r.routers[name]!["drop.ttl-exceeded"]).toBe(1);
    expect(r.flows[0]!.virtualGoodputBitsPerSecond!).toBeGreaterThan(5e6);
  });

  it("parking-lot: flows over 3, 2 and 1 hops share the last link evenly under FQ-CoDel", async () => {
    const r = await runLab(example("parking-lot"), { durationMs: 6000 });
    expect(r.flows.map((f) => f.name)).toEqual(["hops3", "hops2", "hops1"]);
    expect(r.jainIndex!).toBeGreaterThan(0.95);
    expect(r.routers.r4!.forwarded!).toBeGreaterThan(r.routers.r1!.forwarded!);
    expect(r.flows[0]!.path).toEqual([
      "src1-r1 src1:eth0->r1:lan",
      "r1-r2 r1:east->r2:west",
      "r2-r3 r2:east->r3:west",
      "r3-r4 r3:east->r4:west",
      "r4-dst1 r4:sink1->dst1:eth0",
    ]);
    expect(r.sharedLinks.map((l) => [l.name, l.flows])).toEqual([
      ["r2-r3 r2:east->r3:west", ["hops3", "hops2"]],
      ["r3-r4 r3:east->r4:west", ["hops3", "hops2", "hops1"]],
    ]);
    expect(r.sharedLinks[1]!.jainIndex).toBeGreaterThan(0.95);
  });

  it("lan-switch: hosts behind two learning switches reach the server through the router and each other without it", async () => {
    const r = await runLab(example("lan-switch"), { durationMs: 3000 });
    expect(r.flows.every((f) => f.connected && f.virtualGoodputBitsPerSecond! > 1e6)).toBe(true);
    const path = (name: string) => r.flows.find((f) => f.name === name)!.path;
    expect(path("h4-h1")).toEqual(["h4 h4:eth0->sw2:p2", "trunk sw2:trunk->sw1:trunk", "h1 sw1:p1->h1:eth0"]);
    expect(path("h3-srv")).toEqual(["h3 h3:eth0->sw2:p1", "trunk sw2:trunk->sw1:trunk", "r1-sw1 sw1:p0->r1:lan", "uplink r1:wan->srv:eth0"]);
    // The LAN flow is switched, never routed: the router forwards fewer frames than that flow alone carries.
    expect(r.routers.r1!.forwarded! * 2).toBeLessThan(r.links.find((l) => l.name === "h4")!.framesDelivered);
    expect(r.sharedLinks.find((l) => l.name === "uplink r1:wan->srv:eth0")!.jainIndex).toBeGreaterThan(0.9);
  });

  it("ping, udp-cbr and http flows on one 10 ms wire: exact RTTs, every datagram with its delay, every fetch complete", async () => {
    const t = pair();
    t.durationMs = 2000;
    t.links[0] = { endpoints: ["a:eth0", "b:eth0"], delayMs: 10, rateBitsPerSecond: 100e6 };
    // One after the other, so that no flow's frames wait behind another's: pings, then fetches, then datagrams.
    t.flows = [
      { name: "p", kind: "ping", from: "a", to: "b", intervalMs: 100, startMs: 100, durationMs: 400 },
      { name: "h", kind: "http", from: "a", to: "b", responseBytes: 50_000, requests: 3, startMs: 500, durationMs: 500 },
      { name: "u", kind: "udp-cbr", from: "b", to: "a", rateBitsPerSecond: 1e6, payloadBytes: 1000, startMs: 1000, durationMs: 960 },
    ];
    const v = validateTopology(t);
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    const r = await runLab(v.topology);
    const p = r.pings[0]!;
    expect([p.sent, p.received, p.lost, p.unanswered]).toEqual([4, 4, 0, 0]);
    expect(p.samples.map((x) => x.t)).toEqual([0, 100, 200, 300]);
    // Two 10 ms crossings and the 98-byte frame's serialization both ways at 100 Mb/s (the first waits for ARP).
    for (const x of p.samples.slice(1)) expect(x.rttMs).toBeCloseTo(20 + (2 * 98 * 8) / 1e5, 6);
    const u = r.udpCbr[0]!;
    expect([u.sent, u.received, u.lost, u.missingAtEnd, u.reordered, u.duplicates, u.sendErrors]).toEqual([120, 120, 0, 0, 0, 0, 0]);
    expect(u.oneWayDelayMs!.max).toBeCloseTo(10 + (1042 * 8) / 1e5, 6);
    expect(u.jitterMs).toBeLessThan(1e-9);
    expect(u.virtualGoodputBitsPerSecond).toBeCloseTo(1e6, -3);
    const h = r.http[0]!;
    expect([h.requests, h.completed, h.failed]).toEqual([3, 3, 0]);
    for (const f of h.fetches) expect([f.status, f.bytes, f.error]).toEqual([200, 50_000, undefined]);
    expect(h.fetches[1]!.t).toBeGreaterThan(h.fetches[0]!.t + h.fetches[0]!.doneMs! - 1e-9);
    // Keep-alive: the second fetch needs no handshake, one round trip (20 ms) and its bytes.
    expect(h.fetches[1]!.doneMs!).toBeLessThan(h.fetches[0]!.doneMs!);
    expect(h.fetches[1]!.headMs!).toBeGreaterThanOrEqual(20);
    expect(formatLabSummary(r)).toMatch(/ping p: a -> b every 100 ms: 4 sent, 4 received, 0 lost, 0 unanswered/);
  });

  it("home-drop-tail vs home-fq-codel: a download inflates the drop-tail queue's ping RTT, voice delay and page times; FQ-CoDel keeps them short", async () => {
    const bloat = await runLab(example("home-drop-tail"), { durationMs: 6000 });
    const fq = await runLab(example("home-fq-codel"), { durationMs: 6000 });
    for (const r of [bloat, fq]) {
      expect(r.flows[0]!.connected).toBe(true);
      expect(r.pings[0]!.sent).toBe(60);
      expect(r.udpCbr[0]!.received).toBeGreaterThan(250);
      expect(r.http[0]!.completed).toBeGreaterThan(5);
    }
    // After the download started (2 s), the ping samples:
    const late = (r: typeof fq) => r.pings[0]!.samples.filter((x) => x.t >= 3000 && x.rttMs !== undefined).map((x) => x.rttMs!);
    expect(Math.min(...late(bloat))).toBeGreaterThan(150);
    expect(Math.max(...late(fq))).toBeLessThan(60);
    expect(bloat.udpCbr[0]!.oneWayDelayMs!.p90).toBeGreaterThan(150);
    expect(fq.udpCbr[0]!.oneWayDelayMs!.p90).toBeLessThan(30);
    expect(fq.http[0]!.completionMs!.p90).toBeLessThan(bloat.http[0]!.completionMs!.p90);
  });

  it("dumbbell-xen: two senders are domUs behind netfront, bridged by dom0 onto their links; flows connect, bytes arrive, the same seed gives the same pcap", async () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-lab-xen-"));
    try {
      const t = example("dumbbell-xen");
      const r = await runLab(t, { durationMs: 2500, outDir: join(dir, "a") });
      await runLab(t, { durationMs: 2500, outDir: join(dir, "b") });
      await runLab(t, { durationMs: 2500, outDir: join(dir, "c"), seed: 2 });
      expect(r.flows.map((f) => [f.name, f.sender, f.connected])).toEqual([
        ["flow1", "xen", true],
        ["flow2", "xen", true],
        ["flow3", "netlab", true],
        ["flow4", "netlab", true],
      ]);
      for (const f of r.flows) expect(f.bytesReceived).toBeGreaterThan(200_000);
      const xen = r.xen!;
      expect(xen.peerErrors).toEqual([]);
      expect(xen.hosts.map((h) => [h.name, h.domid, h.vif, h.bridge, h.mac])).toEqual([
        ["src1", 1, "vif1.0", "xenbr-src1", "00:16:3e:00:00:01"],
        ["src2", 2, "vif2.0", "xenbr-src2", "00:16:3e:00:00:02"],
      ]);
      for (const h of xen.hosts) {
        // Every frame the domU sent crossed the rings into its vif; the bridge port splits GSO frames into MTU-sized ones for the link.
        expect(h.netfront.txFrames).toBeGreaterThan(100);
        expect(h.netback.txFrames).toBe(h.netfront.txFrames);
        expect(h.netback.txBytes).toBe(h.netfront.txBytes);
        expect(h.linkPort.txFrames).toBeGreaterThanOrEqual(h.netback.txFrames);
        // The other way: what came in from the link went through the vif into the domU.
        expect(h.netfront.rxFrames).toBe(h.netback.rxFrames);
        expect(h.netback.rxFrames).toBe(h.linkPort.rxFrames);
        expect([h.netfront.txDropped, h.netback.txErrors, h.linkPort.dropped]).toEqual([0, 0, 0]);
      }
      expect(formatLabSummary(r)).toMatch(/share of the steady goodput by sender stack: xen 2 flows .* \| {2}netlab 2 flows/);
      const bytes = (d: string, link: string) => readFileSync(join(dir, d, `${link}.pcapng`));
      // On src1's access link, the frames are the domU's: its Xen MAC is their source (bytes 6..11 of each frame).
      expect(bytes("a", "src1-r1").includes(Buffer.from([0x00, 0x16, 0x3e, 0x00, 0x00, 0x01]))).toBe(true);
      if (tsharkMissingReason() === undefined) {
        // What dom0's bridge put on the link is plain Ethernet: TSO frames cut to the MTU, csum_blank checksums filled in.
        const pcap = join(dir, "a", "src1-r1.pcapng");
        expect(checkCaptureWithTshark(pcap).offending).toEqual([]);
        expect(Math.max(...tsharkFields(pcap, ["frame.len"]).map(([len]) => Number(len)))).toBe(1514);
      }
      for (const link of ["src1-r1", "bottleneck"]) {
        expect(bytes("a", link).length).toBeGreaterThan(100_000);
        expect(bytes("a", link).equals(bytes("b", link))).toBe(true);
        expect(bytes("a", link).equals(bytes("c", link))).toBe(false);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("writes a pcapng per link and the same bytes from the same seed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-lab-"));
    try {
      const t = example("dumbbell-fq-codel");
      const a = await runLab(t, { durationMs: 1500, outDir: join(dir, "a") });
      await runLab(t, { durationMs: 1500, outDir: join(dir, "b") });
      await runLab(t, { durationMs: 1500, outDir: join(dir, "c"), seed: 2 });
      expect(a.links.map((l) => l.pcap?.endsWith(`${l.name}.pcapng`))).toEqual(t.links.map(() => true));
      const bytes = (d: string) => readFileSync(join(dir, d, "bottleneck.pcapng"));
      expect(bytes("a").length).toBeGreaterThan(100_000);
      expect(bytes("a").equals(bytes("b"))).toBe(true);
      expect(bytes("a").equals(bytes("c"))).toBe(false);
      const summary = readFileSync(join(dir, "a", "summary.txt"), "utf8");
      expect(summary).toMatch(/Jain's fairness index/);
      // Goodputs are named by the run's clock (virtual: no linux host) and written with the SI formatter.
      expect(summary).toMatch(/\(goodputs on the virtual clock\)/);
      expect(summary).toMatch(/^ {2}flow1 .* goodput \d+(\.\d+)? [kM]bit\/s, steady \d+(\.\d+)? [kM]bit\/s, \d+ retransmits$/m);
      const json = JSON.parse(readFileSync(join(dir, "a", "report.json"), "utf8")) as { flows: Record<string, unknown>[]; units: Record<string, string> };
      for (const f of json.flows) {
        expect(f["virtualGoodputBitsPerSecond"]).toBeGreaterThan(0);
        expect(f).not.toHaveProperty("goodputBitsPerSecond");
        expect(f).not.toHaveProperty("wallGoodputBitsPerSecond");
        expect(Object.keys(f["steady"] as object)).toEqual(["virtualGoodputBitsPerSecond"]);
      }
      expect(goodputOf(a.flows[0]!)).toBe(a.flows[0]!.virtualGoodputBitsPerSecond);
      expect(json.units).toMatchObject({ bytesReceived: "B", t: "ms", cwnd: "B" });
      const chart = readFileSync(join(dir, "a", "goodput.svg"), "utf8");
      expect(chart.match(/<polyline /g)).toHaveLength(4);
      expect(chart).toContain("virtual goodput (Mbit/s)");
      expect(readFileSync(join(dir, "a", "queue-delay.svg"), "utf8")).toMatch(/<svg [^>]*>[\s\S]*bottleneck[\s\S]*<\/svg>/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
