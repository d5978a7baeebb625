// IPv6 scenarios against the kernel, written once and run on two paths: netlab's stack straight
// on the tap (ipv6.test.ts, dhcp6.test.ts, http6.test.ts) and in a domU behind netfront, netback
// and dom0's bridge (xen-ipv6.test.ts, xen-dhcp6.test.ts, xen-http6.test.ts). A scenario gets a
// V6Site (the lab, the device to put the stack on, its clock and rng), builds its stack, drives
// the kernel-side peers, asserts, and returns the stack with a one-line figure for the report.
// Every scenario wants a lab with IPv6 on on the kernel's interface ({ ipv6: true }; DHCLIENT_LAB).
//   slaacFromDnsmasq            RA from dnsmasq (enable-ra, ra-only) → SLAAC address, router, prefix, ping6 both ways
//   fragmentsBothWays           the kernel's 3000-byte ping6 reassembled in netlab; netlab's 4000-byte UDP echoed by the kernel
//   pmtuFromKernelRouter        Packet Too Big from the kernel routing to an MTU-1300 link; the next datagrams fit
//   dhcp6LeaseFromDnsmasq       netlab's client (from-ra) leases from dnsmasq, answers ping6 there, releases
//   dhcp6StatelessFromDnsmasq   O flag only: INFORMATION-REQUEST for the DNS servers
//   dhclientFromNetlabServer    the kernel's dhclient -6 leases from netlab's DHCPv6 server
//   clientFetchesFromKernel     netlab's HTTP client fetches a small and a large file (sha256) from python3's http.server
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { dhclientArgs } from "../../harness/dhcp/dhclient.ts";
import { dnsmasqArgs } from "../../harness/dhcp/dnsmasq.ts";
import { createNetns } from "../../harness/netns/index.ts";
import { tsharkFields } from "../../harness/oracle/tshark.ts";
import { createSeededRng, type RealClock } from "../../harness/time/real-clock.ts";
import { dhcp6ClientOnStack, dhcp6ServerOnStack } from "../../stack/app/dhcp6/index.ts";
import { createHttpClient } from "../../stack/app/http/index.ts";
import { createStack, type Stack } from "../../stack/index.ts";
import type { NetDevice } from "../../stack/link/types.ts";
import type { Rng } from "../../stack/time.ts";
import { formatMac } from "../../stack/wire/address.ts";
import { type Ipv6Address, formatIpv6, ipv6, linkLocalFromMac } from "../../stack/wire/ipv6-address.ts";
import { fetchHelloAndLarge, tsharkOffending, waitUntil, writeRandomFile, type TapLab, type TapLabOptions } from "./support.ts";

/** Where a scenario runs: the lab (namespace, tap, captures) and the device netlab's stack goes on. */
export interface V6Site {
  readonly lab: TapLab;
  /** The tap itself, or a domU's netfront behind dom0's bridge. */
  readonly device: NetDevice;
  readonly clock: RealClock;
  readonly rng: Rng;
}

/** What a scenario leaves for the caller's own checks and its report line. */
export interface V6Outcome {
  readonly stack: Stack;
  readonly figure: string;
}

/** netlab's stack straight on the lab's tap. */
export function tapSite(lab: TapLab): V6Site {
  return { lab, device: lab.device, clock: lab.clock, rng: createSeededRng() };
}

export const KERNEL6 = "2001:db8:1::1";
export const NETLAB6 = "2001:db8:1::2";

/** netlab pings dst over v6; resolves with the round-trip time in ms. */
export function ping6(stack: Stack, dst: Ipv6Address, seq: number, size = 56): Promise<number> {
  return new Promise((resolve, reject) => {
    stack.icmpv6!.ping(dst, { seq, size, timeoutMs: 3000 }, (r) =>
      r.ok ? resolve(r.value.rttMs) : reject(new Error(`ping6 ${formatIpv6(dst)} seq ${seq}: ${r.error}`)),
    );
  });
}

