// The netlab drill target: runs a packetdrill script against one netlab stack on a virtual
// clock. Inbound packet lines are injected at the stack's NetDevice at their times; outbound
// lines must match the next frame the stack sends, within packetdrill's tolerance of their
// time; any other frame the stack sends fails the script (as in packetdrill). System calls map
// onto netlab's socket API (TcpLayer listen/connect, ByteStream). Constructs netlab has no
// equivalent for skip the script, naming the construct. Deterministic: one seed, virtual time,
// a virtual-time limit and an event-count limit (a script never hangs).

import { writeFileSync } from "node:fs";
import { makeDirectory } from "../pcap/files.ts";
import { basename, join } from "node:path";
import { createStack, ipv4Mapped, type Stack } from "../../stack/index.ts";
import { NO_OFFLOADS, type Frame, type NetDevice } from "../../stack/link/types.ts";
import { createPcapWriter } from "../../stack/link/pcap/pcap.ts";
import { createByteCollector } from "../../stack/link/pcap/types.ts";
import { emitEthernet, ETHERTYPE_IPV6 } from "../../stack/wire/ethernet.ts";
import { emitIpv6, IPV6_HEADER_LEN, IPV6_NEXT_HEADER_ICMPV6 } from "../../stack/wire/ipv6.ts";
import { formatIpv6, ipv6Equal, type Ipv6Address } from "../../stack/wire/ipv6-address.ts";
import { ICMPV6_TYPE_NEIGHBOR_SOLICITATION } from "../../stack/wire/icmpv6.ts";
import { emitNdp, NDP_NS_LEN, NDP_TARGET, ndpMacOption, ndpReprLength, type NdpRepr } from "../../stack/wire/ndp.ts";
import { createRng, createVirtualClock, type VirtualClock } from "../../stack/time.ts";
import type { ByteStream, StreamErrorCode, TcpListener } from "../../stack/transport/types.ts";
import type { TcpInfo, TcpLayerOptions, TcpStateName } from "../../stack/transport/tcp/index.ts";
import type { CongestionControlName } from "../../stack/transport/tcp/congestion.ts";
import {
  type DrillEvent,
  type DrillResult,
  type DrillRunOptions,
  type DrillScript,
  type DrillSyscall,
  type DrillTarget,
  type DrillTcpPacket,
  type DrillValue,
  type SourcePos,
  toleranceFor,
} from "./model.ts";
import { codeUnsupported, fieldsOf, parseCodeBlock, runAsserts } from "./code-block.ts";
import {
  buildInboundFrame,
  createDrillMapping,
  DRILL_STACK_IP6,
  DRILL_V6_MTU,
  ipVersionMapping,
  scriptIpVersion,
  decodeTcpFrame,
  describeOutboundFrame,
  matchOutboundFrame,
  unsupportedOption,
  type DrillMapping,
} from "./packets.ts";

/** Options of the netlab target. */
export interface NetlabDrillOptions {
  /** Seed of the stack's Rng (ISNs, ports) [1]. */
  readonly seed?: number;
  /** Most clock steps and syscalls one script may take [1_000_000]. */
  readonly maxSteps?: number;
}

/** Creates the netlab target. */
export function createNetlabDrillTarget(options: NetlabDrillOptions = {}): DrillTarget {
  return {
    name: "netlab",
    run: (script, runOptions) => Promise.resolve(runScript(script, runOptions, options)),
    close: () => Promise.resolve(),
  };
}

const SUPPORTED_SYSCALLS = new Set([
  "socket",
  "bind",
  "listen",
  "accept",
  "connect",
  "write",
  "send",
  "read",
  "recv",
  "close",
  "shutdown",
  "setsockopt",
  "getsockopt",
  "fcntl",
]);

const GATEWAY = 0xc0a80002;

/** True for an IPv6 Neighbor Solicitation (no extension headers) whose target is `target`. */
function isSolicitationFor(frame: Uint8Array, target: Ipv6Address): boolean {
  if (frame.length < 14 + IPV6_HEADER_LEN + NDP_NS_LEN || frame[12] !== 0x86 || frame[13] !== 0xdd || frame[20] !== IPV6_NEXT_HEADER_ICMPV6) return false;
  const icmp = 14 + IPV6_HEADER_LEN;
  return frame[icmp] === ICMPV6_TYPE_NEIGHBOR_SOLICITATION && ipv6Equal(frame.subarray(icmp + NDP_TARGET, icmp + NDP_TARGET + 16), target);
}

/** The script side's solicited Neighbor Advertisement for its v6 address, to the stack. */
function neighborAdvertisement(m: DrillMapping): Uint8Array {
  const repr: NdpRepr = {
    kind: "neighbor-advertisement",
    router: false,
    solicited: true,
    override: true,
    target: m.scriptIp6,
    options: [ndpMacOption("target-link-layer-address", m.scriptMac)],
  };
  const len = ndpReprLength(repr);
  const frame = new Uint8Array(14 + IPV6_HEADER_LEN + len);
  emitEthernet({ dst: m.stackMac, src: m.scriptMac, ethertype: ETHERTYPE_IPV6 }, frame, 0);
  emitIpv6(
    { src: m.scriptIp6, dst: m.stackIp6, nextHeader: IPV6_NEXT_HEADER_ICMPV6, hopLimit: 255, trafficClass: 0, flowLabel: 0, payloadLength: len },
    frame,
    14,
  );
  emitNdp(repr, frame, 14 + IPV6_HEADER_LEN, m.scriptIp6, m.stackIp6);
  return frame;
}

