// The drill target "kernel": runs a packetdrill script against the Linux kernel, the way
// packetdrill itself does. Per script: a fresh network namespace, a tap whose fd this process
// holds with its kernel end moved into the namespace (192.0.2.1/24, IPv6 off, offloads off,
// a permanent neighbour entry for the script's remote side 192.0.2.2 so the kernel never ARPs),
// and a Python agent (kernel-agent.py) started inside the namespace that executes the script's
// system calls on real sockets. Events run in real time from the script's start; an expected
// outbound packet must be read from the tap within toleranceFor(gap, floor); any other packet
// fails the script. Backtick lines run inside the namespace (`../common/defaults.sh` maps to
// ./defaults.sh). The namespace, tap and agent are removed after every script, on failure and
// on SIGINT. Kernel defaults the scripts assume: see defaults.sh (and CUBIC per socket).
// createKernelDrillTarget(): the target; throws KernelTargetError KERNEL_TARGET_UNAVAILABLE
// when not root or without /dev/net/tun, ip, ethtool or python3.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants, writeFileSync } from "node:fs";
import { makeDirectory } from "../pcap/files.ts";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createNetns, missingTools, run, type Netns } from "../netns/index.ts";
import { openTap, type TapDevice } from "../tap/index.ts";
import type { DrillEvent, DrillResult, DrillRunOptions, DrillScript, DrillSyscall, DrillTarget, DrillTcpPacket, DrillValue, SourcePos } from "./model.ts";
import { toleranceFor } from "./model.ts";
import { codeUnsupported, parseCodeBlock, runAsserts, TCP_INFO_FIELDS } from "./code-block.ts";
import {
  buildInboundFrame,
  createDrillMapping,
  DRILL_SCRIPT_IP6,
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
import { NetlabError } from "../../stack/error.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const AGENT_PATH = join(HERE, "kernel-agent.py");
/** The defaults file that replaces packetdrill's `../common/defaults.sh`. */
export const KERNEL_DEFAULTS_SH = join(HERE, "defaults.sh");
/** The kernel's address inside the namespace and the script's remote side. */
export const KERNEL_IP = "192.0.2.1";
export const REMOTE_IP = "192.0.2.2";
/** packetdrill's bind and connect port. */
export const SCRIPT_PORT = 8080;
/** packetdrill's assumption; pinned per socket because the host default here is BBR. */
export const PINNED_CONGESTION_CONTROL = "cubic";
/** Extra wall-clock slack for a call expected to return at once (agent round trip). */
const CALL_LATENCY_MS = 100;
/** Harness latency of an observed frame (kernel wakeups, reader thread -> main thread on a shared
 *  2-core machine), added to the late bound only; the early bound stays packetdrill's. */
const OBSERVE_SLACK_USECS = 10_000;

/** An error of this module, with a stable code. */
export class KernelTargetError extends NetlabError {
  declare readonly code: "KERNEL_TARGET_UNAVAILABLE" | "KERNEL_TARGET_SETUP";
  constructor(code: KernelTargetError["code"], message: string) {
    super(code, message);
    this.name = "KernelTargetError";
  }
}

/** Why the kernel target cannot run here, or undefined when it can. */
export function kernelTargetUnavailable(): string | undefined {
  if (process.platform !== "linux") return "the kernel target needs Linux";
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "the kernel target needs root (namespaces, taps)";
  try {
    accessSync("/dev/net/tun", constants.R_OK | constants.W_OK);
  } catch {
    return "/dev/net/tun is missing (modprobe tun)";
  }
  const missing = missingTools(["ip", "ethtool", "python3", "sysctl"]);
  if (missing.length > 0) return `missing tools: ${missing.join(", ")}`;
  return undefined;
}

/** Creates the kernel target. */
export async function createKernelDrillTarget(): Promise<DrillTarget> {
  const why = kernelTargetUnavailable();
  if (why !== undefined) throw new KernelTargetError("KERNEL_TARGET_UNAVAILABLE", why);
  const live = new Set<Sandbox>();
  return {
    name: "kernel",
    async run(script, options) {
      const started = performance.now();
      const skip = unsupported(script);
      if (skip !== undefined) return result(script, "skip", started, skip.reason, skip.pos);
      const version = scriptIpVersion(script.options, options.ipVersion ?? 4);
      if (version === undefined)
        return result(script, "skip", started, `--ip_version=${script.options.get("ip_version")} is not supported (ipv4, ipv6, ipv4-mapped-ipv6)`);
      const { family, mapped } = ipVersionMapping(version);
      let sandbox: Sandbox | undefined;
      const onSigint = (): void => {
        void Promise.all([...live].map((s) => s.remove())).finally(() => process.exit(130));
      };
      process.once("SIGINT", onSigint);
      try {
        sandbox = await createSandbox(family);
        live.add(sandbox);
        const outcome = await withTimeout(runScript(sandbox, script, options, family, mapped), options.scriptTimeoutMs);
        if (outcome === "timeout") {
          return finish(sandbox, script, options, started, { ok: false, reason: `script did not finish within ${options.scriptTimeoutMs} ms` });
        }
        return finish(sandbox, script, options, started, outcome);
      } catch (e) {
        return result(script, "fail", started, `kernel target: ${(e as Error).message}`);
      } finally {
        process.removeListener("SIGINT", onSigint);
        if (sandbox) {
          live.delete(sandbox);
          await sandbox.remove();
        }
      }
    },
    async close() {
      await Promise.all([...live].map((s) => s.remove()));
      live.clear();
    },
  };
}

type Outcome = { ok: true } | { ok: false; reason: string; pos?: SourcePos };

function result(script: DrillScript, r: DrillResult["result"], started: number, reason?: string, pos?: SourcePos, pcap?: string): DrillResult {
  return {
    file: script.file,
    target: "kernel",
    result: r,
    durationMs: Math.round(performance.now() - started),
    ...(reason !== undefined ? { reason } : {}),
    ...(pos !== undefined ? { pos } : {}),
    ...(pcap !== undefined ? { pcap } : {}),
  };
}

function finish(sandbox: Sandbox, script: DrillScript, options: DrillRunOptions, started: number, outcome: Outcome): DrillResult {
  if (outcome.ok) return result(script, "pass", started);
  let pcap: string | undefined;
  if (options.pcapDir !== undefined) {
    try {
      makeDirectory(options.pcapDir);
      pcap = join(options.pcapDir, `${basename(script.file).replace(/\.pkt$/, "")}.kernel.pcap`);
      writeFileSync(pcap, pcapBytes(sandbox.capture));
    } catch {
      pcap = undefined;
    }
  }
  return result(script, "fail", started, outcome.reason, outcome.pos, pcap);
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<"timeout">((resolve) => {
    timer = setTimeout(resolve, ms, "timeout");
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/** The first construct of a script this target cannot run. */
function unsupported(script: DrillScript): { reason: string; pos: SourcePos } | undefined {
  for (const ev of script.events) {
    const b = ev.body;
    if (b.kind === "code") {
      const why = codeUnsupported(b.source, TCP_INFO_FIELDS);
      if (why !== undefined) return { reason: why, pos: ev.pos };
    }
    if (b.kind === "packet") {
      const p = b.packet;
      if (p.protocol !== "tcp") return { reason: `${p.protocol} packet lines are not supported by the kernel target`, pos: ev.pos };
      const bad =
        p.direction === "inbound"
          ? unsupportedOption(p.options)
          : p.options?.find((o) => o.kind === "other")
            ? unsupportedOption(p.options?.filter((o) => o.kind === "other"))
            : null;
      if (bad !== null) return { reason: `${bad} is not supported`, pos: ev.pos };
    }
    if (b.kind === "syscall" && !SYSCALLS.has(b.call.name))
      return { reason: `system call ${b.call.name}() is not supported by the kernel target`, pos: ev.pos };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The sandbox: namespace, tap, agent.

interface Frame {
  readonly at: number;
  readonly data: Uint8Array;
}

interface Sandbox {
  readonly ns: Netns;
  readonly tap: TapDevice;
  readonly kernelMac: number;
  readonly agent: Agent;
  /** Every frame seen in either direction, for a failure's pcap. */
  readonly capture: Frame[];
  /** IPv4 frames from the kernel not yet consumed. */
  readonly inbox: Frame[];
  /** Resolves when the next frame arrives (or after ms). */
  waitFrame(ms: number): Promise<void>;
  send(frame: Uint8Array): void;
  remove(): Promise<void>;
}

async function createSandbox(family: 4 | 6): Promise<Sandbox> {
  const ns = await createNetns("nl-drill-");
  let tap: TapDevice | undefined;
  let agent: Agent | undefined;
  const remove = async (): Promise<void> => {
    agent?.kill();
    await tap?.close();
    await ns.remove();
  };
  try {
    const v6 = family === 6;
    // IPv6 only on a v6 run, without router solicitations or DAD, so the wire holds the script's segments and MLD reports.
    await ns.execChecked("sysctl", ["-qw", `net.ipv6.conf.all.disable_ipv6=${v6 ? 0 : 1}`, `net.ipv6.conf.default.disable_ipv6=${v6 ? 0 : 1}`]);
    if (v6)
      await ns.execChecked("sysctl", [
        "-qw",
        "net.ipv6.conf.default.accept_ra=0",
        "net.ipv6.conf.default.accept_dad=0",
        "net.ipv6.conf.default.router_solicitations=0",
      ]);
    const name = `nld${randomBytes(4).toString("hex")}`;
    tap = await openTap({ name, vnetHdr: false, mtu: v6 ? DRILL_V6_MTU : 1500 });
    await ns.adoptLink(name);
    // A v6 run uses MTU 1520 so the kernel's MSS is 1460 as the scripts write it (1500 - 40 - 20 in v4, 1520 - 40 - 20 in v6).
    await ns.configureLink(name, { addresses: v6 ? [] : [`${KERNEL_IP}/24`], mtu: v6 ? DRILL_V6_MTU : 1500, disableIpv6: !v6, offloadsOff: true });
    if (v6) {
      await ns.ip("-6", "addr", "add", `${DRILL_STACK_IP6}/64`, "dev", name, "nodad");
      await ns.ip("-6", "neigh", "replace", DRILL_SCRIPT_IP6, "lladdr", formatMac(tap.mac), "dev", name, "nud", "permanent");
    } else await ns.ip("neigh", "replace", REMOTE_IP, "lladdr", formatMac(tap.mac), "dev", name, "nud", "permanent");
    const link = JSON.parse(await ns.ip("-j", "link", "show", "dev", name)) as Array<{ address: string }>;
    const kernelMac = parseInt((link[0]?.address ?? "").replace(/:/g, ""), 16);
    const inherited = (await ns.execChecked("sysctl", ["-n", "net.ipv4.tcp_congestion_control"])).trim();
    agent = await startAgent(ns.name, inherited, PINNED_CONGESTION_CONTROL);
    const capture: Frame[] = [];
    const inbox: Frame[] = [];
    let waiters: Array<() => void> = [];
    tap.onReceive((f) => {
      const data = new Uint8Array(f.data);
      const frame = { at: performance.now(), data };
      capture.push(frame);
      // Only IP of the run's version is the script's business; ARP, NDP and MLD noise is ignored.
      const ours = v6
        ? data.length >= 54 && data[12] === 0x86 && data[13] === 0xdd && data[20] === 6
        : data.length >= 34 && data[12] === 0x08 && data[13] === 0x00;
      if (ours) {
        inbox.push(frame);
        const w = waiters;
        waiters = [];
        w.forEach((fn) => fn());
      }
    });
    const t = tap;
    return {
      ns,
      tap: t,
      kernelMac,
      agent,
      capture,
      inbox,
      waitFrame: (ms) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(
            () => {
              waiters = waiters.filter((w) => w !== done);
              resolve();
            },
            Math.max(0, ms),
          );
          const done = (): void => {
            clearTimeout(timer);
            resolve();
          };
          waiters.push(done);
        }),
      send(frame) {
        capture.push({ at: performance.now(), data: frame.slice() });
        t.send({ data: frame });
      },
      remove,
    };
  } catch (e) {
    await remove();
    throw new KernelTargetError("KERNEL_TARGET_SETUP", (e as Error).message);
  }
}

function formatMac(mac: number): string {
  return mac
    .toString(16)
    .padStart(12, "0")
    .replace(/(..)(?!$)/g, "$1:");
}

/** The agent's reply to one request. */
interface AgentReply {
  readonly id: number;
  readonly ret: number;
  readonly errno?: string;
  readonly error?: string;
  readonly value?: unknown;
  /** When the reply arrived (performance.now()). */
  at: number;
}

interface Agent {
  call(request: Record<string, unknown>): Promise<AgentReply>;
  kill(): void;
}

function startAgent(netns: string, inheritedCc: string, pinnedCc: string): Promise<Agent> {
  const child: ChildProcess = spawn("ip", ["netns", "exec", netns, "python3", "-u", AGENT_PATH, inheritedCc, pinnedCc], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const pending = new Map<number, (r: AgentReply) => void>();
  let nextId = 1;
  let buffer = "";
  let stderr = "";
  let exited = false;
  const failAll = (): void => {
    for (const [id, resolve] of pending) resolve({ id, ret: -1, error: `agent exited: ${stderr.trim()}`, at: performance.now() });
    pending.clear();
  };
  return new Promise((resolveAgent, rejectAgent) => {
    const timer = setTimeout(() => rejectAgent(new KernelTargetError("KERNEL_TARGET_SETUP", `agent did not start: ${stderr.trim()}`)), 10_000);
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      if (stderr.length < 65536) stderr += d;
    });
    child.stdin!.on("error", () => undefined);
    child.on("exit", () => {
      exited = true;
      clearTimeout(timer);
      rejectAgent(new KernelTargetError("KERNEL_TARGET_SETUP", `agent exited: ${stderr.trim()}`));
      failAll();
    });
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      const at = performance.now();
      buffer += d;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const reply = JSON.parse(line) as AgentReply;
        reply.at = at;
        if (reply.id === 0) {
          clearTimeout(timer);
          resolveAgent(agent);
          continue;
        }
        pending.get(reply.id)?.(reply);
        pending.delete(reply.id);
      }
    });
    const agent: Agent = {
      call(request) {
        const id = nextId++;
        return new Promise((resolve) => {
          if (exited) {
            resolve({ id, ret: -1, error: `agent exited: ${stderr.trim()}`, at: performance.now() });
            return;
          }
          pending.set(id, resolve);
          child.stdin!.write(`${JSON.stringify({ id, ...request })}\n`);
        });
      },
      kill() {
        if (!exited) child.kill("SIGKILL");
      },
    };
  });
}

