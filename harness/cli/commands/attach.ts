// `netlab attach --tap NAME [--netns NS] (--ip CIDR [--gateway IP] | --dhcp) [--ip V6CIDR]...
//  [--slaac] [--http-root DIR] [--xen] [--pcap FILE] ...`: the stack on a real tap device, with
// the Linux kernel as its peer; dual-stack when given v6 addresses or --slaac.
// Opens the tap, moves it into NS when given (creating NS if missing, removing it again on exit),
// optionally configures the kernel end (--peer CIDR), brings up createStack on the real clock,
// serves files over HTTP, prints its address and live counters, and runs until SIGINT/SIGTERM
// (or --duration), then releases the DHCP lease, closes the device and cleans up.
// With --xen the stack runs in a domU of the simulated hypervisor behind netfront; dom0 runs
// netback and a bridge whose ports are the vif and the tap (harness/xen/attach-xen.ts).
//   summary, run        the CLI entry
//   parseAttachArgs     argv -> AttachOptions (throws UsageError)
//   startAttach         everything run() does up to "running"; returns a session to stop
import { accessSync, constants, statSync } from "node:fs";
import type { NetDevice } from "../../../stack/link/types.ts";
import { withCapture } from "../../../stack/link/capture.ts";
import { formatIpv4, formatMac, type Ipv4Address, type Ipv4Cidr, type MacAddress } from "../../../stack/wire/address.ts";
import { formatIpv6, type Ipv6Address } from "../../../stack/wire/ipv6-address.ts";
import { NetlabError } from "../../../stack/error.ts";
import { err, ok } from "../../../stack/result.ts";
import {
  flagReader,
  flagValue,
  helpText,
  parseCommandLine,
  parseDuration,
  parseInteger,
  parseIpAddress,
  parseIpv4Address,
  parseIpv4Cidr,
  parseIpv6CidrText,
  parseMacAddress,
  parseSeed,
  UsageError,
  type ValueResult,
} from "../args.ts";
import { createCaptureFile, type CaptureFile } from "../../pcap/files.ts";
import { listNetns, run as runCommand, runChecked } from "../../netns/index.ts";
import { openTap, type TapDevice } from "../../tap/index.ts";
import { createRealClock, createSeededRng, type RealClock, type SeededRng } from "../../time/real-clock.ts";
import { composeAttachedStack, type AttachedStack, type StopReport } from "../../tap/attached-stack.ts";
import { startXenAttachment, withImmediateTimers, type XenAttachment } from "../../xen/attach-xen.ts";
import { formatSi } from "../../report/format.ts";

export const summary = "attach the stack to a Linux tap device (the kernel is the peer)";

const USAGE = `usage: netlab attach --tap NAME [--netns NS] (--ip CIDR [--gateway IP] | --dhcp) [--ip V6CIDR]... [--slaac]
                     [--peer CIDR]... [--http-root DIR] [--http-port N] [--pcap FILE] [--xen]
                     [--mac MAC] [--offloads] [--ping IP [--count N] [--interval S]] [--seed S]
                     [--duration S] [--stats-interval S] [--json]
  --tap NAME        tap interface to create or attach to (1..15 characters)
  --netns NS        move the tap's kernel end into namespace NS (created if missing, then removed on exit)
  --ip CIDR         the stack's address, e.g. 192.0.2.2/24; --gateway IP sets its default route. Repeatable
                    with IPv6 CIDRs (2001:db8::2/64) for a dual stack (at most one IPv4 one); an IPv6
                    --ip alone gives a v6-only stack (with its link-local address)
  --dhcp            obtain the address from a DHCP server on the link (released on exit)
  --slaac           IPv6 on, addresses autoconfigured from Router Advertisements on the link (RFC 4862;
                    the kernel side's radvd or dnsmasq enable-ra); each address is reported once usable
  --peer CIDR       also configure the kernel end with CIDR and bring it up (e.g. 192.0.2.1/24). Repeatable
                    with IPv6 CIDRs (2001:db8::1/64, or a link-local fe80::1/64), added without DAD
                    (ip -6 addr add ... nodad: usable at once); at most one IPv4 one. An IPv6 --peer
                    needs IPv6 on the stack (an IPv6 --ip or --slaac)
  --http-root DIR   serve DIR over HTTP (port --http-port, default 80)
  --pcap FILE       record every frame the stack sends and receives (.pcap or .pcapng)
  --xen             run the stack in a domU behind netfront; dom0 runs netback and a bridge with the
                    vif and the tap as ports (kernel <-> tap <-> bridge <-> netback <-> netfront <-> stack);
                    --pcap then records the bridge's tap port (the wire)
  --mac MAC         the stack's MAC (default: random, locally administered; with --xen: the vif's MAC,
                    default 00:16:3e:00:00:<domid>)
  --offloads        exchange checksum/TSO/GRO metadata with the kernel (virtio_net_hdr): the stack
                    sends 64 KB TSO frames with partial checksums and receives GRO'd ones (with --xen:
                    carried over the rings as csum_blank/data_validated flags and GSO extra info)
  --ping IP         ping IP from the stack once a second and print the round-trip times; at the end
                    ping's summary (transmitted, received, loss, rtt min/avg/max/mdev), and the exit
                    status is ping's: 0 when a reply came, 1 when none did. IP may be IPv6 (ICMPv6
                    echo, as ping -6), global or link-local; a link-local one needs no zone (the tap is
                    the one interface; fe80::1%NAME with the tap's NAME is taken too). The first echo
                    goes once the stack has a usable source address for IP (after its DAD)
  --count N         stop after N pings (the last one answered or timed out after 1 s), as ping -c
  --interval S      seconds between pings (default 1; 0.01 at least), as ping -i
  --seed S          the stack's Rng seed (ISNs, ports, DHCP xids; default: random, printed)
  --duration S      stop by itself after S seconds (default: run until SIGINT/SIGTERM); on stopping,
                    connections still open get a FIN, and an RST after 100 ms, before the tap closes
  --stats-interval S  print counters every S seconds (default 1; 0 = only at exit)
  --json            one JSON object per line instead of text
Runs as root (tap devices need CAP_NET_ADMIN).
`;

