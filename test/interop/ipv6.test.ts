// IPv6 between netlab and the Linux kernel over a tap: each side pings the other over
// link-local and global addresses (NDP resolution both ways, DAD on both sides), and netlab
// autoconfigures (SLAAC) from the Router Advertisements dnsmasq sends on the kernel side.
import { describe, expect, it } from "vitest";
import { createStack, type Stack } from "../../stack/index.ts";
import { type Ipv6Address, formatIpv6, ipv6, linkLocalFromMac } from "../../stack/wire/ipv6-address.ts";
import { createSeededRng } from "../../harness/time/real-clock.ts";
import { tsharkFields } from "../../harness/oracle/tshark.ts";
import { createNetns } from "../../harness/netns/index.ts";
import { announceSkip, interopSkipReason, tsharkOffending, waitUntil, withTapLab, type TapLab } from "./support.ts";

const skip = announceSkip("IPv6 interop", interopSkipReason(["ping", "tcpdump", "tshark"]));
const skipRa = announceSkip("IPv6 RA interop", interopSkipReason(["ping", "tcpdump", "tshark", "dnsmasq"]));

function report(line: string): void {
  process.stderr.write(`[interop] ${line}\n`);
}

function ping6(stack: Stack, dst: Ipv6Address, seq: number, size = 56): Promise<number> {
  return new Promise((resolve, reject) => {
    stack.icmpv6!.ping(dst, { seq, size, timeoutMs: 3000 }, (r) =>
      r.ok ? resolve(r.value.rttMs) : reject(new Error(`ping6 ${formatIpv6(dst)} seq ${seq}: ${r.error}`)),
    );
  });
}