/** The kernel's link-local address on the lab's interface, once its DAD is over. */
export async function kernelLinkLocal(lab: TapLab): Promise<string> {
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

/** A predicate: the stack holds a preferred address of that origin (DAD over). */
export const addressReady = (stack: Stack, origin: "static" | "slaac") => () =>
  stack.ipv6!.ndp.addresses().some((a) => a.origin === origin && a.state === "preferred");

/** Gives the kernel's interface KERNEL6 (no DAD: nothing else is on the link). */
async function kernelGlobal(lab: TapLab): Promise<void> {
  await lab.ns.ip("-6", "addr", "add", `${KERNEL6}/64`, "dev", lab.ifname, "nodad");
}

/** dnsmasq on the kernel's interface sending RAs and serving `serve`; resolves once it logs `ready`. */
async function startDnsmasq(lab: TapLab, ready: RegExp, serve: readonly string[]) {
  const dnsmasq = lab.spawn("dnsmasq", dnsmasqArgs(lab.ifname, ["--enable-ra", ...serve, `--pid-file=${join(lab.dir, "dnsmasq.pid")}`]));
  await dnsmasq.waitFor(ready, 5000);
  return dnsmasq;
}

/** netlab autoconfigures (SLAAC) from dnsmasq's RA and is reachable on the address it formed. */
export async function slaacFromDnsmasq(site: V6Site): Promise<V6Outcome> {
  const { lab } = site;
  await kernelGlobal(lab);
  const stack = createStack({ device: site.device, clock: site.clock, rng: site.rng }, { ipv6: { slaac: true } });
  const dnsmasq = await startDnsmasq(lab, /router advertisement on 2001:db8:1::/, ["--dhcp-range=2001:db8:1::,ra-only,64,1h"]);
  const start = performance.now();
  await waitUntil(addressReady(stack, "slaac"), 20_000, "a SLAAC address from dnsmasq's RA");
  const formedMs = performance.now() - start;
  const slaac = stack.ipv6!.ndp.addresses().find((a) => a.origin === "slaac")!;
  // RFC 4862 §5.5.3 with the modified EUI-64 identifier of the device's own MAC (RFC 4291 App. A).
  const expected = `2001:db8:1:0:${formatIpv6(linkLocalFromMac(site.device.mac)).slice("fe80::".length)}`;
  expect(formatIpv6(slaac.address)).toBe(formatIpv6(ipv6(expected)));
  const kernelLl = await kernelLinkLocal(lab);
  expect(stack.ipv6!.ndp.routers().map((r) => formatIpv6(r.address))).toEqual([kernelLl]);
  expect(stack.ipv6!.ndp.prefixes().map((p) => `${formatIpv6(p.prefix)}/${p.prefixLength}`)).toEqual(["2001:db8:1::/64"]);
  const viaSlaac = await lab.ns.exec("ping", ["-6", "-n", "-c", "3", "-i", "0.1", "-W", "2", formatIpv6(slaac.address)], { timeoutMs: 10_000 });
  expect(viaSlaac.stdout).toMatch(/3 packets transmitted, 3 received/);
  const rtt = await ping6(stack, ipv6(KERNEL6), 1);
  // netlab answered from the SLAAC address: the kernel's neighbour table holds it at netlab's MAC.
  const neigh = await lab.ns.ip("-6", "neigh", "show", formatIpv6(slaac.address), "dev", lab.ifname);
  expect(neigh).toContain(formatMac(site.device.mac));
  await dnsmasq.stop();
  expect(tsharkOffending(lab, [KERNEL6])).toEqual([]);
  return {
    stack,
    figure:
      `SLAAC from dnsmasq: ${formatIpv6(slaac.address)} in ${formedMs.toFixed(0)} ms (RS, RA, DAD), router ${kernelLl}; ` +
      `kernel -> SLAAC address ${/rtt [^\n]*/.exec(viaSlaac.stdout)?.[0] ?? "?"}; netlab -> kernel ${rtt.toFixed(3)} ms`,
  };
}

/**
 * The kernel's 3000-byte ping6 reassembles in netlab (whose replies the kernel reassembles), and a
 * 4000-byte UDP datagram from netlab reassembles in the kernel, which echoes it back in fragments.
 */
export async function fragmentsBothWays(site: V6Site): Promise<V6Outcome> {
  const { lab } = site;
  await kernelGlobal(lab);
  const stack = createStack({ device: site.device, clock: site.clock, rng: site.rng }, { ipv6: { addresses: [`${NETLAB6}/64`] } });
  await waitUntil(addressReady(stack, "static"), 5000, "netlab's DAD");
  const big = await lab.ns.exec("ping", ["-6", "-n", "-c", "3", "-i", "0.1", "-W", "2", "-s", "3000", NETLAB6], { timeoutMs: 10_000 });
  expect(big.stdout).toMatch(/3 packets transmitted, 3 received/);
  expect(big.stdout).toMatch(/3008 bytes from 2001:db8:1::2/);
  const echo = lab.spawn("/usr/bin/python3", [
    "-u",
    "-c",
    [
      "import socket",
      "s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)",
      `s.bind(('${KERNEL6}', 7777))`,
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
  const start = performance.now();
  expect(sock.value.sendTo(ipv6(KERNEL6), 7777, payload)).toEqual({ ok: true, value: undefined });
  await echo.waitFor(/echoed 4000 2001:db8:1::2/, 5000);
  const got = await Promise.race([back, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no echo")), 5000))]);
  const echoMs = performance.now() - start;
  expect(Buffer.from(got).equals(Buffer.from(payload))).toBe(true);
  const c = stack.counters();
  expect(c.ipv6).toMatchObject({ fragmentedDatagrams: 4, txFragments: 12 });
  expect(c.ipv6!["reassembled"]).toBe(4);
  expect(tsharkOffending(lab, [KERNEL6])).toEqual([]);
  if (lab.netlabCapture !== undefined) {
    expect(tsharkFields(lab.netlabCapture, ["frame.number"], 'icmpv6.checksum.status == "Bad" || udp.checksum.status == "Bad"')).toEqual([]);
    // netlab cuts its datagrams where the kernel cuts its own (offsets in 8-byte units, M flags).
    const cuts = (src: string) =>
      tsharkFields(lab.netlabCapture!, ["ipv6.fraghdr.offset", "ipv6.fraghdr.more"], `ipv6.fraghdr && ipv6.src == ${src}`).map((f) => f.join("/"));
    expect(cuts(NETLAB6)).toEqual(Array.from({ length: 4 }, () => ["0/1", "181/1", "362/0"]).flat());
    expect(cuts(KERNEL6)).toEqual(Array.from({ length: 4 }, () => ["0/1", "181/1", "362/0"]).flat());
  }
  return {
    stack,
    figure: `v6 fragments: kernel 3000-byte ping6 ${/rtt [^\n]*/.exec(big.stdout)?.[0] ?? "?"}; 4000-byte UDP echo (3 fragments each way) in ${echoMs.toFixed(3)} ms`,
  };
}

/**
 * Path MTU discovery (RFC 8201): netlab -- [kernel ns, a router] -- veth of MTU 1300 -- [far ns].
 * netlab's 1448-byte ping6 draws Packet Too Big (MTU 1300) from the kernel; netlab lowers its path
 * MTU to the far host and its next 1448-byte echo goes out in fragments that fit.
 */
export async function pmtuFromKernelRouter(site: V6Site): Promise<V6Outcome> {
  const { lab } = site;
  const far = await createNetns();
  try {
    await kernelGlobal(lab);
    await lab.ns.execChecked("sysctl", ["-qw", "net.ipv6.conf.all.forwarding=1"]);
    await lab.ns.ip("link", "add", "pmtu0", "type", "veth", "peer", "name", "pmtu1", "netns", far.name);
    await lab.ns.ip("link", "set", "pmtu0", "mtu", "1300", "up");
    await lab.ns.ip("-6", "addr", "add", "2001:db8:2::1/64", "dev", "pmtu0", "nodad");
    await far.ip("link", "set", "pmtu1", "mtu", "1300", "up");
    await far.ip("-6", "addr", "add", "2001:db8:2::2/64", "dev", "pmtu1", "nodad");
    await far.ip("-6", "route", "add", "default", "via", "2001:db8:2::1");
    // The router resolves the far host first: its first resolution on the fresh veth took ~1 s
    // here, which would otherwise be the figure of netlab's second ping.
    const warm = await lab.ns.exec("ping", ["-6", "-n", "-c", "1", "-W", "3", "2001:db8:2::2"], { timeoutMs: 5000 });
    expect(warm.stdout).toMatch(/1 received/);
    const stack = createStack({ device: site.device, clock: site.clock, rng: site.rng }, { ipv6: { addresses: [`${NETLAB6}/64`], gateway: KERNEL6 } });
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
    // The far host got the echo whole: its reply came back (rtt above), and the kernel forwarded the fragments.
    expect(tsharkOffending(lab, [KERNEL6])).toEqual([]);
    if (lab.netlabCapture !== undefined) {
      // ipv6.src lists the outer source first, then the quoted packet's.
      const ptb = tsharkFields(lab.netlabCapture, ["ipv6.src", "icmpv6.mtu"], "icmpv6.type == 2").map(([src, mtu]) => [src?.split(",")[0], mtu]);
      expect(ptb).toEqual([[KERNEL6, "1300"]]);
      // After the PTB every datagram netlab sent toward the far host fits in 1300 bytes.
      const sizes = tsharkFields(lab.netlabCapture, ["frame.number", "ipv6.plen"], "ipv6.dst == 2001:db8:2::2").map(([n, plen]) => [Number(n), Number(plen)]);
      const ptbFrame = Number(tsharkFields(lab.netlabCapture, ["frame.number"], "icmpv6.type == 2")[0]?.[0]);
      const after = sizes.filter(([n]) => n! > ptbFrame);
      expect(after.length).toBeGreaterThanOrEqual(2);
      for (const [, plen] of after) expect(40 + plen!).toBeLessThanOrEqual(1300);
    }
    return { stack, figure: `PMTU: Packet Too Big from the kernel router (MTU 1300), then a fragmented 1400-byte ping6 in ${rtt.toFixed(3)} ms` };
  } finally {
    await far.remove();
  }
}

/** netlab's client sees dnsmasq's RA set M, leases an address, answers ping6 on it, and releases it on stop. */
export async function dhcp6LeaseFromDnsmasq(site: V6Site): Promise<V6Outcome> {
  const { lab } = site;
  await kernelGlobal(lab);
  const dnsmasq = await startDnsmasq(lab, /DHCPv6, IP range 2001:db8:1::100/, [
    "--dhcp-range=2001:db8:1::100,2001:db8:1::1ff,64,1h",
    "--dhcp-option=option6:dns-server,[2001:db8:1::53]",
    `--dhcp-leasefile=${join(lab.dir, "dnsmasq.leases")}`,
  ]);
  const stack = createStack({ device: site.device, clock: site.clock, rng: site.rng }, { ipv6: {} });
  const client = dhcp6ClientOnStack(stack, { mode: "from-ra" });
  const start = performance.now();
  client.start();
  await waitUntil(() => client.state === "bound", 30_000, "a DHCPv6 lease from dnsmasq");
  const leaseMs = performance.now() - start;
  expect(stack.ipv6!.ndp.raFlags?.managed).toBe(true);
  const lease = client.lease!;
  const address = formatIpv6(lease.address);
  expect(address).toMatch(/^2001:db8:1::1[0-9a-f]{2}$/);
  expect(lease.dnsServers.map(formatIpv6)).toEqual(["2001:db8:1::53"]);
  expect(lease.validLifetime).toBe(3600);
  await dnsmasq.waitFor(new RegExp(`DHCPREPLY\\(${lab.ifname}\\) ${address}`), 2000);
  const ping = await lab.ns.exec("ping", ["-6", "-n", "-c", "2", "-i", "0.1", "-W", "2", address], { timeoutMs: 10_000 });
  expect(ping.stdout).toMatch(/2 packets transmitted, 2 received/);
  client.stop();
  await dnsmasq.waitFor(new RegExp(`DHCPRELEASE\\(${lab.ifname}\\)`), 5000);
  await waitUntil(() => client.state === "stopped", 5000, "the REPLY to RELEASE");
  expect(stack.ipv6!.ndp.addresses().filter((a) => a.origin === "dhcpv6")).toEqual([]);
  await dnsmasq.stop();
  expect(tsharkOffending(lab, [KERNEL6])).toEqual([]);
  return {
    stack,
    figure: `netlab DHCPv6 client got ${address} from dnsmasq in ${leaseMs.toFixed(0)} ms (RA wait, 0..1 s SOLICIT delay and DAD included); stats ${JSON.stringify(client.stats)}`,
  };
}

/** netlab's client sees dnsmasq's RA set O only (ra-stateless) and gets the DNS servers with INFORMATION-REQUEST. */
export async function dhcp6StatelessFromDnsmasq(site: V6Site): Promise<V6Outcome> {
  const { lab } = site;
  await kernelGlobal(lab);
  const dnsmasq = await startDnsmasq(lab, /DHCPv6 stateless on 2001:db8:1::/, [
    "--dhcp-range=2001:db8:1::,ra-stateless,64,1h",
    "--dhcp-option=option6:dns-server,[2001:db8:1::53],[2001:db8:1::54]",
  ]);
  const stack = createStack({ device: site.device, clock: site.clock, rng: site.rng }, { ipv6: { slaac: true } });
  const client = dhcp6ClientOnStack(stack, { mode: "from-ra" });
  client.start();
  await waitUntil(() => client.state === "informed", 30_000, "a REPLY to INFORMATION-REQUEST from dnsmasq");
  expect(stack.ipv6!.ndp.raFlags).toMatchObject({ managed: false, other: true });
  expect(client.information!.dnsServers.map(formatIpv6)).toEqual(["2001:db8:1::53", "2001:db8:1::54"]);
  expect(client.lease).toBeUndefined();
  expect(client.stats).toMatchObject({ solicits: 0, informationRequests: 1 });
  await dnsmasq.waitFor(new RegExp(`DHCPINFORMATION-REQUEST\\(${lab.ifname}\\)`), 2000);
  client.stop();
  await dnsmasq.stop();
  expect(tsharkOffending(lab, [KERNEL6])).toEqual([]);
  return {
    stack,
    figure: `netlab DHCPv6 stateless from dnsmasq: DNS ${client.information!.dnsServers.map(formatIpv6).join(", ")}, refresh in ${((client.information!.refreshAt - client.information!.receivedAt) / 1000).toFixed(0)} s`,
  };
}

/** Lab options of dhclientFromNetlabServer(): the kernel side has no address of its own but its link-local one. */
export const DHCLIENT_LAB: TapLabOptions = { ipv6: true, kernelCidr: null };

/** The kernel's dhclient -6 obtains a lease from netlab's DHCPv6 server (run it in a DHCLIENT_LAB). */
export async function dhclientFromNetlabServer(site: V6Site): Promise<V6Outcome> {
  const { lab } = site;
  const stack = createStack({ device: site.device, clock: site.clock, rng: site.rng }, { ipv6: { addresses: [`${NETLAB6}/64`], routerSolicitations: false } });
  const server = dhcp6ServerOnStack(stack, {
    prefix: ipv6("2001:db8:1::"),
    prefixLength: 64,
    rangeStart: ipv6("2001:db8:1::100"),
    rangeEnd: ipv6("2001:db8:1::1ff"),
    dnsServers: [ipv6("2001:db8:1::53")],
    preferredLifetime: 600,
    validLifetime: 1200,
  });
  await kernelLinkLocal(lab);
  const start = performance.now();
  const dhclient = lab.spawn("dhclient", dhclientArgs({ ifname: lab.ifname, dir: lab.dir, ipv6: true }));
  await dhclient.waitFor(/Bound to lease/, 20_000);
  const leaseMs = performance.now() - start;
  const out = dhclient.output();
  const address = /IAADDR (2001:db8:1::[0-9a-f]+)/.exec(out.stdout + out.stderr)?.[1];
  expect(address).toBe("2001:db8:1::100");
  expect(server.leases().map((l) => [formatIpv6(l.address), l.state])).toEqual([["2001:db8:1::100", "bound"]]);
  expect(server.stats.advertises + server.stats.rapidCommits).toBeGreaterThanOrEqual(1);
  expect(server.stats.replies).toBeGreaterThanOrEqual(1);
  expect(tsharkOffending(lab, [KERNEL6])).toEqual([]);
  return { stack, figure: `dhclient -6 got ${address} from netlab's DHCPv6 server in ${leaseMs.toFixed(0)} ms; server ${JSON.stringify(server.stats)}` };
}

/** Options of clientFetchesFromKernel(). */
export interface FetchOptions {
  /**
   * The lab's tap runs with the kernel's offloads on (virtio_net_hdr, TUN_F_CSUM): the kernel's
   * segments reach netlab with partial checksums (csumBlank), which the tap-side capture shows
   * as bad; the check is then that they were partial and that netlab's own segments are good.
   */
  readonly kernelPartialChecksums?: boolean;
}

/**
 * netlab's HTTP client fetches a small file and a `size`-byte one (sha256) over IPv6 from python3's
 * http.server bound to the kernel's v6 address; every TCP segment on the tap is IPv6 with a good checksum.
 */
export async function clientFetchesFromKernel(site: V6Site, size: number, options: FetchOptions = {}): Promise<V6Outcome> {
  const { lab } = site;
  await kernelGlobal(lab);
  const root = join(lab.dir, "srv");
  mkdirSync(root);
  writeFileSync(join(root, "hello.txt"), "hello from the kernel over IPv6\n");
  const expected = writeRandomFile(join(root, "large.bin"), size);
  const server = lab.spawn("python3", ["-m", "http.server", "8000", "--bind", KERNEL6, "--directory", root]);
  await server.waitFor(/Serving HTTP/, 5000);
  const stack = createStack({ device: site.device, clock: site.clock, rng: site.rng }, { ipv6: { addresses: [`${NETLAB6}/64`] } });
  await waitUntil(addressReady(stack, "static"), 5000, "netlab's DAD");
  const client = createHttpClient({ clock: site.clock, tcp6: stack.tcp6! });
  const seconds = await fetchHelloAndLarge(client, ipv6(KERNEL6), "hello from the kernel over IPv6\n", { size, sha256: expected });
  client.close();
  await server.stop();
  // python's log line names the client by its v6 address.
  expect(server.output().stderr).toMatch(new RegExp(`^${NETLAB6} .*"GET /large.bin HTTP/1.1" 200`, "m"));
  const partial = options.kernelPartialChecksums === true;
  if (!partial) expect(tsharkOffending(lab, [KERNEL6])).toEqual([]);
  if (lab.netlabCapture !== undefined) {
    const kernelForgiven = partial ? `ipv6.src == ${KERNEL6}` : `ipv6.src == ${KERNEL6} && tcp.checksum == 0xffff && tcp.checksum_calculated == 0x0000`;
    expect(tsharkFields(lab.netlabCapture, ["frame.number"], `tcp && (ip || (tcp.checksum.status == "Bad" && !(${kernelForgiven})))`)).toEqual([]);
    // With the kernel's offloads on, its segments did come with partial checksums (netlab took them as validated).
    if (partial) expect(tsharkFields(lab.netlabCapture, ["frame.number"], `ipv6.src == ${KERNEL6} && tcp.checksum.status == "Bad"`).length).toBeGreaterThan(0);
    // The Host field is the bracketed literal (RFC 3986 §3.2.2), in both requests (a snaplen of 256 keeps the heads whole).
    const sent = readFileSync(lab.netlabCapture).toString("latin1");
    expect(sent.split(`\r\nHost: [${KERNEL6}]:8000\r\n`).length - 1).toBe(2);
  }
  return {
    stack,
    figure: `netlab HTTP client <- python http.server over IPv6 ${size >> 20} MiB in ${seconds.toFixed(2)} s = ${((size * 8) / seconds / 1e6).toFixed(0)} Mbit/s; tcp6 retransmits ${stack.tcp6!.layer.stats.retransmits}`,
  };
}