/** Parsed command line of attach. */
export interface AttachOptions {
  readonly tap: string;
  readonly netns?: string;
  /** IPv4: a static address, DHCP, or none (a v6-only stack). */
  readonly address:
    | { readonly kind: "static"; readonly cidr: Ipv4Cidr; readonly gateway?: Ipv4Address }
    | { readonly kind: "dhcp" }
    | { readonly kind: "none" };
  /** IPv6 (absent: v4 only): static addresses ("2001:db8::2/64") and SLAAC. */
  readonly ipv6?: { readonly addresses: readonly string[]; readonly slaac: boolean };
  /** CIDRs for the kernel end (at most one IPv4; IPv6 ones added with nodad). */
  readonly peers?: readonly string[];
  readonly httpRoot?: string;
  readonly httpPort: number;
  readonly pcap?: string;
  readonly xen: boolean;
  readonly mac?: MacAddress;
  readonly offloads: boolean;
  /** The address to ping: a number for IPv4, 16 bytes for IPv6. */
  readonly ping?: Ipv4Address | Ipv6Address;
  /** With ping: stop after this many echo requests (ping -c). */
  readonly count?: number;
  /** With ping: seconds between echo requests [1] (ping -i). */
  readonly pingIntervalS?: number;
  /** The stack's Rng seed (default: drawn at random and printed). */
  readonly seed?: number;
  readonly durationS?: number;
  readonly statsIntervalS: number;
  readonly json: boolean;
}

/** An error of attach with a stable code (usage errors are UsageError, ERR_USAGE). */
export class AttachError extends NetlabError {
  declare readonly code: "ATTACH_XEN" | "ATTACH_NOT_ROOT" | "ATTACH_NETNS" | "ATTACH_HTTP_ROOT" | "ATTACH_PEER" | "ATTACH_STACK";
  constructor(code: AttachError["code"], message: string) {
    super(code, message);
    this.name = "AttachError";
  }
}

/** The command line of `netlab attach` (args.ts's rules). */
const ATTACH_SPEC = {
  command: "attach",
  usage: USAGE,
  options: {
    tap: { type: "string" },
    netns: { type: "string" },
    ip: { type: "string", multiple: true },
    gateway: { type: "string" },
    dhcp: { type: "boolean" },
    slaac: { type: "boolean" },
    peer: { type: "string", multiple: true },
    "http-root": { type: "string" },
    "http-port": { type: "string" },
    pcap: { type: "string" },
    xen: { type: "boolean" },
    mac: { type: "string" },
    offloads: { type: "boolean" },
    ping: { type: "string" },
    count: { type: "string" },
    interval: { type: "string" },
    seed: { type: "string" },
    duration: { type: "string" },
    "stats-interval": { type: "string" },
    json: { type: "boolean" },
  },
  required: ["tap"],
} as const;

