// Test helper for the Ctrl-C contract of long runs (run-control.ts): starts `netlab ARGS` as a
// child process, waits until `readyLines` lines of its stderr match `ready` (the run is under
// way), lets it run a little longer, sends `signal`, and gives back what it printed, its exit
// status and how long it took to exit after the signal.
//   interruptCli(args, options)   the child's pid, exit status, stdout and stderr
import { spawn } from "node:child_process";
import { join } from "node:path";

/** What interruptCli saw. */
export interface InterruptedRun {
  readonly pid: number;
  /** The exit status (null when a signal killed it, which the contract forbids). */
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Whether `ready` appeared before the timeout (the signal is sent either way). */
  readonly ready: boolean;
  /** Stderr lines that matched `ready`, in the end. */
  readonly readyLines: number;
  /** Wall ms from the signal to the exit. */
  readonly exitMs: number;
}

/** Options of interruptCli. */
export interface InterruptOptions {
  /** A stderr line that says the run is under way (a progress line) ... */
  readonly ready: RegExp;
  /** ... seen this many times [1]. */
  readonly readyLines?: number;
  readonly signal: "SIGINT" | "SIGTERM";
  /** Wall ms to wait after `ready` before the signal [0]. */
  readonly afterMs?: number;
  /** Give up waiting for `ready` after this long [30 s]. */
  readonly readyTimeoutMs?: number;
  /** Called with the child's pid once `ready` matched, before the signal (e.g. to note its children). */
  readonly beforeSignal?: (pid: number) => void | Promise<void>;
  readonly cwd?: string;
}

const CLI = join(import.meta.dirname, "../../bin/netlab.mjs");

/** Runs `netlab ARGS`, interrupts it with `signal` once under way, and waits for its exit. */
export async function interruptCli(args: readonly string[], o: InterruptOptions): Promise<InterruptedRun> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"], ...(o.cwd === undefined ? {} : { cwd: o.cwd }) });
  let stdout = "",
    stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const started = Date.now();
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const count = (): number => stderr.split("\n").filter((l) => o.ready.test(l)).length;
  const want = o.readyLines ?? 1;
  while (count() < want && !gone && Date.now() - started < (o.readyTimeoutMs ?? 30_000)) await new Promise((r) => setTimeout(r, 50));
  const ready = count() >= want;
  if (ready && !gone) {
    await new Promise((r) => setTimeout(r, o.afterMs ?? 0));
    await o.beforeSignal?.(child.pid!);
  }
  const signalled = Date.now();
  if (!gone) child.kill(o.signal);
  const status = await exited;
  return { pid: child.pid!, status, stdout, stderr, ready, readyLines: count(), exitMs: Date.now() - signalled };
}
