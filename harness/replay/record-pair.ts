// Kernel-to-kernel recordings for pcaps/ (decode mode only): two network namespaces joined by a
// veth pair (fixed MACs, IPv6 on, offloads off so the capture shows wire checksums), Debian tools
// on both ends, and tcpdump on end A's interface from before end B comes up, so B's duplicate
// address detection, MLD reports and router solicitations are in the capture. The capture is
// rewritten as gzip'd pcapng with the packets' own timestamps, and its expectation holds the
// decode counts (frames, errors by class, re-emit mismatches) that `netlab replay` then checks.
// These are the IPv6 captures (issue 20): NDP with SLAAC from dnsmasq's RAs, DHCPv6 between
// dnsmasq and dhclient -6, and curl -6 fetching from python3's http.server. Root only.
//   PAIR_PLANS                     the recordings (name -> plan)
//   recordPair(name, plan, dir)    records one into dir; returns the capture path
import { dhclientArgs } from "../dhcp/dhclient.ts";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createByteCollector, createPcapngWriter } from "../../stack/link/pcap/index.ts";
import { NetlabError } from "../../stack/error.ts";
import { createNetns, missingTools, run, type Netns, type NetnsProcess } from "../netns/index.ts";
import { parseCaptureBytes, writeCaptureFile } from "../pcap/files.ts";
import { decodeCapture } from "./decode.ts";

const MAC_A = "02:6e:6c:00:00:0a";
const MAC_B = "02:6e:6c:00:00:0b";

/** What a plan's steps get: the two ends, their interface names and a scratch folder. */
export interface PairContext {
  readonly a: Netns;
  readonly b: Netns;
  readonly ifA: string;
  readonly ifB: string;
  readonly dir: string;
}

/** One kernel-to-kernel recording. */
export interface PairPlan {
  readonly description: string;
  readonly tools: readonly string[];
  /** Addresses of end A (configured before the capture starts) and of end B (before it comes up). */
  readonly addressesA: readonly string[];
  readonly addressesB: readonly string[];
  /** Starts end A's servers once the capture runs, before end B comes up. */
  prepare?(ctx: PairContext): Promise<NetnsProcess[]>;
  /** Runs the exchange once end B is up. */
  drive(ctx: PairContext): Promise<void>;
}

function recordError(message: string): Error {
  return new NetlabError("ERR_REPLAY_RECORD", message);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `address` is on `ifname` in ns and no longer tentative (DAD done). */
async function waitForAddress(ns: Netns, ifname: string, address: RegExp, timeoutMs = 15_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const out = await ns.execChecked("ip", ["-6", "-o", "addr", "show", "dev", ifname]);
    for (const line of out.split("\n")) {
      const m = /inet6 (\S+)\/\d+/.exec(line);
      if (m !== null && address.test(m[1]!) && !/tentative/.test(line)) return m[1]!;
    }
    if (Date.now() > until) throw recordError(`no usable address ${address} on ${ifname} within ${timeoutMs} ms:\n${out}`);
    await sleep(100);
  }
}

const dnsmasq = (ctx: PairContext, range: string): NetnsProcess =>
  ctx.a.spawn("dnsmasq", [
    "--no-daemon",
    "--conf-file=/dev/null",
    "--port=0",
    `--interface=${ctx.ifA}`,
    "--bind-interfaces",
    "--enable-ra",
    `--dhcp-range=${range}`,
    `--dhcp-leasefile=${join(ctx.dir, "dnsmasq.leases")}`,
    "--pid-file",
    "--log-dhcp",
    "--log-facility=-",
    "--user=root",
  ]);

/** The recordings. */
export const PAIR_PLANS: Readonly<Record<string, PairPlan>> = {
  "kernel-v6-ndp-slaac": {
    description:
      "two Linux ends on a veth: B comes up (DAD of its link-local address, MLDv2 reports, router solicitation), autoconfigures 2001:db8:1::/64 from dnsmasq's RA (SLAAC, DAD of the global address) and pings A's global address three times (NS/NA both ways, echo)",
    tools: ["dnsmasq", "ping"],
    addressesA: ["2001:db8:1::1/64"],
    addressesB: [],
    async prepare(ctx) {
      const d = dnsmasq(ctx, "2001:db8:1::,ra-only,64,1h");
      await d.waitFor(/router advertisement on 2001:db8:1::/i, 5000);
      return [d];
    },
    async drive(ctx) {
      await waitForAddress(ctx.b, ctx.ifB, /^2001:db8:1:/);
      const r = await ctx.b.exec("ping", ["-6", "-n", "-c", "3", "-i", "0.2", "-W", "2", "2001:db8:1::1"], { timeoutMs: 10_000 });
      if (!/3 received/.test(r.stdout)) throw recordError(`ping: ${r.stdout}${r.stderr}`);
    },
  },
  "kernel-v6-dhcp6": {
    description:
      "ISC dhclient -6 (end B) leases an address from dnsmasq's DHCPv6 server (end A, 2001:db8:2::1, range ::100-::1ff; its RA sets M): SOLICIT, ADVERTISE, REQUEST, REPLY, with B's DAD, MLD and NDP around them",
    tools: ["dnsmasq", "dhclient"],
    addressesA: ["2001:db8:2::1/64"],
    addressesB: [],
    async prepare(ctx) {
      const d = dnsmasq(ctx, "2001:db8:2::100,2001:db8:2::1ff,64,1h");
      await d.waitFor(/DHCPv6, IP range 2001:db8:2::100/i, 5000);
      return [d];
    },
    async drive(ctx) {
      await waitForAddress(ctx.b, ctx.ifB, /^fe80:/);
      const dhclient = ctx.b.spawn("dhclient", dhclientArgs({ ifname: ctx.ifB, dir: ctx.dir, ipv6: true }));
      await dhclient.waitFor(/Bound to lease/i, 20_000);
      await dhclient.stop("SIGKILL", 1000);
    },
  },
  "kernel-v6-http-curl": {
    description:
      "curl -6 (end B, 2001:db8:3::2) fetches a 64 KiB file from python3 http.server on end A ([2001:db8:3::1]:8000) over Linux TCP over IPv6 (HTTP/1.0, the server closes), after both ends' DAD and the neighbour resolution",
    tools: ["python3", "curl"],
    addressesA: ["2001:db8:3::1/64"],
    addressesB: ["2001:db8:3::2/64"],
    async drive(ctx) {
      // DAD of A's address completes only once B is up (no carrier before); a tentative address cannot be bound.
      await waitForAddress(ctx.a, ctx.ifA, /^2001:db8:3::1$/);
      await waitForAddress(ctx.b, ctx.ifB, /^2001:db8:3::2$/);
      writeFileSync(join(ctx.dir, "file.bin"), "served by python3 http.server over IPv6\n".repeat(1700).slice(0, 65536));
      const server = ctx.a.spawn("python3", ["-u", "-m", "http.server", "8000", "--bind", "2001:db8:3::1", "--directory", ctx.dir]);
      await server.waitFor(/Serving HTTP/, 5000);
      const r = await ctx.b.exec(
        "curl",
        ["-6", "-s", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "http://[2001:db8:3::1]:8000/file.bin"],
        {
          timeoutMs: 15_000,
        },
      );
      if (r.stdout.trim() !== "200 65536") throw recordError(`curl: ${JSON.stringify(r.stdout)} ${r.stderr}`);
      await server.stop("SIGTERM", 1000);
    },
  },
};