/** A namespace name as ip-netns takes it. */
function namespaceName(text: string): ValueResult<string> {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(text) ? ok(text) : err("bad-value", `needs a namespace name (1..64 of A-Z a-z 0-9 _ . -), got '${text}'`);
}

/** Parses attach's arguments; throws UsageError (ERR_USAGE). */
export function parseAttachArgs(args: readonly string[]): AttachOptions {
  const { values: v } = parseCommandLine(ATTACH_SPEC, args);
  const get = flagReader(ATTACH_SPEC.command, v);
  const usage = (message: string): UsageError => new UsageError(ATTACH_SPEC.command, message);
  const dhcp = v.dhcp === true;
  const slaac = v.slaac === true;
  // Each --ip is an IPv4 or an IPv6 CIDR (one with a colon is IPv6).
  const ips = v.ip ?? [];
  const v6Texts = ips.filter((t) => t.includes(":"));
  const v4Texts = ips.filter((t) => !t.includes(":"));
  for (const t of v6Texts) if (!parseIpv6CidrText(t).ok) throw usage(`--ip needs ADDRESS/PREFIX (192.0.2.10/24 or 2001:db8::2/64), got '${t}'`);
  if (v4Texts.length > 1) throw usage("at most one IPv4 --ip (more --ip are IPv6 CIDRs)");
  if (v4Texts.length === 1 && dhcp) throw usage("give only one of an IPv4 --ip and --dhcp");
  if (v4Texts.length === 0 && !dhcp && v6Texts.length === 0 && !slaac) throw usage("give --ip CIDR (IPv4 or IPv6), --dhcp or --slaac");
  if (v.gateway !== undefined && v4Texts.length === 0) throw usage("--gateway goes with an IPv4 --ip");
  const cidr = flagValue(ATTACH_SPEC.command, "ip", v4Texts[0], parseIpv4Cidr);
  const gateway = get("gateway", parseIpv4Address);
  const address: AttachOptions["address"] =
    cidr === undefined ? (dhcp ? { kind: "dhcp" } : { kind: "none" }) : gateway === undefined ? { kind: "static", cidr } : { kind: "static", cidr, gateway };
  const ipv6 = v6Texts.length > 0 || slaac ? { addresses: v6Texts, slaac } : undefined;
  // Each --peer is an IPv4 or an IPv6 CIDR, as --ip.
  const peers = v.peer ?? [];
  for (const t of peers) flagValue<unknown>(ATTACH_SPEC.command, "peer", t, t.includes(":") ? parseIpv6CidrText : parseIpv4Cidr);
  if (peers.filter((t) => !t.includes(":")).length > 1) throw usage("at most one IPv4 --peer (more --peer are IPv6 CIDRs)");
  if (ipv6 === undefined && peers.some((t) => t.includes(":"))) throw usage("an IPv6 --peer needs IPv6 on the stack: give an IPv6 --ip or --slaac");
  const netns = get("netns", namespaceName);
  const mac = get("mac", parseMacAddress);
  const ping = get("ping", (t) => {
    // A zone may only name the tap: the stack has that one interface.
    const [address = "", zone, ...more] = t.split("%");
    if (more.length > 0 || (zone !== undefined && zone !== v.tap)) return err("bad-value", `zone must be the tap (%${v.tap ?? "NAME"}), got '${t}'`);
    return parseIpAddress(address);
  });
  const count = get("count", (t) => parseInteger(t, 1));
  const intervalMs = get("interval", (t) => parseDuration(t, "s", 10));
  const seed = get("seed", parseSeed);
  if (typeof ping === "number" && address.kind === "none") throw usage("--ping pings an IPv4 address: give an IPv4 --ip or --dhcp");
  if (ping instanceof Uint8Array && ipv6 === undefined) throw usage("--ping pings an IPv6 address: give an IPv6 --ip or --slaac");
  if (ping === undefined && count !== undefined) throw usage("--count goes with --ping");
  if (ping === undefined && intervalMs !== undefined) throw usage("--interval goes with --ping");
  const durationMs = get("duration", (t) => parseDuration(t, "s", 1));
  const statsMs = get("stats-interval", (t) => parseDuration(t, "s"));
  return {
    tap: v.tap!,
    address,
    ...(ipv6 === undefined ? {} : { ipv6 }),
    httpPort: get("http-port", (t) => parseInteger(t, 1, 65535)) ?? 80,
    xen: v.xen === true,
    offloads: v.offloads === true,
    statsIntervalS: statsMs === undefined ? 1 : statsMs / 1000,
    json: v.json === true,
    ...(netns !== undefined ? { netns } : {}),
    ...(peers.length > 0 ? { peers } : {}),
    ...(v["http-root"] !== undefined ? { httpRoot: v["http-root"] } : {}),
    ...(v.pcap !== undefined ? { pcap: v.pcap } : {}),
    ...(mac !== undefined ? { mac } : {}),
    ...(ping !== undefined ? { ping } : {}),
    ...(count !== undefined ? { count } : {}),
    ...(intervalMs !== undefined ? { pingIntervalS: intervalMs / 1000 } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(durationMs !== undefined ? { durationS: durationMs / 1000 } : {}),
  };
}

/** Where attach writes its report lines. */
export interface AttachOutput {
  line(text: string, json: Record<string, unknown>): void;
}

/** A running attachment. */
export interface AttachSession {
  readonly tap: TapDevice;
  readonly stack: AttachedStack;
  /** The dom0/domU machinery under the stack with --xen. */
  readonly xen: XenAttachment | undefined;
  readonly clock: RealClock;
  readonly rng: SeededRng;
  /** Resolves when the stack has an address (at once for --ip; on the first DHCP lease). */
  readonly ready: Promise<Ipv4Cidr>;
  /** Counters of device and stack as one flat record. */
  counters(): Record<string, number>;
  /** Releases the lease, ends open connections (FIN, then RST), closes device and capture, removes a
   * namespace we created; says what happened to the connections (undefined if the stack never came up). */
  stop(): Promise<StopReport | undefined>;
}

function formatCidr(c: Ipv4Cidr): string {
  return `${formatIpv4(c.address)}/${c.prefixLength}`;
}

async function namespaceExists(name: string): Promise<boolean> {
  return (await listNetns()).includes(name);
}

/** Opens the tap and brings the stack up; throws AttachError/TapError with codes. */
export async function startAttach(options: AttachOptions, out: AttachOutput): Promise<AttachSession> {
  if (options.httpRoot !== undefined) {
    try {
      accessSync(options.httpRoot, constants.R_OK);
      if (!statSync(options.httpRoot).isDirectory()) throw new Error("not a directory");
    } catch (e) {
      throw new AttachError("ATTACH_HTTP_ROOT", `--http-root ${options.httpRoot}: ${(e as Error).message}`);
    }
  }
  const cleanups: Array<() => Promise<void> | void> = [];
  const unwind = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch {
        // best effort: keep unwinding
      }
    }
  };
  try {
    const tap = await openTap({
      name: options.tap,
      txOffloads: options.offloads,
      rxOffloads: options.offloads,
      ...(options.mac !== undefined && !options.xen ? { mac: options.mac } : {}),
    });
    cleanups.push(() => tap.close());
    let kernelNs: string | undefined;
    if (options.netns !== undefined) {
      kernelNs = options.netns;
      if (!(await namespaceExists(kernelNs))) {
        await runChecked("ip", ["netns", "add", kernelNs]);
        const created = kernelNs;
        cleanups.push(async () => {
          await runCommand("ip", ["netns", "del", created], { timeoutMs: 5000 });
        });
        await runChecked("ip", ["-n", kernelNs, "link", "set", "lo", "up"]);
      }
      try {
        await runChecked("ip", ["link", "set", tap.name, "netns", kernelNs]);
      } catch (e) {
        throw new AttachError("ATTACH_NETNS", `moving ${tap.name} into namespace ${kernelNs} failed: ${(e as Error).message}`);
      }
    }
    const ipArgs = kernelNs === undefined ? [] : ["-n", kernelNs];
    if (options.peers !== undefined) {
      const peers = options.peers;
      try {
        // A v4-only stack: keep the kernel end's IPv6 chatter (DAD, RS, MLD) off the link.
        const sysctl = ["sysctl", "-qw", `net.ipv6.conf.${tap.name}.disable_ipv6=1`];
        if (options.ipv6 === undefined)
          await runCommand(kernelNs === undefined ? sysctl[0]! : "ip", kernelNs === undefined ? sysctl.slice(1) : ["netns", "exec", kernelNs, ...sysctl]);
        // IPv6 ones without DAD (usable at once; the stack's own DAD still finds a clash with them).
        for (const p of peers)
          await runChecked("ip", [...ipArgs, ...(p.includes(":") ? ["-6"] : []), "addr", "add", p, "dev", tap.name, ...(p.includes(":") ? ["nodad"] : [])]);
        await runChecked("ip", [...ipArgs, "link", "set", tap.name, "up"]);
      } catch (e) {
        throw new AttachError("ATTACH_PEER", `configuring the kernel end ${peers.join(" ")} failed: ${(e as Error).message}`);
      }
    }

    const realClock = createRealClock();
    cleanups.push(() => realClock.close());
    // Event-channel upcalls and ring kicks are timers due "now": run them on setImmediate.
    const clock = options.xen ? withImmediateTimers(realClock) : realClock;
    if (options.xen) cleanups.push(() => clock.close());
    const rng = createSeededRng(...(options.seed === undefined ? [] : [options.seed]));
    let device: NetDevice = tap;
    let capture: CaptureFile | undefined;
    if (options.pcap !== undefined) {
      const format = options.pcap.endsWith(".pcap") || options.pcap.endsWith(".pcap.gz") ? "pcap" : "pcapng";
      const file = createCaptureFile(options.pcap, { format, timeOffsetMs: clock.epochMs });
      capture = file;
      cleanups.push(() => file.close());
      device = withCapture(tap, file.sink, { clock, name: tap.name, description: options.xen ? "netlab attach --xen: dom0 bridge port" : "netlab attach" });
    }
    let xen: XenAttachment | undefined;
    if (options.xen) {
      try {
        const attachment = await startXenAttachment(
          { clock, rng, link: device },
          {
            ...(options.mac !== undefined ? { mac: options.mac } : {}),
            netfront: { checksumOffload: options.offloads, gso: options.offloads },
          },
        );
        xen = attachment;
        cleanups.push(() => attachment.close());
        device = attachment.netfront;
      } catch (e) {
        throw new AttachError("ATTACH_XEN", `starting the Xen path failed: ${(e as Error).message}`);
      }
    }

    const v6 = options.ipv6;
    const stack = await composeAttachedStack(
      { device, clock, rng },
      {
        address: options.address,
        ...(v6 === undefined ? {} : { ipv6: { ...(v6.addresses.length > 0 ? { addresses: v6.addresses } : {}), slaac: v6.slaac } }),
        ...(options.httpRoot !== undefined ? { http: { root: options.httpRoot, port: options.httpPort } } : {}),
        // A known address moving to another MAC is a failover or a spoofer: say so when it happens.
        arp: {
          onAddressChange: (ip, from, to) =>
            out.line(`arp: ${formatIpv4(ip)} moved from ${formatMac(from)} to ${formatMac(to)}`, {
              event: "arp-address-change",
              ip: formatIpv4(ip),
              from: formatMac(from),
              to: formatMac(to),
            }),
        },
      },
    );
    let stopReport: StopReport | undefined;
    cleanups.push(async () => {
      stopReport = await stack.stop();
    });

    const counters = (): Record<string, number> => ({
      rxFrames: tap.counters.rxFrames,
      rxBytes: tap.counters.rxBytes,
      txFrames: tap.counters.txFrames,
      txBytes: tap.counters.txBytes,
      dropped: tap.counters.dropped,
      shedSyns: tap.counters.shedSyns,
      ...stack.counters(),
      ...(xen !== undefined ? xen.counters() : {}),
      ...(capture !== undefined ? { captureBytes: capture.bytesWritten } : {}),
    });

    const where = kernelNs === undefined ? "" : ` (kernel end in netns ${kernelNs})`;
    const via = xen === undefined ? "" : ` via Xen: domU ${xen.guest.id} netfront -> netback vif${xen.guest.id}.${xen.vif.devid} -> bridge ${xen.bridge.name}`;
    out.line(`attached to tap ${tap.name}${where}${via}, mac ${formatMac(device.mac)}, rng seed ${rng.seed}${capture ? `, capture ${capture.path}` : ""}`, {
      event: "attached",
      tap: tap.name,
      netns: kernelNs ?? null,
      mac: formatMac(device.mac),
      seed: rng.seed,
      pcap: capture?.path ?? null,
      xen:
        xen === undefined
          ? null
          : {
              domid: xen.guest.id,
              vif: `vif${xen.guest.id}.${xen.vif.devid}`,
              bridge: xen.bridge.name,
              frontend: xen.netfront.frontendPath,
              backend: xen.netfront.backendPath,
            },
    });
    const ready = stack.ready.then((cidr) => {
      out.line(
        `address ${formatCidr(cidr)}${stack.gateway() !== undefined ? ` gateway ${formatIpv4(stack.gateway()!)}` : ""}` +
          `${options.httpRoot !== undefined ? `, serving ${options.httpRoot} on http://${formatIpv4(cidr.address)}:${options.httpPort}/` : ""}`,
        { event: "address", family: "ipv4", address: formatCidr(cidr), gateway: stack.gateway() !== undefined ? formatIpv4(stack.gateway()!) : null },
      );
      return cidr;
    });
    // IPv6: each address once usable (DAD passed; link-local, static or SLAAC), or found a duplicate.
    const ndp = stack.stack.ipv6?.ndp;
    if (ndp !== undefined) {
      const told = new Set<string>();
      const tell = (): void => {
        for (const a of ndp.addresses()) {
          const text = `${formatIpv6(a.address)}/${a.prefixLength}`;
          const key = `${text} ${a.state === "duplicate" ? "duplicate" : "usable"}`;
          if (a.state === "tentative" || told.has(key)) continue;
          told.add(key);
          if (a.state === "duplicate")
            out.line(`address ${text} (${a.origin}) is a duplicate (DAD), not used`, {
              event: "address-duplicate",
              family: "ipv6",
              address: text,
              origin: a.origin,
            });
          else {
            const http =
              options.httpRoot !== undefined && a.origin !== "link-local"
                ? `, serving ${options.httpRoot} on http://[${formatIpv6(a.address)}]:${options.httpPort}/`
                : "";
            const router = ndp.routers()[0];
            out.line(`address ${text} (${a.origin})${router === undefined ? "" : ` router ${formatIpv6(router.address)}`}${http}`, {
              event: "address",
              family: "ipv6",
              address: text,
              origin: a.origin,
              router: router === undefined ? null : formatIpv6(router.address),
            });
          }
        }
      };
      const poll = setInterval(tell, 100);
      cleanups.push(() => clearInterval(poll));
    }
    ready.catch(() => undefined);

    return {
      tap,
      stack,
      xen,
      clock,
      rng,
      ready,
      counters,
      async stop() {
        await unwind();
        return stopReport;
      },
    };
  } catch (e) {
    await unwind();
    throw e;
  }
}

