// Network namespaces for tests and `netlab attach`: create, configure, run commands inside,
// remove. Every call has a timeout; every namespace is removed by remove() (idempotent), by
// withNetns() even when the body throws, and by sweepStaleNetns() if its owner process died.
// Names are `${prefix}${pid}-${n}` so a sweep can tell whose namespace it is.
// createNetns(): a fresh namespace with `lo` up. withNetns(): create, run, always remove.
// sweepStaleNetns(): removes namespaces with our prefix whose owner pid is gone.
// run(): a command with a timeout, resolving to { code, stdout, stderr } (never rejects on exit code).
// missingTools(): which of the named executables are not on PATH.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { NetlabError } from "../../stack/error.ts";

/** Default namespace name prefix of netlab's tests. */
export const NETNS_PREFIX = "nl-test-";
const DEFAULT_TIMEOUT_MS = 10_000;

/** Outcome of run(). */
export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** Options of run(). */
export interface RunOptions {
  readonly timeoutMs?: number;
  readonly input?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** An error of this module, with a stable code. */
export class NetnsError extends NetlabError {
  declare readonly code: "NETNS_COMMAND_FAILED" | "NETNS_TIMEOUT" | "NETNS_REMOVED";
  constructor(code: NetnsError["code"], message: string) {
    super(code, message);
    this.name = "NetnsError";
  }
}

/** Runs a command (no shell) with a timeout; SIGKILLs it when the timeout expires. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"], env: options.env ?? process.env });
    let stdout = "",
      stderr = "",
      timedOut = false;
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      if (stdout.length < 1 << 20) stdout += d;
    });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      if (stderr.length < 1 << 20) stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: 127, signal: null, stdout, stderr: stderr + e.message, timedOut });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    if (child.stdin) {
      child.stdin.on("error", () => undefined);
      child.stdin.end(options.input);
    }
  });
}

/** Runs a command and throws NetnsError unless it exits 0; returns stdout. */
export async function runChecked(command: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const r = await run(command, args, options);
  if (r.timedOut) throw new NetnsError("NETNS_TIMEOUT", `${command} ${args.join(" ")} timed out`);
  if (r.code !== 0) throw new NetnsError("NETNS_COMMAND_FAILED", `${command} ${args.join(" ")} exited ${r.code ?? r.signal}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Executables among `tools` that are not found on PATH (plus /usr/sbin and /sbin). */
export function missingTools(tools: readonly string[]): string[] {
  const dirs = [...(process.env["PATH"] ?? "").split(delimiter), "/usr/sbin", "/sbin", "/usr/bin", "/bin"];
  return tools.filter(
    (tool) =>
      !dirs.some((dir) => {
        try {
          accessSync(join(dir, tool), constants.X_OK);
          return true;
        } catch {
          return false;
        }
      }),
  );
}

/** A background process started inside a namespace. */
export interface NetnsProcess {
  readonly child: ChildProcess;
  /** Everything it wrote so far (bounded to 1 MiB each). */
  readonly output: () => { stdout: string; stderr: string };
  /** Resolves when stdout or stderr has matched `pattern`; rejects after timeoutMs or on exit. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends `signal` (default SIGTERM), then SIGKILL after graceMs; resolves when it exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/** Options for configuring an interface inside a namespace. */
export interface LinkConfig {
  /** Addresses to add, e.g. "192.0.2.1/24". */
  readonly addresses?: readonly string[];
  readonly mtu?: number;
  /** Turn off IPv6 on the interface (quiet wire: no router solicitations). Default true. */
  readonly disableIpv6?: boolean;
  /** Turn off checksum/segmentation offloads with ethtool so captures show wire frames. Default false. */
  readonly offloadsOff?: boolean;
}

/** A network namespace owned by this process. */
export interface Netns {
  readonly name: string;
  /** `ip -n NAME ...`, checked. */
  ip(...args: string[]): Promise<string>;
  /** Runs a command inside the namespace (`ip netns exec`). */
  exec(command: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** Like exec, but throws unless the command exits 0; returns stdout. */
  execChecked(command: string, args: readonly string[], options?: RunOptions): Promise<string>;
  /** Starts a long-running command inside the namespace; remove() stops it. */
  spawn(command: string, args: readonly string[]): NetnsProcess;
  /** Moves a host interface into this namespace. */
  adoptLink(device: string): Promise<void>;
  /** Configures and brings up an interface inside this namespace. */
  configureLink(device: string, config?: LinkConfig): Promise<void>;
  /** Stops processes started here, deletes the namespace. Idempotent, never throws. */
  remove(): Promise<void>;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Lists namespace names (`ip netns list`). */
export async function listNetns(): Promise<string[]> {
  const out = await runChecked("ip", ["netns", "list"]);
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter((n) => n.length > 0);
}

async function deleteNetns(name: string): Promise<void> {
  const pids = await run("ip", ["netns", "pids", name], { timeoutMs: 5000 });
  for (const pid of pids.stdout
    .split(/\s+/)
    .map(Number)
    .filter((p) => Number.isInteger(p) && p > 0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await run("ip", ["netns", "del", name], { timeoutMs: 5000 });
}

/** Deletes namespaces named `${prefix}<pid>-<n>` whose owner pid no longer runs; returns their names. */
export async function sweepStaleNetns(prefix: string = NETNS_PREFIX): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await listNetns()) {
    if (!name.startsWith(prefix)) continue;
    const owner = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1]);
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && pidAlive(owner)) continue;
    if (owner === process.pid) continue;
    await deleteNetns(name);
    removed.push(name);
  }
  return removed;
}

/** Creates a namespace `${prefix}${pid}-${n}` with loopback up. */
export async function createNetns(prefix: string = NETNS_PREFIX): Promise<Netns> {
  const name = `${prefix}${process.pid}-${randomBytes(3).toString("hex")}`;
  await runChecked("ip", ["netns", "add", name]);
  const ns = netnsHandle(name);
  try {
    await ns.ip("link", "set", "lo", "up");
  } catch (e) {
    await ns.remove();
    throw e;
  }
  return ns;
}

/** Creates a namespace, runs fn, removes the namespace whatever happens. */
export async function withNetns<T>(fn: (ns: Netns) => Promise<T>, prefix: string = NETNS_PREFIX): Promise<T> {
  const ns = await createNetns(prefix);
  try {
    return await fn(ns);
  } finally {
    await ns.remove();
  }
}

function netnsHandle(name: string): Netns {
  const processes = new Set<NetnsProcess>();
  let removed = false;
  const guard = (): void => {
    if (removed) throw new NetnsError("NETNS_REMOVED", `namespace ${name} was removed`);
  };
  const ns: Netns = {
    name,
    ip: (...args) => {
      guard();
      return runChecked("ip", ["-n", name, ...args]);
    },
    exec: (command, args, options) => {
      guard();
      return run("ip", ["netns", "exec", name, command, ...args], options);
    },
    execChecked: (command, args, options) => {
      guard();
      return runChecked("ip", ["netns", "exec", name, command, ...args], options);
    },
    spawn(command, args) {
      guard();
      const child = spawn("ip", ["netns", "exec", name, command, ...args], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "",
        stderr = "";
      const listeners = new Set<() => void>();
      child.stdout!.setEncoding("utf8").on("data", (d: string) => {
        if (stdout.length < 1 << 20) stdout += d;
        listeners.forEach((l) => l());
      });
      child.stderr!.setEncoding("utf8").on("data", (d: string) => {
        if (stderr.length < 1 << 20) stderr += d;
        listeners.forEach((l) => l());
      });
      const exited = new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        child.once("exit", () => resolve());
        child.once("error", () => resolve());
      });
      let exitedFlag = false;
      void exited.then(() => {
        exitedFlag = true;
        listeners.forEach((l) => l());
      });
      const proc: NetnsProcess = {
        child,
        output: () => ({ stdout, stderr }),
        waitFor(pattern, timeoutMs = 5000) {
          return new Promise((resolve, reject) => {
            const check = (): void => {
              if (pattern.test(stdout) || pattern.test(stderr)) done(null);
              else if (exitedFlag) done(new NetnsError("NETNS_COMMAND_FAILED", `${command} exited before printing ${pattern}: ${stderr.trim()}`));
            };
            const timer = setTimeout(
              () => done(new NetnsError("NETNS_TIMEOUT", `${command} did not print ${pattern} within ${timeoutMs} ms: ${stderr.trim()}`)),
              timeoutMs,
            );
            const done = (e: Error | null): void => {
              clearTimeout(timer);
              listeners.delete(check);
              if (e) reject(e);
              else resolve();
            };
            listeners.add(check);
            check();
          });
        },
        async stop(signal = "SIGTERM", graceMs = 2000) {
          processes.delete(proc);
          if (!exitedFlag) {
            child.kill(signal);
            const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
            await exited;
            clearTimeout(timer);
          }
        },
      };
      processes.add(proc);
      return proc;
    },
    async adoptLink(device) {
      guard();
      await runChecked("ip", ["link", "set", device, "netns", name]);
    },
    async configureLink(device, config = {}) {
      guard();
      if (config.disableIpv6 ?? true) {
        await runChecked("ip", ["netns", "exec", name, "sysctl", "-qw", `net.ipv6.conf.${device}.disable_ipv6=1`]);
      }
      if (config.mtu !== undefined) await ns.ip("link", "set", device, "mtu", String(config.mtu));
      for (const address of config.addresses ?? []) await ns.ip("addr", "add", address, "dev", device);
      if (config.offloadsOff) {
        await run("ip", ["netns", "exec", name, "ethtool", "-K", device, "tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off"]);
      }
      await ns.ip("link", "set", device, "up");
    },
    async remove() {
      if (removed) return;
      removed = true;
      await Promise.all([...processes].map((p) => p.stop("SIGTERM", 1000)));
      processes.clear();
      await deleteNetns(name);
    },
  };
  return ns;
}