class Stop {
  constructor(
    readonly result: "fail" | "skip",
    readonly reason: string,
    readonly pos?: SourcePos,
  ) {}
}

/** Maps the script's shell lines and options onto TcpLayerOptions, or throws a Stop(skip). */
function configure(script: DrillScript): { tcp: TcpLayerOptions; tolerance?: number } {
  // The kernel the published scripts are written for (Linux 5.x+, tcp_rmem max 6 MiB) offers
  // wscale 8; netlab's own default is 7. The target configures the stack like that kernel so a
  // script compares behaviour rather than this buffer-size choice.
  const tcp: { -readonly [K in keyof TcpLayerOptions]: TcpLayerOptions[K] } = { windowScaleShift: 8 };
  let tolerance: number | undefined;
  for (const [name, value] of script.options) {
    if (name === "tolerance_usecs" && /^\d+$/.test(value)) tolerance = Number(value);
    else if (name === "ip_version" && (value === "ipv4" || value === "ipv6" || value === "ipv4-mapped-ipv6")) continue;
    else throw new Stop("skip", `script option --${name}${value === "" ? "" : `=${value}`} is not supported by the netlab target`);
  }
  for (const e of script.events) {
    const b = e.body;
    if (b.kind === "code") {
      const why = codeUnsupported(b.source, NETLAB_TCP_INFO_FIELDS);
      if (why !== undefined) throw new Stop("skip", `${why} (netlab target)`, e.pos);
    }
    if (b.kind === "packet") {
      if (b.packet.protocol !== "tcp") throw new Stop("skip", `${b.packet.protocol} packet lines are not supported by the netlab target`, e.pos);
      const o = b.packet.options?.find((x) => x.kind === "other");
      if (o !== undefined && o.kind === "other") throw new Stop("skip", `TCP option '${o.text}' is not supported by the netlab target`, e.pos);
      if (b.packet.direction === "inbound") {
        const why = unsupportedOption(b.packet.options);
        if (why !== null) throw new Stop("skip", `${why} is not supported`, e.pos);
      }
    }
    if (b.kind === "syscall" && !SUPPORTED_SYSCALLS.has(b.call.name)) {
      throw new Stop("skip", `system call ${b.call.name}() is not supported by the netlab target`, e.pos);
    }
    if (b.kind !== "shell") continue;
    for (const raw of b.command.split(/;|&&/)) {
      const cmd = raw.trim();
      if (cmd === "" || /(^|\/)defaults\.sh$/.test(cmd)) continue; // netlab's defaults stand for Linux's
      const m = /^sysctl\s+(?:-[qw]\s+)*([\w.]+)\s*=\s*"?([\w ]+?)"?$/.exec(cmd);
      if (!m) throw new Stop("skip", `shell command \`${cmd}\` has no netlab equivalent`, e.pos);
      const key = (m[1] ?? "").replace(/^net\.ipv4\./, "");
      const v = m[2] ?? "";
      if (key === "tcp_sack" && (v === "0" || v === "1")) tcp.sack = v === "1";
      else if (key === "tcp_timestamps" && (v === "0" || v === "1")) tcp.timestamps = v === "1";
      else if (key === "tcp_window_scaling" && (v === "0" || v === "1")) tcp.windowScaling = v === "1";
      else if (key === "tcp_syncookies" && (v === "0" || v === "1")) tcp.synCookies = v === "1";
      else if (key === "tcp_congestion_control" && (v === "cubic" || v === "reno" || v === "bbr")) tcp.congestionControl = v === "reno" ? "newreno" : v;
      // 0 turns off the tail loss probe (RACK-TLP's early retransmit); 3 and 4 keep it
      else if (key === "tcp_early_retrans" && /^[034]$/.test(v)) tcp.tailLossProbe = v !== "0";
      else if (key === "tcp_frto" && /^[012]$/.test(v)) tcp.frto = v !== "0";
      // 1 asks for ECN on active opens and accepts it, 2 only accepts it (RFC 3168)
      else if (key === "tcp_ecn" && /^[012]$/.test(v)) tcp.ecn = v === "1" ? "on" : v === "2" ? "passive" : "off";
      else throw new Stop("skip", `sysctl ${m[1]}=${v} has no netlab equivalent`, e.pos);
    }
  }
  return tolerance === undefined ? { tcp } : { tcp, tolerance };
}

interface Socket {
  fd: number;
  nonblocking: boolean;
  port: number | undefined;
  listener?: TcpListener;
  stream?: ByteStream;
  acceptQueue: Socket[];
  /** Bytes received and not yet read. */
  unread: number;
  eof: boolean;
  connected: boolean;
  error: StreamErrorCode | undefined;
  /** Linux's sk_err: the first call that reports the error consumes it (then writes give EPIPE, reads 0). */
  errorReported: boolean;
  noDelay: boolean;
  linger0: boolean;
  congestionControl: CongestionControlName | undefined;
}

type CallOutcome = { readonly ret: number; readonly errno?: string } | "block";

interface Pending {
  readonly event: DrillEvent;
  readonly call: DrillSyscall;
  readonly endUs: number;
  readonly tolUs: number;
}

interface Captured {
  readonly data: Uint8Array;
  readonly atUs: number;
}