const COMPACT: ReadonlyArray<readonly [label: string, keys: readonly string[]]> = [
  ["rx", ["rxFrames", "rxBytes"]],
  ["tx", ["txFrames", "txBytes"]],
  ["dropped", ["dropped"]],
  // SYNs from unknown sources the tap's reader dropped under a flood (issue 19 item 9).
  ["shed syn", ["shedSyns"]],
  ["netfront tx/rx", ["netfront.txFrames", "netfront.rxFrames"]],
  ["arp req/rep", ["arp.requestsReceived", "arp.repliesSent"]],
  // Hostile hosts on the segment (issue 19 items 3, 7): packets dropped waiting for (or after
  // failing) resolution and the resolutions that failed; a known address moving to another MAC
  // and such moves refused by the lock time.
  ["arp pending-drops/failed", ["arp.pendingDrops", "arp.failedEntries"]],
  ["arp changed/lock-refused", ["arp.addressChanges", "arp.lockRefused"]],
  ["ip rx/tx", ["ipv4.rxPackets", "ipv4.txPackets"]],
  ["echo in/out", ["icmp.echoRequestsReceived", "icmp.echoRequestsSent"]],
  // With IPv6 on (absent from a v4-only stack's counters, so left out of its line).
  ["ip6 rx/tx", ["ipv6.rxPackets", "ipv6.txPackets"]],
  ["echo6 in/out", ["icmpv6.echoRequestsReceived", "icmpv6.echoRequestsSent"]],
  ["udp rx/tx", ["udp.rxDatagrams", "udp.txDatagrams"]],
  ["tcp seg rx/tx", ["tcp.segmentsReceived", "tcp.segmentsSent"]],
  // Hostile TCP peers (issue 19 items 1, 2, 4, 6): SYN floods (cookies, a full or pruned SYN
  // queue), TIME-WAIT records held and refused at the cap, RFC 5961 challenge ACKs and those held back.
  ["tcp syn-cookies sent/accepted", ["tcp.synCookiesSent", "tcp.synCookiesAccepted"]],
  ["tcp syn-queue drops/pruned", ["tcp.synQueueDropped", "tcp.synQueuePruned"]],
  ["tcp time-wait/dropped", ["tcp.timeWaitCount", "tcp.timeWaitDropped"]],
  ["tcp challenge-acks sent/suppressed", ["tcp.challengeAcks", "tcp.challengeAcksSuppressed"]],
  ["http req", ["http.requests"]],
  ["http open/conn", ["http.open", "http.connections"]],
  // What hostile clients cause (issue 19): printed once one of them is non-zero.
  ["http refused/per-source", ["http.rejectedConnections", "http.rejectedPerSource"]],
  ["http reclaimed idle/slow", ["http.reclaimedIdle", "http.reclaimedSlow"]],
  ["http timeouts/under-load", ["http.timeouts", "http.timeoutsUnderPressure"]],
  ["http closed after-error/unread-body", ["http.closedAfterError", "http.closedUnreadBody"]],
];