// ---------------------------------------------------------------------------------------------
// The runner.

/** Script time (µs) of an event, given the previous event's time; undefined for `*`. */
function eventWindow(ev: DrillEvent, prevUsecs: number): { at: number; min: number; max: number } | undefined {
  const t = ev.time;
  switch (t.kind) {
    case "absolute":
      return { at: t.usecs, min: t.usecs, max: t.usecs };
    case "relative":
      return { at: prevUsecs + t.usecs, min: prevUsecs + t.usecs, max: prevUsecs + t.usecs };
    case "range": {
      const base = t.relative ? prevUsecs : 0;
      return { at: base + t.startUsecs, min: base + t.startUsecs, max: base + t.endUsecs };
    }
    case "any":
      return undefined;
  }
}

interface PendingCall {
  readonly event: DrillEvent;
  readonly call: DrillSyscall;
  readonly startUsecs: number;
  readonly endUsecs: number;
  readonly reply: Promise<AgentReply>;
  readonly request: Record<string, unknown>;
}

class ScriptFailure extends Error {
  constructor(
    readonly pos: SourcePos,
    message: string,
  ) {
    super(message);
  }
}

async function runScript(sb: Sandbox, script: DrillScript, options: DrillRunOptions, family: 4 | 6, mapped: boolean): Promise<Outcome> {
  const mapping = createDrillMapping({
    family,
    mapped,
    stackMac: sb.kernelMac,
    stackIp: ipv4(KERNEL_IP),
    scriptMac: sb.tap.mac,
    scriptIp: ipv4(REMOTE_IP),
    scriptPort: 40000 + (randomBytes(2).readUInt16BE(0) % 20000),
    scriptIsn: randomBytes(4).readUInt32BE(0),
  });
  const codec = createCodec(mapping);
  const fds = new Map<number, number>();
  const floor = Number(script.options.get("tolerance_usecs") ?? options.toleranceUsecs);
  const events = script.events;
  let i = 0;
  // Leading shell lines (the defaults) run before the clock starts.
  for (; i < events.length && events[i]!.body.kind === "shell"; i++) {
    const out = await runShell(sb, script, events[i]!);
    if (out) return out;
  }
  await sb.agent.call({ op: "constants", names: ["SOL_TCP"] }); // warm the agent before the clock starts
  let base = performance.now();
  const nowUsecs = (): number => (performance.now() - base) * 1000;
  const sleepUntil = async (usecs: number): Promise<void> => {
    for (;;) {
      const ms = (usecs - nowUsecs()) / 1000;
      if (ms <= 0.2) return;
      await new Promise((r) => setTimeout(r, Math.max(0, ms - 0.2)));
    }
  };
  let prev = 0;
  let pending: PendingCall | undefined;
  /** The script fd a `%{ }%` block reads TCP_INFO from: the last one the script used (packetdrill). */
  let lastFd: number | undefined;
  const settle = async (): Promise<void> => {
    if (!pending) return;
    const p = pending;
    pending = undefined;
    const tol = toleranceFor(p.endUsecs - p.startUsecs, floor);
    const limitMs = (p.endUsecs + tol) / 1000 + CALL_LATENCY_MS - (performance.now() - base);
    const reply = await withTimeout(p.reply, Math.max(0, limitMs));
    if (reply === "timeout")
      throw new ScriptFailure(p.event.pos, `${p.call.name}() still blocking ${fmt(nowUsecs())} (expected to return at ${fmt(p.endUsecs)} ±${fmt(tol)})`);
    const ended = (reply.at - base) * 1000;
    if (ended < p.endUsecs - tol)
      throw new ScriptFailure(p.event.pos, `${p.call.name}() returned at ${fmt(ended)}, expected at ${fmt(p.endUsecs)} ±${fmt(tol)}`);
    checkReply(p.event, p.call, p.request, reply, fds);
  };
  const unexpected = (pos: SourcePos): void => {
    const f = sb.inbox.shift();
    if (f) throw new ScriptFailure(pos, `unexpected packet at ${fmt((f.at - base) * 1000)}: ${codec.describe(f.data)}`);
  };
  try {
    for (; i < events.length; i++) {
      const ev = events[i]!;
      const win = eventWindow(ev, prev);
      if (process.env["NETLAB_DRILL_DEBUG"]) console.error(`[kernel] ${fmt(nowUsecs())} line ${ev.pos.line} ${ev.body.kind}`);
      const body = ev.body;
      if (body.kind === "packet" && body.packet.protocol === "tcp" && body.packet.direction === "outbound") {
        const pkt = body.packet;
        const tol = win ? toleranceFor(win.at - prev, floor) : 0;
        const deadline = win ? win.max + tol + OBSERVE_SLACK_USECS : options.scriptTimeoutMs * 1000;
        let covered = 0;
        for (let done = false; !done; ) {
          while (sb.inbox.length === 0) {
            const left = (deadline - nowUsecs()) / 1000;
            if (left <= 0) {
              throw new ScriptFailure(
                ev.pos,
                `expected ${codec.format(pkt)} at ${win ? `${fmt(win.at)} ±${fmt(tol)}` : "any time"}, nothing arrived by ${fmt(nowUsecs())}`,
              );
            }
            await sb.waitFrame(left);
          }
          const f = sb.inbox.shift()!;
          const at = (f.at - base) * 1000;
          if (win && at < win.min - tol) {
            throw new ScriptFailure(ev.pos, `${codec.describe(f.data)} arrived at ${fmt(at)}, expected ${codec.format(pkt)} at ${fmt(win.at)} ±${fmt(tol)}`);
          }
          const m = matchOutboundFrame(f.data, pkt, mapping, covered);
          if (process.env["NETLAB_DRILL_DEBUG"]) console.error(`[kernel]   arrived ${fmt(at)}: ${codec.describe(f.data)}`);
          if (m.kind === "mismatch") throw new ScriptFailure(ev.pos, `expected ${codec.format(pkt)}: ${m.difference}`);
          if (m.kind === "partial") covered = m.covered;
          else done = true;
        }
        prev = win ? win.at : nowUsecs();
        continue;
      }
      if (win) {
        await sleepUntil(win.at);
        // Timers and the agent run late under load; the kernel's reactions are timed from the
        // stimulus as it really happened, so the script clock slides by the lateness.
        const late = nowUsecs() - win.at;
        if (late > 0) base += late / 1000;
      }
      unexpected(ev.pos);
      if (body.kind === "packet") {
        sb.send(buildInboundFrame(body.packet as DrillTcpPacket, mapping));
      } else if (body.kind === "shell") {
        const t0 = performance.now();
        const out = await runShell(sb, script, ev);
        if (out) return out;
        base += performance.now() - t0; // a shell line takes no script time
      } else if (body.kind === "code") {
        if (lastFd === undefined) throw new ScriptFailure(ev.pos, "%{ }% block before any socket");
        const program = parseCodeBlock(body.source);
        if (!program.ok) throw new ScriptFailure(ev.pos, program.error.message);
        const r = await sb.agent.call({ op: "tcp_info", fd: realFd({ kind: "number", value: lastFd }, fds, ev.pos) });
        if (r.error !== undefined || r.ret !== 0) throw new ScriptFailure(ev.pos, `TCP_INFO of fd ${lastFd}: ${r.error ?? r.errno ?? "failed"}`);
        const info = r.value as Record<string, number>;
        const failed = runAsserts(program.value, (n) => info[n]);
        if (failed !== undefined) throw new ScriptFailure(ev.pos, failed);
      } else if (body.kind === "syscall") {
        await settle();
        const call = body.call;
        lastFd = scriptFdOf(call) ?? lastFd;
        const request = syscallRequest(call, fds, ev.pos, mapping);
        const startUsecs = win ? win.at : nowUsecs();
        const reply = sb.agent.call(request);
        if (call.blockingEndUsecs !== undefined) {
          const end = call.blockingEndUsecs.relative ? startUsecs + call.blockingEndUsecs.usecs : call.blockingEndUsecs.usecs;
          pending = { event: ev, call, startUsecs, endUsecs: end, reply, request };
        } else {
          const tol = toleranceFor(win ? win.at - prev : 0, floor);
          const r = await withTimeout(reply, tol / 1000 + CALL_LATENCY_MS);
          if (r === "timeout") {
            // It blocks: the script expected it to return at once.
            pending = { event: ev, call, startUsecs, endUsecs: startUsecs, reply, request };
            await settle();
          } else {
            checkReply(ev, call, request, r, fds);
          }
        }
      }
      prev = win ? win.at : nowUsecs();
    }
    await settle();
    return { ok: true };
  } catch (e) {
    if (e instanceof ScriptFailure) return { ok: false, reason: e.message, pos: e.pos };
    throw e;
  }
}