function runScript(script: DrillScript, runOptions: DrillRunOptions, targetOptions: NetlabDrillOptions): DrillResult {
  const started = performance.now();
  let run: NetlabRun | undefined;
  let outcome: Omit<DrillResult, "durationMs" | "file" | "target">;
  try {
    run = new NetlabRun(script, runOptions, targetOptions);
    run.execute();
    outcome = { result: "pass" };
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    outcome = e.pos === undefined ? { result: e.result, reason: e.reason } : { result: e.result, reason: e.reason, pos: e.pos };
    if (e.result === "fail" && runOptions.pcapDir !== undefined && run !== undefined) {
      const path = run.writePcap(runOptions.pcapDir);
      if (path !== undefined) outcome = { ...outcome, pcap: path };
    }
  }
  return { file: script.file, target: "netlab", ...outcome, durationMs: performance.now() - started };
}

class NetlabRun {
  readonly #script: DrillScript;
  readonly #maxSteps: number;
  readonly #limitUs: number;
  readonly #floorUs: number;
  readonly #tcpOptions: TcpLayerOptions;
  readonly #clock: VirtualClock = createVirtualClock(0);
  readonly #mapping: DrillMapping;
  #stack: Stack | undefined;
  #receive: ((frame: Frame) => void) | undefined;
  readonly #sent: Captured[] = [];
  readonly #trace: Array<{ data: Uint8Array; atUs: number }> = [];
  readonly #sockets = new Map<number, Socket>();
  #pending: Pending | undefined;
  #steps = 0;
  /** The script fd a `%{ }%` block reads: the last one the script used (packetdrill). */
  #lastFd: number | undefined;
  readonly #seed: number;