/** Groups left out of the line while all their counters are zero. */
const QUIET_WHILE_ZERO = new Set([
  "tcp syn-cookies sent/accepted",
  "tcp syn-queue drops/pruned",
  "tcp time-wait/dropped",
  "tcp challenge-acks sent/suppressed",
  "shed syn",
  "arp pending-drops/failed",
  "arp changed/lock-refused",
  "http refused/per-source",
  "http reclaimed idle/slow",
  "http timeouts/under-load",
  "http closed after-error/unread-body",
]);

/** One short line of the counters that matter most (all of them go to --json). */
export function formatCounters(c: Record<string, number>): string {
  const parts: string[] = [];
  for (const [label, keys] of COMPACT) {
    const values = keys.map((k) => c[k]);
    if (values.some((v) => v === undefined)) continue;
    if (QUIET_WHILE_ZERO.has(label) && values.every((v) => v === 0)) continue;
    // Byte counts with the shared SI formatter ("rx 12/3.46 kB"); the rest are counts.
    parts.push(`${label} ${values.map((v, i) => (keys[i]!.endsWith("Bytes") ? formatSi(v!, "B") : String(v))).join("/")}`);
  }
  const parseErrors = Object.entries(c).filter(([k, v]) => k.startsWith("http.parseErrors.") && v > 0);
  if (parseErrors.length > 0) parts.push(`http parse errors ${parseErrors.map(([k, v]) => `${k.slice("http.parseErrors.".length)}:${v}`).join(",")}`);
  return parts.join("  ");
}