/** The script fd a call uses: the one socket() or accept() returns, else its first argument. */
export function scriptFdOf(call: DrillSyscall): number | undefined {
  if ((call.name === "socket" || call.name === "accept") && typeof call.result === "number" && call.result >= 0) return call.result;
  const a = call.args[0];
  return a?.kind === "number" ? a.value : undefined;
}

function ipv4(s: string): number {
  return s.split(".").reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0);
}

/** Describing frames and packet lines in failure messages. */
function createCodec(m: DrillMapping): { describe(frame: Uint8Array): string; format(p: DrillTcpPacket): string } {
  return {
    describe(frame) {
      const d = decodeTcpFrame(frame);
      return d === null ? `a non-TCP IPv4 frame (${frame.length} bytes)` : describeOutboundFrame(d, m);
    },
    format(p) {
      let s = `${p.direction === "inbound" ? "<" : ">"} ${p.flags}`;
      if (p.seq) s += ` ${p.seq.start}:${p.seq.end}(${p.seq.length})`;
      if (p.ack !== undefined) s += ` ack ${p.ack}`;
      if (p.window !== undefined) s += ` win ${p.window}`;
      if (p.options) s += ` <${p.options.map((o) => o.kind).join(",")}>`;
      return s;
    },
  };
}

function fmt(usecs: number): string {
  return `${(usecs / 1e6).toFixed(6)}s`;
}