  constructor(script: DrillScript, runOptions: DrillRunOptions, targetOptions: NetlabDrillOptions) {
    this.#script = script;
    this.#maxSteps = targetOptions.maxSteps ?? 1_000_000;
    this.#limitUs = runOptions.scriptTimeoutMs * 1000;
    this.#seed = targetOptions.seed ?? 1;
    const cfg = configure(script);
    this.#tcpOptions = cfg.tcp;
    this.#floorUs = cfg.tolerance ?? runOptions.toleranceUsecs;
    const isnRng = createRng(this.#seed ^ 0x5eed);
    const version = scriptIpVersion(script.options, runOptions.ipVersion ?? 4);
    if (version === undefined) throw new Stop("skip", `--ip_version=${script.options.get("ip_version")} is not supported (ipv4, ipv6, ipv4-mapped-ipv6)`);
    this.#mapping = createDrillMapping({ ...ipVersionMapping(version), scriptIsn: isnRng.nextU32(), scriptPort: 40000 + isnRng.nextInt(20000) });
  }

  #nowUs(): number {
    return Math.round(this.#clock.now() * 1000);
  }

  #stackFor(): Stack {
    if (this.#stack !== undefined) return this.#stack;
    const m = this.#mapping;
    const v6 = m.family === 6;
    const device: NetDevice = {
      mac: m.stackMac,
      mtu: v6 ? DRILL_V6_MTU : 1500,
      offloads: NO_OFFLOADS,
      send: (frame) => {
        const data = frame.data.slice();
        frame.release?.();
        const atUs = this.#nowUs();
        this.#trace.push({ data, atUs });
        if (decodeTcpFrame(data) !== null) this.#sent.push({ data, atUs });
        // The script side answers neighbour solicitations for its address at once (the kernel target has a permanent entry instead).
        else if (v6 && isSolicitationFor(data, m.scriptIp6)) {
          const na = neighborAdvertisement(m);
          this.#clock.setTimer(this.#clock.now(), () => this.#receive?.({ data: na }));
        }
      },
      onReceive: (handler) => {
        this.#receive = handler;
      },
    };
    const stack = createStack(
      { device, clock: this.#clock, rng: createRng(this.#seed) },
      v6
        ? {
            // No DAD, RS or RA processing: the wire holds the script's segments (and MLD reports, which are not TCP).
            ipv6: { addresses: [`${DRILL_STACK_IP6}/64`], dadTransmits: 0, routerSolicitations: false, acceptRa: false },
            tcp: this.#tcpOptions,
          }
        : {
            ipv4: { cidr: "192.168.0.1/24", gateway: GATEWAY },
            // A mapped run's AF_INET6 sockets need the v6 socket layer (stack.tcp6); the wire stays IPv4, without v6 addresses, DAD, RS or RA.
            ...(m.mapped ? { ipv6: { addresses: [], dadTransmits: 0, routerSolicitations: false, acceptRa: false } } : {}),
            tcp: this.#tcpOptions,
          },
    );
    if (!v6) stack.arp.addStatic(GATEWAY, m.scriptMac);
    this.#stack = stack;
    return stack;
  }

  execute(): void {
    this.#stackFor();
    let prevUs = 0;
    for (const event of this.#script.events) {
      const gapRelative =
        event.time.kind === "relative" ? event.time.usecs : event.time.kind === "range" && event.time.relative ? event.time.startUsecs : undefined;
      let lo: number;
      let hi: number;
      if (event.time.kind === "absolute") lo = hi = event.time.usecs;
      else if (event.time.kind === "relative") lo = hi = prevUs + event.time.usecs;
      else if (event.time.kind === "any") {
        lo = prevUs;
        hi = Number.POSITIVE_INFINITY;
      } else if (event.time.relative) {
        lo = prevUs + event.time.startUsecs;
        hi = prevUs + event.time.endUsecs;
      } else {
        lo = event.time.startUsecs;
        hi = event.time.endUsecs;
      }
      const gap = gapRelative ?? lo - prevUs;
      const tol = toleranceFor(gap, this.#floorUs);
      if (lo > this.#limitUs) throw new Stop("fail", `event time ${lo / 1e6}s is beyond the script time limit`, event.pos);
      const body = event.body;
      if (body.kind === "packet" && body.packet.protocol === "tcp" && body.packet.direction === "outbound") {
        prevUs = this.#expect(event, body.packet, lo, hi, tol);
        continue;
      }
      this.#advanceTo(lo, event);
      this.#noUnexpected(event);
      if (body.kind === "packet" && body.packet.protocol === "tcp") this.#inject(body.packet);
      else if (body.kind === "syscall") this.#syscall(event, body.call, tol);
      else if (body.kind === "code") this.#code(event, body.source);
      this.#checkPending();
      prevUs = lo;
    }
    if (this.#pending !== undefined) {
      const p = this.#pending;
      this.#advanceTo(p.endUs + p.tolUs, p.event);
      if (this.#pending !== undefined) throw new Stop("fail", `${p.call.name}() did not return by ${fmt(p.endUs)}s (+${fmt(p.tolUs)}s tolerance)`, p.event.pos);
    }
    const last = this.#script.events.at(-1);
    if (last !== undefined) this.#noUnexpected(last, "after the last event");
  }

  /** Runs the clock to `targetUs`, timer by timer, completing a pending blocking call when it can. */
  #advanceTo(targetUs: number, event: DrillEvent): void {
    for (;;) {
      const next = this.#clock.nextDeadline();
      const nowUs = this.#nowUs();
      if (next === undefined || Math.round(next * 1000) > targetUs) {
        if (targetUs > nowUs) this.#clock.advance((targetUs - nowUs) / 1000);
        this.#checkPending();
        return;
      }
      this.#step(event);
      this.#clock.advance(Math.max(0, next - this.#clock.now()));
      this.#checkPending();
    }
  }

  #step(event: DrillEvent): void {
    if (++this.#steps > this.#maxSteps) throw new Stop("fail", `more than ${this.#maxSteps} clock steps (the stack does not settle)`, event.pos);
  }

  #noUnexpected(event: DrillEvent, where = "before this line"): void {
    const f = this.#sent[0];
    if (f === undefined) return;
    const d = decodeTcpFrame(f.data);
    const text = d === null ? "(undecodable)" : describeOutboundFrame(d, this.#mapping);
    throw new Stop("fail", `unexpected outbound packet at ${fmt(f.atUs)}s ${where}: ${text}`, event.pos);
  }

  #inject(p: DrillTcpPacket): void {
    if (this.#mapping.stackPort === undefined) {
      // A SYN to a port nobody bound: packetdrill's default local port.
      this.#mapping.stackPort = 8080;
    }
    const data = buildInboundFrame(p, this.#mapping);
    this.#trace.push({ data, atUs: this.#nowUs() });
    this.#receive?.({ data });
  }

  /** Waits for the stack's next frame and matches it (TSO pieces: several frames). Returns its time. */
  #expect(event: DrillEvent, expected: DrillTcpPacket, lo: number, hi: number, tol: number): number {
    const deadline = hi === Number.POSITIVE_INFINITY ? this.#limitUs : hi + tol;
    let covered = 0;
    for (;;) {
      while (this.#sent.length === 0) {
        const next = this.#clock.nextDeadline();
        if (next === undefined || Math.round(next * 1000) > deadline) {
          const nowUs = this.#nowUs();
          if (deadline > nowUs) this.#clock.advance((deadline - nowUs) / 1000);
          this.#checkPending();
          if (this.#sent.length > 0) break;
          const when = hi === Number.POSITIVE_INFINITY ? "" : ` at ${fmt(lo)}s`;
          throw new Stop(
            "fail",
            `expected outbound ${packetText(expected)}${when}; nothing arrived by ${fmt(deadline)}s${covered > 0 ? ` (after ${covered} bytes of it)` : ""}`,
            event.pos,
          );
        }
        this.#step(event);
        this.#clock.advance(Math.max(0, next - this.#clock.now()));
        this.#checkPending();
      }
      const frame = this.#sent.shift()!;
      if (frame.atUs < lo - tol || frame.atUs > hi + tol) {
        const d = decodeTcpFrame(frame.data);
        const window = hi === lo ? `${fmt(lo)}s ±${fmt(tol)}s` : `${fmt(lo)}..${fmt(hi)}s ±${fmt(tol)}s`;
        throw new Stop(
          "fail",
          `outbound packet at ${fmt(frame.atUs)}s, expected at ${window}: ${d === null ? "" : describeOutboundFrame(d, this.#mapping)}`,
          event.pos,
        );
      }
      const r = matchOutboundFrame(frame.data, expected, this.#mapping, covered);
      if (r.kind === "mismatch") throw new Stop("fail", `outbound packet differs from ${packetText(expected)}: ${r.difference}`, event.pos);
      if (r.kind === "match") return frame.atUs;
      covered = r.covered;
    }
  }

  /** Runs a `%{ }%` block's asserts against the last-used socket's TCP_INFO. */
  #code(event: DrillEvent, source: string): void {
    const program = parseCodeBlock(source);
    if (!program.ok) throw new Stop("fail", program.error.message, event.pos);
    if (this.#lastFd === undefined) throw new Stop("fail", "%{ }% block before any socket", event.pos);
    const info = this.#tcpInfo(event, this.#socket(event, { kind: "number", value: this.#lastFd }));
    const missing = fieldsOf(program.value).filter((n) => info[n] === undefined);
    if (missing.length > 0) throw new Stop("skip", `%{ }% reads ${missing.join(", ")}, which netlab has only for a connected socket`, event.pos);
    const failed = runAsserts(program.value, (n) => info[n]);
    if (failed !== undefined) throw new Stop("fail", failed, event.pos);
  }

  #tcpInfo(event: DrillEvent, s: Socket): Readonly<Record<string, number>> {
    void event;
    if (s.stream !== undefined && "info" in s.stream) return netlabTcpInfo((s.stream as ByteStream & { info(): TcpInfo }).info());
    return { tcpi_state: s.listener !== undefined ? LINUX_TCP_STATES.LISTEN : LINUX_TCP_STATES.CLOSED };
  }

  // ---- system calls

  #syscall(event: DrillEvent, call: DrillSyscall, tol: number): void {
    const startUs = this.#nowUs();
    if ((call.name === "socket" || call.name === "accept") && typeof call.result === "number" && call.result >= 0) this.#lastFd = call.result;
    else if (call.args[0]?.kind === "number") this.#lastFd = call.args[0].value;
    if (this.#pending !== undefined && call.blockingEndUsecs !== undefined) {
      throw new Stop("skip", "two blocking calls at once are not supported by the netlab target", event.pos);
    }
    const outcome = this.#perform(event, call);
    if (call.blockingEndUsecs !== undefined) {
      const endUs = call.blockingEndUsecs.relative ? startUs + call.blockingEndUsecs.usecs : call.blockingEndUsecs.usecs;
      const tolUs = toleranceFor(endUs - startUs, this.#floorUs);
      if (outcome === "block") {
        this.#pending = { event, call, endUs, tolUs };
        return;
      }
      if (Math.abs(startUs - endUs) > tolUs)
        throw new Stop("fail", `${call.name}() returned at once (${fmt(startUs)}s), expected to block until ${fmt(endUs)}s`, event.pos);
      this.#checkResult(event, call, outcome);
      return;
    }
    if (outcome === "block") throw new Stop("fail", `${call.name}() would block at ${fmt(startUs)}s (write it as +t...u for a blocking call)`, event.pos);
    void tol;
    this.#checkResult(event, call, outcome);
  }

  #checkPending(): void {
    const p = this.#pending;
    if (p === undefined) return;
    const outcome = this.#perform(p.event, p.call);
    const nowUs = this.#nowUs();
    if (outcome === "block") {
      if (nowUs > p.endUs + p.tolUs)
        throw new Stop("fail", `${p.call.name}() still blocked at ${fmt(nowUs)}s, expected to return at ${fmt(p.endUs)}s`, p.event.pos);
      return;
    }
    this.#pending = undefined;
    if (Math.abs(nowUs - p.endUs) > p.tolUs)
      throw new Stop("fail", `${p.call.name}() returned at ${fmt(nowUs)}s, expected at ${fmt(p.endUs)}s ±${fmt(p.tolUs)}s`, p.event.pos);
    this.#checkResult(p.event, p.call, outcome);
  }

  #checkResult(event: DrillEvent, call: DrillSyscall, outcome: { ret: number; errno?: string }): void {
    const want = call.result === "ellipsis" ? "..." : String(call.result);
    const got = `${outcome.ret}${outcome.errno !== undefined ? ` ${outcome.errno}` : ""}`;
    const retOk = call.result === "ellipsis" || call.result === outcome.ret;
    const errnoOk = call.errno === undefined || call.errno === outcome.errno;
    if (!retOk || !errnoOk) {
      throw new Stop("fail", `${call.name}() = ${got}, expected ${want}${call.errno !== undefined ? ` ${call.errno}` : ""}`, event.pos);
    }
  }

  #socket(event: DrillEvent, v: DrillValue | undefined): Socket {
    const fd = v?.kind === "number" ? v.value : -1;
    const s = this.#sockets.get(fd);
    if (s === undefined) throw new Stop("fail", `fd ${fd} is not an open socket`, event.pos);
    return s;
  }

  #newSocket(): Socket {
    let fd = 3;
    while (this.#sockets.has(fd)) fd++;
    const s: Socket = {
      fd,
      nonblocking: false,
      port: undefined,
      acceptQueue: [],
      unread: 0,
      eof: false,
      connected: false,
      error: undefined,
      errorReported: false,
      noDelay: false,
      linger0: false,
      congestionControl: undefined,
    };
    this.#sockets.set(fd, s);
    return s;
  }

  /** A mapped run's stream must run over IPv4 with the script side's address as ::ffff:a.b.c.d (stack.tcp6's endpoints, Linux's getpeername). */
  #checkMapped(stream: ByteStream): void {
    const e = this.#stack?.tcp6?.endpointsOf(stream);
    const want = ipv4Mapped(this.#mapping.scriptIp);
    if (e === undefined || !e.ipv4 || !ipv6Equal(e.remote, want))
      throw new Stop(
        "fail",
        `the v6 socket's connection is not reported as IPv4-mapped (${e === undefined ? "no endpoints" : formatIpv6(e.remote)}, expected ${formatIpv6(want)})`,
      );
  }

  #attach(s: Socket, stream: ByteStream): void {
    s.stream = stream;
    // Received data stays in TCP's receive queue until the script reads it (as in the kernel's
    // socket): the stream is paused, and a read takes what is queued (resume, then pause again),
    // so the advertised window and Linux's ACK-on-read follow the script's reads.
    stream.pause();
    stream.onData((data) => {
      s.unread += data.length;
    });
    stream.onEnd(() => {
      s.eof = true;
    });
    stream.onClose((error) => {
      s.error = error;
      s.eof = true;
    });
    stream.onConnect(() => {
      s.connected = true;
    });
  }