/** Records one kernel-to-kernel plan into dir; returns the capture path. */
export async function recordPair(name: string, plan: PairPlan, dir: string): Promise<string> {
  const missing = missingTools(["ip", "ethtool", "tcpdump", ...plan.tools]);
  if (missing.length > 0) throw recordError(`${name}: missing tools ${missing.join(", ")} (run npm run setup)`);
  const work = mkdtempSync(join(tmpdir(), `netlab-record-${name}-`));
  const tag = process.pid % 100000;
  const ifA = `nlva${tag}`;
  const ifB = `nlvb${tag}`;
  const a = await createNetns();
  const b = await createNetns();
  const servers: NetnsProcess[] = [];
  const ctx: PairContext = { a, b, ifA, ifB, dir: work };
  try {
    const made = await run("ip", ["link", "add", ifA, "address", MAC_A, "type", "veth", "peer", "name", ifB, "address", MAC_B]);
    if (made.code !== 0) throw recordError(`veth: ${made.stderr}`);
    await a.adoptLink(ifA);
    await b.adoptLink(ifB);
    for (const [ns, ifname] of [
      [a, ifA],
      [b, ifB],
    ] as const) {
      // Stable EUI-64 addresses, no temporary ones, RAs accepted: the capture is the same each time but for timing.
      for (const [key, value] of [
        ["addr_gen_mode", "0"],
        ["use_tempaddr", "0"],
        ["accept_ra", "2"],
      ])
        await ns.execChecked("sysctl", ["-qw", `net.ipv6.conf.${ifname}.${key}=${value}`]);
    }
    await a.configureLink(ifA, { addresses: plan.addressesA, disableIpv6: false, offloadsOff: true });
    const pcap = join(work, "capture.pcap");
    const tcpdump = a.spawn("tcpdump", ["-i", ifA, "--immediate-mode", "-U", "-n", "-s", "0", "-w", pcap]);
    servers.push(tcpdump);
    await tcpdump.waitFor(/listening on/, 5000);
    if (plan.prepare) servers.push(...(await plan.prepare(ctx)));
    await b.configureLink(ifB, { addresses: plan.addressesB, disableIpv6: false, offloadsOff: true });
    await plan.drive(ctx);
    await sleep(500);
    await tcpdump.stop("SIGINT", 2000);

    const parsed = parseCaptureBytes(new Uint8Array(readFileSync(pcap)));
    if (!parsed.ok) throw recordError(`tcpdump's capture does not parse: ${parsed.detail}`);
    const collector = createByteCollector();
    const writer = createPcapngWriter((chunk) => collector.write(chunk.slice()), { timeOffsetMs: 0 });
    const iface = writer.addInterface({ name: ifA, description: `Linux end A ${MAC_A} (veth peer ${MAC_B} in another namespace), tcpdump` });
    for (const p of parsed.value.packets) writer.record({ interfaceId: iface, timestampMs: p.timestampMs, data: p.data });
    const bytes = collector.bytes();
    const path = join(dir, `${name}.pcapng.gz`);
    writeCaptureFile(path, bytes);
    const decoded = decodeCapture(parsed.value.packets.map((p) => p.data));
    const expectation = {
      capture: `${name}.pcapng.gz`,
      description: plan.description,
      source: "kernel",
      recorded: new Date().toISOString(),
      modes: ["decode"],
      decode: { frames: decoded.frames, errors: decoded.errors, reemitMismatches: decoded.reemitMismatches },
      kernel: { a: { mac: MAC_A, addresses: plan.addressesA }, b: { mac: MAC_B, addresses: plan.addressesB } },
    };
    writeFileSync(join(dir, `${name}.expect.json`), `${JSON.stringify(expectation, null, 2)}\n`);
    return path;
  } finally {
    for (const s of servers.reverse()) await s.stop("SIGTERM", 1000);
    await a.remove();
    await b.remove();
    rmSync(work, { recursive: true, force: true });
  }
}