async function runShell(sb: Sandbox, script: DrillScript, ev: DrillEvent): Promise<Outcome | undefined> {
  if (ev.body.kind !== "shell") return undefined;
  const command = ev.body.command.replace(/(^|[\s;&|])(?:\S*\/)?common\/defaults\.sh\b/g, `$1sh ${KERNEL_DEFAULTS_SH}`);
  const r = await run("ip", ["netns", "exec", sb.ns.name, "sh", "-c", `cd ${JSON.stringify(dirname(script.file))} 2>/dev/null; ${command}`], {
    timeoutMs: 10_000,
  });
  if (r.code === 0) return undefined;
  return { ok: false, reason: `shell command \`${ev.body.command}\` exited ${r.code ?? r.signal}: ${r.stderr.trim()}`, pos: ev.pos };
}

// ---------------------------------------------------------------------------------------------
// System calls: script form -> agent request, agent reply -> comparison with the script.

const SYSCALLS = new Set([
  "socket",
  "bind",
  "listen",
  "accept",
  "connect",
  "write",
  "send",
  "sendto",
  "read",
  "recv",
  "recvfrom",
  "close",
  "shutdown",
  "setsockopt",
  "getsockopt",
  "fcntl",
  "poll",
]);

function num(v: DrillValue | undefined, pos: SourcePos, what: string): number {
  if (v?.kind === "number") return v.value;
  if (v?.kind === "list" && v.items.length === 1 && v.items[0]!.kind === "number") return v.items[0]!.value;
  throw new ScriptFailure(pos, `${what}: expected a number`);
}