/** Runs attach until a signal or --duration; resolves to the exit code. */
export async function run(args: string[]): Promise<number> {
  if (parseCommandLine(ATTACH_SPEC, args).help) {
    process.stdout.write(helpText(ATTACH_SPEC));
    return 0;
  }
  const options = parseAttachArgs(args);
  const out: AttachOutput = {
    line: (text, json) => process.stdout.write(options.json ? `${JSON.stringify({ t: new Date().toISOString(), ...json })}\n` : `${text}\n`),
  };
  if (process.getuid?.() !== 0) {
    out.line("warning: not running as root; opening the tap will probably fail", { event: "warning", message: "not root" });
  }
  // The handlers go in before the tap opens: the address line can reach a watcher before
  // startAttach returns, and a SIGTERM sent on seeing it must still unwind the namespace.
  const timers: NodeJS.Timeout[] = [];
  let stop!: (reason: string) => void;
  const stopped = new Promise<string>((resolve) => {
    stop = resolve;
  });
  const onSignal = (signal: NodeJS.Signals): void => stop(signal);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const session = await startAttach(options, out);
  session.tap.onError((e) => stop(`device error: ${e.message}`));
  if (options.durationS !== undefined) timers.push(setTimeout(() => stop("duration elapsed"), options.durationS * 1000));
  session.ready.catch((e: Error) => out.line(`no address: ${e.message}`, { event: "error", message: e.message }));
  if (options.statsIntervalS > 0) {
    timers.push(
      setInterval(() => {
        const c = session.counters();
        out.line(formatCounters(c), { event: "counters", ...c });
      }, options.statsIntervalS * 1000),
    );
  }
  const pings = options.ping === undefined ? undefined : { target: options.ping, transmitted: 0, rtts: [] as number[], startedAt: 0 };
  if (pings !== undefined) {
    const target = pings.target;
    const text = formatAddress(target);
    const family = typeof target === "number" ? "ipv4" : "ipv6";
    let answered = 0;
    const settled = (): void => {
      if (options.count !== undefined && ++answered === options.count) stop("ping count reached");
    };
    const pingOnce = (): void => {
      if (options.count !== undefined && pings.transmitted >= options.count) return;
      const n = ++pings.transmitted;
      session.stack.ping(target, n).then(
        (rttMs) => {
          pings.rtts.push(rttMs);
          out.line(`ping ${text} seq=${n} time=${rttMs.toFixed(3)} ms`, { event: "ping", family, target: text, seq: n, rttMs });
          settled();
        },
        (e: Error) => {
          out.line(`ping ${text} seq=${n}: ${e.message}`, { event: "ping", family, target: text, seq: n, error: e.message });
          settled();
        },
      );
    };
    void pingReady(session, target, timers).then(
      () => {
        pings.startedAt = performance.now();
        pingOnce();
        timers.push(setInterval(pingOnce, (options.pingIntervalS ?? 1) * 1000));
      },
      () => undefined,
    );
  }
  const reason = await stopped;
  for (const t of timers) clearTimeout(t);
  const final = session.counters();
  const closed = await session.stop();
  const connections =
    closed === undefined || closed.open === 0 ? "" : `; ${closed.open} open connection(s) ended: ${closed.closed} with FIN, ${closed.reset} reset`;
  out.line(`stopped (${reason})${connections}; ${formatCounters(final)}`, {
    event: "stopped",
    reason,
    ...(closed === undefined ? {} : { connectionsOpen: closed.open, connectionsClosed: closed.closed, connectionsReset: closed.reset }),
    ...final,
  });
  if (pings === undefined) return 0;
  const summary = pingSummary(pings.transmitted, pings.rtts, pings.startedAt === 0 ? 0 : performance.now() - pings.startedAt);
  const target = formatAddress(pings.target);
  out.line(formatPingSummary(target, summary).join("\n"), {
    event: "ping-summary",
    family: typeof pings.target === "number" ? "ipv4" : "ipv6",
    target,
    ...summary,
  });
  return summary.received > 0 ? 0 : 1;
}