  #perform(event: DrillEvent, call: DrillSyscall): CallOutcome {
    const a = call.args;
    const stack = this.#stackFor();
    const unsupported = (what: string): never => {
      throw new Stop("skip", `${what} is not supported by the netlab target`, event.pos);
    };
    switch (call.name) {
      case "socket": {
        if (!hasName(a[1], "SOCK_STREAM")) unsupported(`socket type ${valueText(a[1])}`);
        return { ret: this.#newSocket().fd };
      }
      case "bind": {
        const s = this.#socket(event, a[0]);
        const port = portOf(a[1]) ?? 8080;
        s.port = port;
        this.#mapping.stackPort = port;
        return { ret: 0 };
      }
      case "listen": {
        const s = this.#socket(event, a[0]);
        const backlog = a[1]?.kind === "number" ? a[1].value : 128;
        const port = s.port ?? 8080;
        this.#mapping.stackPort = port;
        const opts = {
          backlog: Math.max(1, backlog),
          noDelay: s.noDelay,
          ...(s.congestionControl === undefined ? {} : { congestionControl: s.congestionControl }),
        };
        // A mapped run listens on a dual-stack v6 socket (IPV6_V6ONLY off), which takes the script's IPv4 connections.
        const m = this.#mapping;
        const r =
          m.family === 6 ? stack.tcp6!.listen(port, opts) : m.mapped ? stack.tcp6!.listen(port, { ...opts, ipv6Only: false }) : stack.tcp.listen(port, opts);
        if (!r.ok) return { ret: -1, errno: r.error === "in-use" ? "EADDRINUSE" : "EINVAL" };
        s.listener = r.value;
        r.value.onConnection((stream) => {
          // A mapped listener must report its v4 connections as ::ffff:a.b.c.d, as Linux's accept() does.
          if (m.mapped) this.#checkMapped(stream);
          const child: Socket = { ...this.#blank(), noDelay: s.noDelay, linger0: s.linger0 };
          this.#attach(child, stream);
          child.connected = true;
          s.acceptQueue.push(child);
        });
        return { ret: 0 };
      }
      case "accept": {
        const s = this.#socket(event, a[0]);
        if (s.listener === undefined) return { ret: -1, errno: "EINVAL" };
        const child = s.acceptQueue.shift();
        if (child === undefined) return s.nonblocking ? { ret: -1, errno: "EAGAIN" } : "block";
        let fd = 3;
        while (this.#sockets.has(fd)) fd++;
        child.fd = fd;
        this.#sockets.set(fd, child);
        return { ret: fd };
      }
      case "connect": {
        const s = this.#socket(event, a[0]);
        if (s.stream === undefined) {
          const opts = {
            noDelay: s.noDelay,
            ...(s.port === undefined ? {} : { localPort: s.port }),
            ...(s.congestionControl === undefined ? {} : { congestionControl: s.congestionControl }),
          };
          const m = this.#mapping;
          const r =
            m.family === 6
              ? stack.tcp6!.connect(m.scriptIp6, m.scriptPort, opts)
              : m.mapped
                ? stack.tcp6!.connect(ipv4Mapped(m.scriptIp), m.scriptPort, { ...opts, ipv6Only: false })
                : stack.tcp.connect(m.scriptIp, m.scriptPort, opts);
          if (!r.ok) return { ret: -1, errno: "ENETUNREACH" };
          if (m.mapped) this.#checkMapped(r.value);
          this.#attach(s, r.value);
          if (s.port !== undefined) this.#mapping.stackPort = s.port;
          if (s.nonblocking) return { ret: -1, errno: "EINPROGRESS" };
        }
        if (s.connected) return { ret: 0 };
        if (s.error !== undefined) return { ret: -1, errno: s.error };
        return s.nonblocking ? { ret: -1, errno: "EALREADY" } : "block";
      }
      case "write":
      case "send": {
        const s = this.#socket(event, a[0]);
        const n = a[2]?.kind === "number" ? a[2].value : unsupported(`${call.name}() without a numeric length`);
        if (s.error !== undefined) {
          if (s.errorReported) return { ret: -1, errno: "EPIPE" };
          s.errorReported = true;
          return { ret: -1, errno: s.error };
        }
        if (s.stream === undefined) return { ret: -1, errno: "EPIPE" };
        if (!s.connected) return s.nonblocking ? { ret: -1, errno: "EAGAIN" } : "block";
        s.stream.write(new Uint8Array(n));
        return { ret: n };
      }
      case "read":
      case "recv": {
        const s = this.#socket(event, a[0]);
        const n = a[2]?.kind === "number" ? a[2].value : unsupported(`${call.name}() without a numeric length`);
        takeQueued(s);
        if (s.unread > 0) {
          const got = Math.min(n, s.unread);
          s.unread -= got;
          return { ret: got };
        }
        if (s.error !== undefined && !s.errorReported) {
          s.errorReported = true;
          return { ret: -1, errno: s.error };
        }
        if (s.eof) return { ret: 0 };
        return s.nonblocking ? { ret: -1, errno: "EAGAIN" } : "block";
      }
      case "close": {
        const s = this.#socket(event, a[0]);
        this.#sockets.delete(s.fd);
        s.listener?.close();
        if (s.stream !== undefined && s.error === undefined) {
          // Linux: close() with unread data, or with SO_LINGER {on, 0}, resets (RFC 2525 §2.17).
          takeQueued(s);
          if (s.linger0 || s.unread > 0) s.stream.destroy();
          else s.stream.end();
        }
        return { ret: 0 };
      }
      case "shutdown": {
        const s = this.#socket(event, a[0]);
        if (s.stream === undefined) return { ret: -1, errno: "ENOTCONN" };
        if (hasName(a[1], "SHUT_WR") || hasName(a[1], "SHUT_RDWR")) s.stream.end();
        else if (!hasName(a[1], "SHUT_RD")) unsupported(`shutdown how ${valueText(a[1])}`);
        return { ret: 0 };
      }
      case "setsockopt": {
        const s = this.#socket(event, a[0]);
        const name = a[2]?.kind === "name" ? a[2].value : "";
        const value = a[3];
        if (name === "SO_REUSEADDR" || name === "SO_REUSEPORT") return { ret: 0 };
        if (name === "TCP_NODELAY") {
          s.noDelay = intOf(value) !== 0;
          s.stream?.setNoDelay(s.noDelay);
          return { ret: 0 };
        }
        if (name === "SO_LINGER" && value?.kind === "struct") {
          const on = intOf(fieldOf(value, "l_onoff"));
          const secs = intOf(fieldOf(value, "l_linger"));
          if (on === 0) {
            s.linger0 = false;
            return { ret: 0 };
          }
          if (on === 1 && secs === 0) {
            s.linger0 = true;
            return { ret: 0 };
          }
        }
        if (name === "TCP_CONGESTION" && value?.kind === "string" && (value.value === "cubic" || value.value === "reno" || value.value === "bbr")) {
          if (s.stream !== undefined) unsupported("TCP_CONGESTION on a connected socket");
          s.congestionControl = value.value === "reno" ? "newreno" : value.value;
          return { ret: 0 };
        }
        return unsupported(`setsockopt ${name || valueText(a[2])}${value === undefined ? "" : ` ${valueText(value)}`}`);
      }
      case "getsockopt": {
        const s = this.#socket(event, a[0]);
        const name = a[2]?.kind === "name" ? a[2].value : "";
        if (name === "SO_ERROR") {
          const want = a[3]?.kind === "list" ? a[3].items[0] : undefined;
          const got = s.errorReported ? 0 : (s.error ?? 0);
          s.errorReported = s.error !== undefined;
          if (want !== undefined && want.kind !== "ellipsis") {
            const ok = (want.kind === "number" && want.value === 0 && got === 0) || (want.kind === "name" && want.value === got);
            if (!ok) throw new Stop("fail", `getsockopt SO_ERROR is ${got}, expected ${valueText(want)}`, event.pos);
          }
          return { ret: 0 };
        }
        if (name === "TCP_NODELAY") {
          const want = a[3]?.kind === "list" ? intOf(a[3].items[0]) : undefined;
          if (want !== undefined && (want !== 0) !== s.noDelay)
            throw new Stop("fail", `getsockopt TCP_NODELAY is ${s.noDelay ? 1 : 0}, expected ${want}`, event.pos);
          return { ret: 0 };
        }
        if (name === "TCP_MAXSEG" && s.stream !== undefined && "info" in s.stream) {
          const info = (s.stream as ByteStream & { info(): TcpInfo }).info();
          const want = a[3]?.kind === "list" ? intOf(a[3].items[0]) : undefined;
          if (want !== undefined && want !== info.sendMss) throw new Stop("fail", `getsockopt TCP_MAXSEG is ${info.sendMss}, expected ${want}`, event.pos);
          return { ret: 0 };
        }
        if (name === "TCP_INFO") {
          const info = this.#tcpInfo(event, s);
          const want = a[3];
          if (want?.kind === "struct") {
            for (const [field, v] of want.fields) {
              if (v.kind === "ellipsis") continue;
              const key = field.startsWith("tcpi_") ? field : `tcpi_${field}`;
              const got = info[key];
              if (got === undefined) unsupported(`TCP_INFO field ${key}`);
              const n = intOf(v);
              if (n === undefined) unsupported(`TCP_INFO value ${valueText(v)}`);
              if (got !== n) throw new Stop("fail", `getsockopt(TCP_INFO) ${key} = ${got}, expected ${n}`, event.pos);
            }
          } else if (want !== undefined && want.kind !== "ellipsis") {
            unsupported(`getsockopt TCP_INFO value ${valueText(want)}`);
          }
          return { ret: 0 };
        }
        return unsupported(`getsockopt ${name || valueText(a[2])}`);
      }
      case "fcntl": {
        const s = this.#socket(event, a[0]);
        if (hasName(a[1], "F_SETFL")) {
          s.nonblocking = hasName(a[2], "O_NONBLOCK");
          return { ret: 0 };
        }
        if (hasName(a[1], "F_GETFL")) return { ret: 0x2 | (s.nonblocking ? 0x800 : 0) };
        return unsupported(`fcntl ${valueText(a[1])}`);
      }
      default:
        return unsupported(`system call ${call.name}()`);
    }
  }

  #blank(): Socket {
    return {
      fd: -1,
      nonblocking: false,
      port: undefined,
      acceptQueue: [],
      unread: 0,
      eof: false,
      connected: false,
      error: undefined,
      errorReported: false,
      noDelay: false,
      linger0: false,
      congestionControl: undefined,
    };
  }

  /** Writes the run's frames (both directions) to DIR/<script>.netlab.pcap; returns the path. */
  writePcap(dir: string): string | undefined {
    try {
      makeDirectory(dir);
      const out = createByteCollector();
      const w = createPcapWriter(out.write);
      for (const f of this.#trace) w.record({ interfaceId: 0, timestampMs: f.atUs / 1000, data: f.data });
      const path = join(dir, `${basename(this.#script.file).replace(/\.pkt$/, "")}.netlab.pcap`);
      writeFileSync(path, out.bytes());
      return path;
    } catch {
      return undefined;
    }
  }
}

/** Linux's TCP state numbers (include/net/tcp_states.h), as tcpi_state reports them. */
/** Moves what TCP holds for the socket into its unread count (a read() of everything queued). */
function takeQueued(s: Socket): void {
  if (s.stream === undefined) return;
  s.stream.resume();
  s.stream.pause();
}

const LINUX_TCP_STATES = {
  ESTABLISHED: 1,
  "SYN-SENT": 2,
  "SYN-RECEIVED": 3,
  "FIN-WAIT-1": 4,
  "FIN-WAIT-2": 5,
  "TIME-WAIT": 6,
  CLOSED: 7,
  "CLOSE-WAIT": 8,
  "LAST-ACK": 9,
  LISTEN: 10,
  CLOSING: 11,
} as const satisfies Record<TcpStateName, number>;

/** Linux's TCP_INFINITE_SSTHRESH. */
const INFINITE_SSTHRESH = 0x7fffffff;

/** The struct tcp_info fields netlab's TcpInfo maps to (a script reading another is skipped). */
export const NETLAB_TCP_INFO_FIELDS: readonly string[] = [
  "tcpi_state",
  "tcpi_options",
  "tcpi_rto",
  "tcpi_rtt",
  "tcpi_snd_mss",
  "tcpi_snd_cwnd",
  "tcpi_snd_ssthresh",
  "tcpi_total_retrans",
  "tcpi_snd_wnd",
  "tcpi_pacing_rate",
];

/** netlab's TcpInfo as Linux's TCP_INFO fields: cwnd and ssthresh in segments, times in µs. */
export function netlabTcpInfo(info: TcpInfo): Record<string, number> {
  const mss = Math.max(1, info.sendMss);
  return {
    tcpi_state: LINUX_TCP_STATES[info.state],
    // TCPI_OPT_TIMESTAMPS 1, TCPI_OPT_SACK 2, TCPI_OPT_WSCALE 4
    tcpi_options: (info.timestamps ? 1 : 0) | (info.sack ? 2 : 0) | (info.windowScaling ? 4 : 0),
    tcpi_rto: Math.round(info.rtoMs * 1000),
    tcpi_rtt: Math.round(info.srttMs * 1000),
    tcpi_snd_mss: info.sendMss,
    tcpi_snd_cwnd: Math.floor(info.cwnd / mss),
    tcpi_snd_ssthresh: info.ssthresh >= INFINITE_SSTHRESH ? INFINITE_SSTHRESH : Math.floor(info.ssthresh / mss),
    // netlab's retransmits counts every retransmitted segment of the connection
    tcpi_total_retrans: info.retransmits,
    tcpi_snd_wnd: info.sendWindow,
    // bytes per second; netlab paces only a model-based controller (BBR), so others have none
    ...(info.bbr === undefined ? {} : { tcpi_pacing_rate: Math.floor(info.bbr.pacingRateBytesPerSecond) }),
  };
}

function fmt(us: number): string {
  return (us / 1e6).toFixed(6).replace(/0{1,3}$/, "");
}

function hasName(v: DrillValue | undefined, name: string): boolean {
  if (v === undefined) return false;
  if (v.kind === "name") return v.value === name;
  if (v.kind === "or") return v.items.some((x) => hasName(x, name));
  return false;
}

function intOf(v: DrillValue | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (v.kind === "number") return v.value;
  if (v.kind === "list" && v.items.length === 1) return intOf(v.items[0]);
  return undefined;
}

function fieldOf(v: DrillValue, name: string): DrillValue | undefined {
  return v.kind === "struct" ? v.fields.find(([n]) => n === name)?.[1] : undefined;
}

function portOf(v: DrillValue | undefined): number | undefined {
  if (v?.kind !== "struct") return undefined;
  const p = fieldOf(v, "sin_port");
  if (p?.kind === "call" && p.name === "htons") return intOf(p.args[0]);
  return intOf(p);
}

/** A value as the script wrote it (roughly), for messages. */
export function valueText(v: DrillValue | undefined): string {
  if (v === undefined) return "(none)";
  switch (v.kind) {
    case "number":
      return String(v.value);
    case "string":
      return JSON.stringify(v.value);
    case "name":
      return v.value;
    case "ellipsis":
      return "...";
    case "list":
      return `[${v.items.map(valueText).join(", ")}]`;
    case "struct":
      return `{${v.fields.map(([n, x]) => (n === "..." ? "..." : `${n}=${valueText(x)}`)).join(", ")}}`;
    case "or":
      return v.items.map(valueText).join("|");
    case "call":
      return `${v.name}(${v.args.map(valueText).join(", ")})`;
  }
}

/** A packet line as the script wrote it (roughly), for messages. */
export function packetText(p: DrillTcpPacket): string {
  let s = `${p.direction === "inbound" ? "<" : ">"} ${p.flags}`;
  if (p.seq !== undefined) s += ` ${p.seq.start}:${p.seq.end}(${p.seq.length})`;
  if (p.ack !== undefined) s += ` ack ${p.ack}`;
  if (p.window !== undefined) s += ` win ${p.window}`;
  if (p.options !== undefined) {
    s += ` <${p.options
      .map((o) => {
        switch (o.kind) {
          case "mss":
          case "wscale":
            return `${o.kind} ${o.value}`;
          case "TS":
            return `TS val ${o.val} ecr ${o.ecr}`;
          case "sack":
            return `sack ${o.blocks.map(([x, y]) => `${x}:${y}`).join(" ")}`;
          case "any":
            return "...";
          case "other":
            return o.text;
          default:
            return o.kind;
        }
      })
      .join(",")}>`;
  }
  return s;
}