function name(v: DrillValue | undefined, fallback: string | number): string | number | Array<string | number> {
  if (v === undefined || v.kind === "ellipsis") return fallback;
  if (v.kind === "name") return v.value;
  if (v.kind === "number") return v.value;
  if (v.kind === "or") return v.items.map((x) => (x.kind === "name" ? x.value : x.kind === "number" ? x.value : 0));
  return fallback;
}

function realFd(v: DrillValue | undefined, fds: Map<number, number>, pos: SourcePos): number {
  const fd = num(v, pos, "fd");
  return fds.get(fd) ?? -1000 - fd; // an unmapped fd stays invalid (EBADF)
}

function structField(v: DrillValue | undefined, ...names: string[]): DrillValue | undefined {
  if (v?.kind !== "struct") return undefined;
  return v.fields.find(([n]) => names.includes(n))?.[1];
}

function optionKind(optName: string): "int" | "linger" | "string" | "tcp_info" {
  if (optName === "SO_LINGER") return "linger";
  if (optName === "TCP_CONGESTION") return "string";
  if (optName === "TCP_INFO") return "tcp_info";
  return "int";
}

function syscallRequest(call: DrillSyscall, fds: Map<number, number>, pos: SourcePos, m: DrillMapping): Record<string, unknown> {
  const a = call.args;
  const fd = (): number => realFd(a[0], fds, pos);
  switch (call.name) {
    case "socket":
      // packetdrill's --ip_version=ipv6 and ipv4-mapped-ipv6: the script's AF_INET sockets are made AF_INET6 (IPV6_V6ONLY off when mapped).
      return {
        op: "socket",
        family: (m.family === 6 || m.mapped) && name(a[0], "AF_INET") === "AF_INET" ? "AF_INET6" : name(a[0], "AF_INET"),
        type: name(a[1], "SOCK_STREAM"),
        proto: name(a[2], "IPPROTO_TCP"),
        ...(m.mapped ? { v6only: false } : {}),
      };
    case "bind":
      m.stackPort = SCRIPT_PORT;
      return { op: "bind", fd: fd(), host: m.family === 6 ? DRILL_STACK_IP6 : m.mapped ? `::ffff:${KERNEL_IP}` : KERNEL_IP, port: SCRIPT_PORT };
    case "listen":
      return { op: "listen", fd: fd(), backlog: num(a[1], pos, "backlog") };
    case "accept":
      return { op: "accept", fd: fd() };
    case "connect":
      return { op: "connect", fd: fd(), host: m.family === 6 ? DRILL_SCRIPT_IP6 : m.mapped ? `::ffff:${REMOTE_IP}` : REMOTE_IP, port: m.scriptPort };
    case "write":
      return { op: "write", fd: fd(), len: num(a[2], pos, "length") };
    case "send":
    case "sendto":
      return { op: "send", fd: fd(), len: num(a[2], pos, "length"), flags: name(a[3], 0) };
    case "read":
      return { op: "read", fd: fd(), len: num(a[2], pos, "length") };
    case "recv":
    case "recvfrom":
      return { op: "recv", fd: fd(), len: num(a[2], pos, "length"), flags: name(a[3], 0) };
    case "close":
      return { op: "close", fd: fd() };
    case "shutdown":
      return { op: "shutdown", fd: fd(), how: name(a[1], "SHUT_RDWR") };
    case "setsockopt": {
      const opt = String(name(a[2], ""));
      const kind = optionKind(opt);
      const v = a[3];
      let value: unknown;
      if (kind === "linger") {
        value = [num(structField(v, "l_onoff", "onoff"), pos, "l_onoff"), num(structField(v, "l_linger", "linger"), pos, "l_linger")];
      } else if (kind === "string") {
        if (v?.kind !== "string") throw new ScriptFailure(pos, `${opt}: expected a string`);
        value = v.value;
      } else {
        value = num(v, pos, opt);
      }
      return { op: "setsockopt", fd: fd(), level: name(a[1], "SOL_SOCKET"), name: opt, kind, value };
    }
    case "getsockopt": {
      const opt = String(name(a[2], ""));
      return { op: "getsockopt", fd: fd(), level: name(a[1], "SOL_SOCKET"), name: opt, kind: optionKind(opt) };
    }
    case "fcntl": {
      const req: Record<string, unknown> = { op: "fcntl", fd: fd(), cmd: name(a[1], "F_GETFL") };
      if (a[2] !== undefined) req["arg"] = a[2].kind === "number" ? a[2].value : name(a[2], 0);
      return req;
    }
    case "poll": {
      const list = a[0];
      const items = list?.kind === "list" ? list.items : [];
      return {
        op: "poll",
        fds: items.map((s) => ({ fd: realFd(structField(s, "fd"), fds, pos), events: name(structField(s, "events"), 0) })),
        timeout: num(a[2], pos, "timeout"),
      };
    }
  }
  throw new ScriptFailure(pos, `system call ${call.name}() is not supported`);
}