function formatAddress(a: Ipv4Address | Ipv6Address): string {
  return typeof a === "number" ? formatIpv4(a) : formatIpv6(a);
}

/**
 * Resolves once the stack can ping `target`: IPv4 once it has its address; IPv6 once it has a
 * usable source address for it and no address of its own is still in DAD (a ping sent from the
 * link-local address while the global one is tentative would be answered to the wrong one).
 */
function pingReady(session: AttachSession, target: Ipv4Address | Ipv6Address, timers: NodeJS.Timeout[]): Promise<unknown> {
  if (typeof target === "number") return session.ready;
  const ipv6 = session.stack.stack.ipv6;
  if (ipv6 === undefined) return Promise.reject(new Error("no IPv6"));
  const usable = (): boolean => ipv6.sourceFor(target) !== undefined && ipv6.ndp.addresses().every((a) => a.state !== "tentative");
  return new Promise<void>((resolve) => {
    if (usable()) {
      resolve();
      return;
    }
    const poll = setInterval(() => {
      if (!usable()) return;
      clearInterval(poll);
      resolve();
    }, 50);
    timers.push(poll);
  });
}

/** ping's closing statistics. */
export interface PingSummary {
  readonly transmitted: number;
  readonly received: number;
  /** Percent of echo requests without a reply (a request still out at the end counts as lost, as ping counts it). */
  readonly lossPercent: number;
  /** Wall time from the first request to the end, ms. */
  readonly timeMs: number;
  /** Round-trip times in ms (absent without a reply); mdev is the population standard deviation, as ping's. */
  readonly rtt?: { readonly minMs: number; readonly avgMs: number; readonly maxMs: number; readonly mdevMs: number };
}

