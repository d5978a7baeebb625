// IPv6 on a simulated switch: one stack advertises a prefix, the others autoconfigure (RFC 4862)
// and ping each other over link-local and global addresses; a host configured with an address
// that is already in use finds out through DAD. The capture is checked by tshark (ICMPv6
// checksums included) and is byte-identical for a seed.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createSwitch } from "../../stack/link/switch.ts";
import { withCapture } from "../../stack/link/capture.ts";
import { createPcapngWriter } from "../../stack/link/pcap/pcapng.ts";
import { createRng, createVirtualClock, type VirtualClock } from "../../stack/time.ts";
import { createStack, type Stack, type StackOptions } from "../../stack/index.ts";
import { type Ipv6Address, formatIpv6, ipv6 } from "../../stack/wire/ipv6-address.ts";
import type { Ping6Error, Ping6Reply } from "../../stack/net/ipv6-types.ts";
import type { Result } from "../../stack/result.ts";
import { checkCaptureWithTshark, tsharkFields, tsharkMissingReason } from "../../harness/oracle/tshark.ts";

interface Lan {
  readonly clock: VirtualClock;
  readonly hosts: Stack[];
  /** Plugs one more host into the switch. */
  addHost(cfg: StackOptions): Stack;
  capture(): Uint8Array;
}

function lan(seed: number, configs: StackOptions[]): Lan {
  const clock = createVirtualClock();
  const sw = createSwitch({ clock, rng: createRng(seed) });
  const chunks: Uint8Array[] = [];
  const writer = createPcapngWriter((c) => chunks.push(c.slice()), { timeOffsetMs: Date.UTC(2026, 0, 1) });
  const hosts: Stack[] = [];
  const addHost = (cfg: StackOptions): Stack => {
    const i = hosts.length;
    const port = sw.addPort({ mac: 0x020000000010 + i, name: `h${i}` });
    const device = i === 0 ? withCapture(port, writer, { clock, name: "h0" }) : port;
    const s = createStack({ device, clock, rng: createRng(seed * 100 + i) }, cfg);
    hosts.push(s);
    return s;
  };
  for (const cfg of configs) addHost(cfg);
  return {
    clock,
    hosts,
    addHost,
    capture() {
      const n = chunks.reduce((s, c) => s + c.length, 0);
      const out = new Uint8Array(n);
      let at = 0;
      for (const c of chunks) {
        out.set(c, at);
        at += c.length;
      }
      return out;
    },
  };
}

const ROUTER: StackOptions = { name: "r", ipv6: { addresses: ["2001:db8:1::1/64"], advertise: { prefixes: ["2001:db8:1::/64"], intervalMs: 30_000 } } };
const HOST: StackOptions = { ipv6: { slaac: true } };

function ping(net: Lan, from: Stack, to: Ipv6Address): Result<Ping6Reply, Ping6Error> {
  let r: Result<Ping6Reply, Ping6Error> | undefined;
  from.icmpv6!.ping(to, { size: 56, timeoutMs: 3000 }, (x) => {
    r = x;
  });
  net.clock.run(net.clock.now() + 3100);
  if (r === undefined) throw new Error("ping never finished");
  return r;
}

describe("IPv6 on a simulated switch", () => {
  it("hosts autoconfigure from the RA one host sends, then ping6 each other over link-local and global addresses", () => {
    const net = lan(1, [ROUTER, HOST, HOST]);
    net.clock.run(10_000);
    const [r, h1, h2] = net.hosts as [Stack, Stack, Stack];
    const global = (s: Stack) =>
      s
        .ipv6!.ndp.addresses()
        .filter((a) => a.origin === "slaac")
        .map((a) => `${formatIpv6(a.address)} ${a.state}`);
    expect(global(h1)).toEqual(["2001:db8:1::ff:fe00:11 preferred"]);
    expect(global(h2)).toEqual(["2001:db8:1::ff:fe00:12 preferred"]);
    expect(h1.ipv6!.ndp.routers().map((x) => formatIpv6(x.address))).toEqual(["fe80::ff:fe00:10"]);
    expect(r.ipv6!.ndp.routers()).toEqual([]);

    const viaGlobal = ping(net, h1, ipv6("2001:db8:1::ff:fe00:12"));
    expect(viaGlobal).toMatchObject({ ok: true, value: { bytes: 56, hopLimit: 64 } });
    expect(formatIpv6((viaGlobal as { value: Ping6Reply }).value.from)).toBe("2001:db8:1::ff:fe00:12");
    expect(ping(net, h2, ipv6("fe80::ff:fe00:11"))).toMatchObject({ ok: true });
    expect(ping(net, h2, ipv6("2001:db8:1::1"))).toMatchObject({ ok: true });
    // Off-link destinations go to the default router (which does not forward: no reply).
    expect(ping(net, h1, ipv6("2001:db8:2::1"))).toEqual({ ok: false, error: "timeout" });
    expect(h1.counters().ndp).toMatchObject({ raReceived: 1, slaacAddresses: 1, dadFailed: 0 });
  });

  it("DAD: a host given an address that another host already uses is told it is a duplicate and does not use it", () => {
    const outcomes: string[] = [];
    const dup: StackOptions = { ipv6: { addresses: ["2001:db8:1::ff:fe00:11/64"], onAddressReady: (x) => outcomes.push(x.ok ? "ok" : x.error) } };
    const net = lan(2, [ROUTER, HOST]);
    net.clock.run(10_000);
    const late = net.addHost(dup);
    net.clock.run(net.clock.now() + 5000);
    expect(outcomes).toEqual(["duplicate"]);
    expect(late.ipv6!.ndp.addresses().map((a) => a.state)).toEqual(["preferred", "duplicate"]);
    expect(late.counters().ndp).toMatchObject({ dadFailed: 1 });
    // The owner keeps its address and still answers.
    expect(ping(net, net.hosts[0]!, ipv6("2001:db8:1::ff:fe00:11"))).toMatchObject({ ok: true });
  });

  it.skipIf(tsharkMissingReason() !== undefined)("the capture is tshark-clean (ICMPv6 checksums checked), and the same seed gives the same bytes", () => {
    const run = () => {
      const net = lan(3, [ROUTER, HOST, HOST]);
      net.clock.run(10_000);
      ping(net, net.hosts[1]!, ipv6("2001:db8:1::1"));
      return net.capture();
    };
    const a = run();
    expect(Buffer.from(run()).equals(Buffer.from(a))).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), "netlab-ipv6-"));
    try {
      const path = join(dir, "slaac.pcapng");
      writeFileSync(path, a);
      expect(checkCaptureWithTshark(path).offending).toEqual([]);
      const bad = tsharkFields(path, ["frame.number"], 'icmpv6.checksum.status == "Bad" || _ws.malformed', {});
      expect(bad).toEqual([]);
      const types = tsharkFields(path, ["icmpv6.type"], "icmpv6").map((f) => Number(f[0]));
      for (const t of [143, 135, 134, 133, 136, 128, 129]) expect(types).toContain(t);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