/** Resolves names to numbers the way the agent does (for poll revents and fcntl flags). */
const CONSTANTS: Record<string, number> = {
  POLLIN: 0x1,
  POLLPRI: 0x2,
  POLLOUT: 0x4,
  POLLERR: 0x8,
  POLLHUP: 0x10,
  POLLNVAL: 0x20,
  POLLRDNORM: 0x40,
  POLLRDBAND: 0x80,
  POLLWRNORM: 0x100,
  POLLWRBAND: 0x200,
  POLLRDHUP: 0x2000,
  O_RDONLY: 0,
  O_WRONLY: 1,
  O_RDWR: 2,
  O_NONBLOCK: 0o4000,
};

function valueNumber(v: DrillValue): number | undefined {
  if (v.kind === "number") return v.value;
  if (v.kind === "name") return CONSTANTS[v.value];
  if (v.kind === "or") {
    let n = 0;
    for (const x of v.items) {
      const k = valueNumber(x);
      if (k === undefined) return undefined;
      n |= k;
    }
    return n;
  }
  if (v.kind === "list" && v.items.length === 1) return valueNumber(v.items[0]!);
  return undefined;
}

function checkReply(ev: DrillEvent, call: DrillSyscall, request: Record<string, unknown>, reply: AgentReply, fds: Map<number, number>): void {
  const pos = ev.pos;
  if (reply.error !== undefined) throw new ScriptFailure(pos, `${call.name}(): agent error: ${reply.error}`);
  const expected = call.result;
  const returnsFd = call.name === "socket" || call.name === "accept";
  if (expected !== "ellipsis") {
    if (expected === -1) {
      if (reply.ret !== -1) throw new ScriptFailure(pos, `${call.name}() returned ${reply.ret}, expected -1 ${call.errno ?? ""}`);
      if (call.errno !== undefined && reply.errno !== call.errno) {
        throw new ScriptFailure(pos, `${call.name}() failed with ${reply.errno}, expected ${call.errno}`);
      }
    } else if (reply.ret === -1) {
      throw new ScriptFailure(pos, `${call.name}() failed with ${reply.errno}, expected ${expected}`);
    } else if (!returnsFd && reply.ret !== expected) {
      throw new ScriptFailure(pos, `${call.name}() returned ${reply.ret}, expected ${expected}`);
    }
  }
  if (returnsFd && reply.ret >= 0 && expected !== "ellipsis" && expected >= 0) fds.set(expected, reply.ret);
  if (call.name === "close" && reply.ret === 0) {
    for (const [s, r] of fds) if (r === request["fd"]) fds.delete(s);
  }
  if (call.name === "getsockopt" && reply.ret === 0) {
    const want = call.args[3];
    const opt = String(request["name"]);
    if (want !== undefined && want.kind !== "ellipsis") checkOptionValue(pos, opt, want, reply.value);
  }
  if (call.name === "poll" && reply.ret >= 0) {
    const list = call.args[0];
    const got = reply.value as number[];
    if (list?.kind === "list") {
      list.items.forEach((s, k) => {
        const w = structField(s, "revents");
        if (w === undefined || w.kind === "ellipsis") return;
        const n = valueNumber(w);
        if (n !== undefined && n !== got[k]) throw new ScriptFailure(pos, `poll() revents 0x${(got[k] ?? 0).toString(16)}, expected 0x${n.toString(16)}`);
      });
    }
  }
}