/** The summary of `transmitted` echo requests answered in `rtts` ms. */
export function pingSummary(transmitted: number, rtts: readonly number[], timeMs: number): PingSummary {
  const received = rtts.length;
  const base = {
    transmitted,
    received,
    lossPercent: transmitted === 0 ? 0 : Math.round(((transmitted - received) * 100) / transmitted),
    timeMs: Math.round(timeMs),
  };
  if (received === 0) return base;
  const avg = rtts.reduce((a, b) => a + b, 0) / received;
  const mdev = Math.sqrt(rtts.reduce((a, b) => a + (b - avg) ** 2, 0) / received);
  const r3 = (x: number): number => Math.round(x * 1000) / 1000;
  return { ...base, rtt: { minMs: r3(Math.min(...rtts)), avgMs: r3(avg), maxMs: r3(Math.max(...rtts)), mdevMs: r3(mdev) } };
}

/** The summary as ping (iputils) prints it. */
export function formatPingSummary(target: string, s: PingSummary): string[] {
  return [
    `--- ${target} ping statistics ---`,
    `${s.transmitted} packets transmitted, ${s.received} received, ${s.lossPercent}% packet loss, time ${s.timeMs}ms`,
    ...(s.rtt === undefined
      ? []
      : [`rtt min/avg/max/mdev = ${s.rtt.minMs.toFixed(3)}/${s.rtt.avgMs.toFixed(3)}/${s.rtt.maxMs.toFixed(3)}/${s.rtt.mdevMs.toFixed(3)} ms`]),
  ];
}