/** The kernel's link-local address on the lab's interface, once its DAD is over. */
async function kernelLinkLocal(lab: TapLab): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const info = JSON.parse(await lab.ns.ip("-j", "-6", "addr", "show", "dev", lab.ifname, "scope", "link")) as Array<{
      addr_info?: Array<{ local?: string; tentative?: boolean }>;
    }>;
    const a = info.flatMap((i) => i.addr_info ?? []).find((x) => x.local?.startsWith("fe80") === true);
    if (a?.local !== undefined && a.tentative !== true) return a.local;
    if (Date.now() > deadline) throw new Error(`kernel link-local address not ready: ${JSON.stringify(info)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const addressReady = (stack: Stack, origin: "static" | "slaac") => () =>
  stack.ipv6!.ndp.addresses().some((a) => a.origin === origin && a.state === "preferred");

describe.skipIf(skip)("IPv6 between netlab and the kernel", () => {
  it("the kernel pings netlab and netlab pings the kernel, over link-local and global addresses", async () => {
    await withTapLab("ipv6 ping both ways", { ipv6: true }, async (lab) => {
      await lab.ns.ip("-6", "addr", "add", "2001:db8:1::1/64", "dev", lab.ifname, "nodad");
      const stack = createStack({ device: lab.device, clock: lab.clock, rng: createSeededRng() }, { ipv6: { addresses: ["2001:db8:1::2/64"] } });
      await waitUntil(addressReady(stack, "static"), 5000, "netlab's DAD");
      const ours = formatIpv6(linkLocalFromMac(lab.device.mac));
      const viaLinkLocal = await lab.ns.exec("ping", ["-6", "-n", "-c", "3", "-i", "0.1", "-W", "2", `${ours}%${lab.ifname}`], { timeoutMs: 10_000 });
      expect(viaLinkLocal.stdout).toMatch(/3 packets transmitted, 3 received/);
      const viaGlobal = await lab.ns.exec("ping", ["-6", "-n", "-c", "3", "-i", "0.1", "-W", "2", "-s", "1000", "2001:db8:1::2"], { timeoutMs: 10_000 });
      expect(viaGlobal.stdout).toMatch(/3 packets transmitted, 3 received/);
      expect(viaGlobal.stdout).toMatch(/1008 bytes from 2001:db8:1::2/);

      const kernelLl = await kernelLinkLocal(lab);
      const rtts = [await ping6(stack, ipv6("2001:db8:1::1"), 1), await ping6(stack, ipv6(kernelLl), 2), await ping6(stack, ipv6("2001:db8:1::1"), 3)];
      expect(rtts).toHaveLength(3);
      const c = stack.counters();
      expect(c.icmpv6).toMatchObject({ echoRequestsReceived: 6, echoRepliesSent: 6, echoRepliesReceived: 3 });
      expect(c.ndp).toMatchObject({ dadFailed: 0 });
      // The kernel's neighbour table holds netlab (resolved through our NA).
      const neigh = await lab.ns.ip("-6", "neigh", "show", "dev", lab.ifname);
      expect(neigh).toMatch(/2001:db8:1::2 lladdr [0-9a-f:]+ (REACHABLE|STALE|DELAY|PROBE)/);
      expect(tsharkOffending(lab)).toEqual([]);
      if (lab.netlabCapture !== undefined) {
        expect(tsharkFields(lab.netlabCapture, ["frame.number"], 'icmpv6.checksum.status == "Bad"')).toEqual([]);
        // Every ND message on the wire carries hop limit 255.
        const nd = tsharkFields(lab.netlabCapture, ["ipv6.hlim"], "icmpv6.type >= 133 && icmpv6.type <= 137").map((f) => f[0]);
        expect(nd.length).toBeGreaterThan(0);
        expect(new Set(nd)).toEqual(new Set(["255"]));
      }
      report(`kernel -> netlab ping6: ${/rtt [^\n]*/.exec(viaGlobal.stdout)?.[0] ?? "?"}; netlab -> kernel ms: ${rtts.map((r) => r.toFixed(3)).join(", ")}`);
    });
  });

  it("fragments both ways: the kernel's 3000-byte ping6 reassembles in netlab, and a 4000-byte UDP datagram from netlab reassembles in the kernel, which echoes it back in fragments", async () => {
    await withTapLab("ipv6 fragments both ways", { ipv6: true }, async (lab) => {
      await lab.ns.ip("-6", "addr", "add", "2001:db8:1::1/64", "dev", lab.ifname, "nodad");
      const stack = createStack({ device: lab.device, clock: lab.clock, rng: createSeededRng() }, { ipv6: { addresses: ["2001:db8:1::2/64"] } });
      await waitUntil(addressReady(stack, "static"), 5000, "netlab's DAD");
      const big = await lab.ns.exec("ping", ["-6", "-n", "-c", "3", "-i", "0.1", "-W", "2", "-s", "3000", "2001:db8:1::2"], { timeoutMs: 10_000 });
      expect(big.stdout).toMatch(/3 packets transmitted, 3 received/);
      expect(big.stdout).toMatch(/3008 bytes from 2001:db8:1::2/);
      const echo = lab.spawn("/usr/bin/python3", [
        "-u",
        "-c",
        [
          "import socket",
          "s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)",
          "s.bind(('2001:db8:1::1', 7777))",
          "print('ready', flush=True)",
          "d, a = s.recvfrom(70000)",
          "s.sendto(d, a)",
          "print('echoed', len(d), a[0], flush=True)",
        ].join("\n"),
      ]);
      await echo.waitFor(/ready/, 5000);
      const sock = stack.udp6!.bind(0);
      if (!sock.ok) throw new Error(sock.error);
      const payload = new Uint8Array(4000);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff;
      const back = new Promise<Uint8Array>((resolve) => sock.value.onMessage((d) => resolve(d.payload.slice())));
      expect(sock.value.sendTo(ipv6("2001:db8:1::1"), 7777, payload)).toEqual({ ok: true, value: undefined });
      await echo.waitFor(/echoed 4000 2001:db8:1::2/, 5000);
      const got = await Promise.race([back, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no echo")), 5000))]);
      expect(Buffer.from(got).equals(Buffer.from(payload))).toBe(true);
      const c = stack.counters();
      expect(c.ipv6).toMatchObject({ fragmentedDatagrams: 4, txFragments: 12 });
      expect(c.ipv6!["reassembled"]).toBe(4);
      expect(tsharkOffending(lab)).toEqual([]);
      if (lab.netlabCapture !== undefined) {
        expect(tsharkFields(lab.netlabCapture, ["frame.number"], 'icmpv6.checksum.status == "Bad" || udp.checksum.status == "Bad"')).toEqual([]);
        // netlab cuts its datagrams where the kernel cuts its own (offsets in 8-byte units, M flags).
        const cuts = (src: string) =>
          tsharkFields(lab.netlabCapture!, ["ipv6.fraghdr.offset", "ipv6.fraghdr.more"], `ipv6.fraghdr && ipv6.src == ${src}`).map((f) => f.join("/"));
        expect(cuts("2001:db8:1::2")).toEqual(Array.from({ length: 4 }, () => ["0/1", "181/1", "362/0"]).flat());
        expect(cuts("2001:db8:1::1")).toEqual(Array.from({ length: 4 }, () => ["0/1", "181/1", "362/0"]).flat());
      }
      report(`v6 fragments: kernel 3000-byte ping6 ${/rtt [^\n]*/.exec(big.stdout)?.[0] ?? "?"}; 4000-byte UDP echo ok`);
    });
  });

  it("path MTU discovery: the kernel, routing to a 1300-byte link, sends Packet Too Big; netlab lowers its path MTU (RFC 8201) and its next datagrams fit", async () => {
    await withTapLab("ipv6 pmtu from kernel router", { ipv6: true }, async (lab) => {
      // netlab -- tap -- [kernel ns: router] -- veth, MTU 1300 -- [far ns: 2001:db8:2::2]
      const far = await createNetns();
      try {
        await lab.ns.ip("-6", "addr", "add", "2001:db8:1::1/64", "dev", lab.ifname, "nodad");
        await lab.ns.execChecked("sysctl", ["-qw", "net.ipv6.conf.all.forwarding=1"]);
        await lab.ns.ip("link", "add", "pmtu0", "type", "veth", "peer", "name", "pmtu1", "netns", far.name);
        await lab.ns.ip("link", "set", "pmtu0", "mtu", "1300", "up");
        await lab.ns.ip("-6", "addr", "add", "2001:db8:2::1/64", "dev", "pmtu0", "nodad");
        await far.ip("link", "set", "pmtu1", "mtu", "1300", "up");
        await far.ip("-6", "addr", "add", "2001:db8:2::2/64", "dev", "pmtu1", "nodad");
        await far.ip("-6", "route", "add", "default", "via", "2001:db8:2::1");
        const stack = createStack(
          { device: lab.device, clock: lab.clock, rng: createSeededRng() },
          { ipv6: { addresses: ["2001:db8:1::2/64"], gateway: "2001:db8:1::1" } },
        );
        await waitUntil(addressReady(stack, "static"), 5000, "netlab's DAD");
        const farAddress = ipv6("2001:db8:2::2");
        expect(stack.ipv6!.mtuTo(farAddress)).toBe(1500);
        // 1400 bytes of echo data: 1448 on the wire, over the far link's 1300.
        const first = await new Promise<string>((resolve) =>
          stack.icmpv6!.ping(farAddress, { seq: 1, size: 1400, timeoutMs: 3000 }, (r) => resolve(r.ok ? "reply" : r.error)),
        );
        expect(first).toBe("packet-too-big");
        expect(stack.ipv6!.mtuTo(farAddress)).toBe(1300);
        expect(stack.counters().ipv6).toMatchObject({ pmtuUpdates: 1 });
        const rtt = await ping6(stack, farAddress, 2, 1400);
        expect(stack.counters().ipv6).toMatchObject({ fragmentedDatagrams: 1 });
        expect(tsharkOffending(lab)).toEqual([]);
        if (lab.netlabCapture !== undefined) {
          // ipv6.src lists the outer source first, then the quoted packet's.
          const ptb = tsharkFields(lab.netlabCapture, ["ipv6.src", "icmpv6.mtu"], "icmpv6.type == 2").map(([src, mtu]) => [src?.split(",")[0], mtu]);
          expect(ptb).toEqual([["2001:db8:1::1", "1300"]]);
        }
        report(`PMTU: Packet Too Big from the kernel router (MTU 1300), then a fragmented 1400-byte ping6 in ${rtt.toFixed(3)} ms`);
      } finally {
        await far.remove();
      }
    });
  });

  it.skipIf(skipRa)("netlab autoconfigures from dnsmasq's router advertisements (SLAAC) and is reachable on the address it formed", async () => {
    await withTapLab("ipv6 slaac from dnsmasq", { ipv6: true }, async (lab) => {
      await lab.ns.ip("-6", "addr", "add", "2001:db8:1::1/64", "dev", lab.ifname, "nodad");
      const stack = createStack({ device: lab.device, clock: lab.clock, rng: createSeededRng() }, { ipv6: { slaac: true } });
      const dnsmasq = lab.spawn("dnsmasq", [
        "--no-daemon",
        "--conf-file=/dev/null",
        "--port=0",
        `--interface=${lab.ifname}`,
        "--bind-interfaces",
        "--enable-ra",
        "--dhcp-range=2001:db8:1::,ra-only,64,1h",
        "--log-dhcp",
        "--pid-file=" + lab.dir + "/dnsmasq.pid",
      ]);
      await waitUntil(addressReady(stack, "slaac"), 20_000, "a SLAAC address from dnsmasq's RA");
      const slaac = stack.ipv6!.ndp.addresses().find((a) => a.origin === "slaac")!;
      const expected = `2001:db8:1:0:${formatIpv6(linkLocalFromMac(lab.device.mac)).slice("fe80::".length)}`;
      expect(formatIpv6(slaac.address)).toBe(formatIpv6(ipv6(expected)));
      const kernelLl = await kernelLinkLocal(lab);
      expect(stack.ipv6!.ndp.routers().map((r) => formatIpv6(r.address))).toEqual([kernelLl]);
      expect(stack.ipv6!.ndp.prefixes().map((p) => `${formatIpv6(p.prefix)}/${p.prefixLength}`)).toEqual(["2001:db8:1::/64"]);
      const viaSlaac = await lab.ns.exec("ping", ["-6", "-n", "-c", "3", "-i", "0.1", "-W", "2", formatIpv6(slaac.address)], { timeoutMs: 10_000 });
      expect(viaSlaac.stdout).toMatch(/3 packets transmitted, 3 received/);
      expect(await ping6(stack, ipv6("2001:db8:1::1"), 1)).toBeGreaterThanOrEqual(0);
      await dnsmasq.stop();
      expect(tsharkOffending(lab)).toEqual([]);
      report(`SLAAC from dnsmasq: ${formatIpv6(slaac.address)}, router ${kernelLl}, ndp ${JSON.stringify(stack.counters().ndp)}`);
    });
  });
});