function checkOptionValue(pos: SourcePos, opt: string, want: DrillValue, got: unknown): void {
  if (opt === "TCP_INFO" && want.kind === "struct") {
    const info = got as Record<string, number>;
    for (const [field, v] of want.fields) {
      if (v.kind === "ellipsis") continue;
      const n = valueNumber(v);
      const key = field.startsWith("tcpi_") ? field : `tcpi_${field}`;
      if (n !== undefined && info[key] !== n) throw new ScriptFailure(pos, `getsockopt(TCP_INFO) ${key} = ${info[key]}, expected ${n}`);
    }
    return;
  }
  if (opt === "SO_LINGER" && want.kind === "struct") {
    const [onoff, linger] = got as [number, number];
    const o = structField(want, "l_onoff", "onoff"),
      l = structField(want, "l_linger", "linger");
    if ((o && valueNumber(o) !== undefined && valueNumber(o) !== (onoff === 0 ? 0 : 1)) || (l && valueNumber(l) !== undefined && valueNumber(l) !== linger)) {
      throw new ScriptFailure(pos, `getsockopt(SO_LINGER) = {${onoff}, ${linger}}`);
    }
    return;
  }
  if (want.kind === "string") {
    if (got !== want.value) throw new ScriptFailure(pos, `getsockopt(${opt}) = "${String(got)}", expected "${want.value}"`);
    return;
  }
  const n = valueNumber(want);
  if (n !== undefined && got !== n) throw new ScriptFailure(pos, `getsockopt(${opt}) = ${String(got)}, expected ${n}`);
}

// ---------------------------------------------------------------------------------------------
// A failing run's capture: classic pcap, Ethernet link type.

function pcapBytes(frames: readonly Frame[]): Uint8Array {
  const size = 24 + frames.reduce((n, f) => n + 16 + f.data.length, 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0xa1b2c3d4, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setUint32(16, 65535, true);
  v.setUint32(20, 1, true);
  let off = 24;
  const origin = Date.now() * 1000 - performance.now() * 1000;
  for (const f of frames) {
    const usecs = Math.round(origin + f.at * 1000);
    v.setUint32(off, Math.floor(usecs / 1e6), true);
    v.setUint32(off + 4, usecs % 1e6, true);
    v.setUint32(off + 8, f.data.length, true);
    v.setUint32(off + 12, f.data.length, true);
    out.set(f.data, off + 16);
    off += 16 + f.data.length;
  }
  return out;
}
