// Replays saved inputs through a bundled fuzz target in a child process, with a per-input time
// limit enforced from outside: a synchronous livelock cannot be stopped from inside the process
// (nor by vitest's timeout), so the parent kills the child, reports the input that hung and
// goes on with the next one in a fresh child. One child replays all inputs of a target and
// announces each input before running it, so the parent always knows which input is running.
// Also the harness source shared by every engine (Jazzer.js, jsfuzz, repro, replay): it turns a
// stray promise rejection or a process.exit() inside the target into a finding of that input.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/**
 * Jazzer.js (4.x) instruments a CommonJS module with a call per edge,
 * `Fuzzer.coverageTracker.incrementCounter(id)`, whose body reads and writes the counter through
 * Buffer.readUint8/writeUint8 (argument checks on every edge): a third of a parser target's time.
 * Before the target loads, the harness gives the tracker an equivalent method that indexes the
 * same counter map directly, with the same NeverZero rule (255 wraps to 1, as Jazzer.js's own
 * ES-module instrumentation writes `(c % 255) + 1` inline). The same edges count the same way;
 * without Jazzer.js (replay, jsfuzz) there is no tracker and nothing changes.
 */
const FAST_EDGE_COUNTER = `{
  const tracker = typeof Fuzzer === "object" && Fuzzer !== null ? Fuzzer.coverageTracker : undefined;
  const map = tracker === undefined ? undefined : tracker.coverageMap;
  if (map instanceof Uint8Array && typeof tracker.incrementCounter === "function") {
    tracker.incrementCounter = function incrementCounter(id) {
      const c = map[id];
      map[id] = c === 255 ? 1 : c + 1;
    };
  }
}`;

/**
 * CommonJS source of a module exporting `fuzz` that runs the target bundle's `fuzz` under the
 * harness's rules: a process.exit() call throws, an unhandled rejection raised while the input
 * runs (async mode: until the next macrotask) fails that input. Sync mode returns synchronously
 * (Jazzer.js --sync): a rejection is then only seen by the replay, which always waits a turn.
 * `specifier` is what the module require()s (default: the bundle's absolute path).
 */
export function harnessSource(bundle: string, mode: "sync" | "async", specifier = path.resolve(bundle)): string {
  return `"use strict";
${FAST_EDGE_COUNTER}
const target = require(${JSON.stringify(specifier)});
const realExit = process.exit;
let rejected;
process.on("unhandledRejection", (e) => { if (rejected === undefined) rejected = e === undefined ? new Error("unhandled rejection (undefined)") : e; });
function guardExit(code) { throw new Error("fuzz target called process.exit(" + code + ")"); }
function takeRejection() {
  if (rejected === undefined) return;
  const e = rejected; rejected = undefined;
  throw e instanceof Error ? e : new Error("unhandled rejection: " + String(e));
}
exports.takeRejection = takeRejection;
// Prototype pollution, checked after every input in place of Jazzer.js's detector (which copies
// every property of six prototypes per input, a fifth of a fast target's time): after every input
// the basic prototypes have no enumerable property (what an assignment through __proto__ or
// constructor.prototype adds); every 64th input their data properties keep their values and their
// property lists their length (a replaced built-in, a new non-enumerable property: reported by the
// input that finds it, within 64 of the one that did it).
const BASIC = [["Object", Object.prototype], ["Array", Array.prototype], ["String", String.prototype], ["Number", Number.prototype], ["Boolean", Boolean.prototype], ["Function", Function.prototype]];
const SNAPSHOT = BASIC.map(([, p]) => {
  const all = Object.getOwnPropertyNames(p);
  const names = all.filter((n) => { const d = Object.getOwnPropertyDescriptor(p, n); return d !== undefined && "value" in d; });
  return { count: all.length, names, values: names.map((n) => p[n]) };
});
let pollutionChecks = 0;
function checkPrototypes() {
  for (let i = 0; i < BASIC.length; i++) for (const k in BASIC[i][1]) throw new Error("Prototype Pollution: " + BASIC[i][0] + ".prototype." + k + " was added");
  if ((++pollutionChecks & 63) !== 0) return;
  for (let i = 0; i < BASIC.length; i++) {
    const [name, p] = BASIC[i], snap = SNAPSHOT[i];
    for (let j = 0; j < snap.names.length; j++) {
      if (p[snap.names[j]] !== snap.values[j]) throw new Error("Prototype Pollution: " + name + ".prototype." + snap.names[j] + " was changed (within the last 64 inputs)");
    }
    if (Object.getOwnPropertyNames(p).length !== snap.count) throw new Error("Prototype Pollution: " + name + ".prototype has new properties (within the last 64 inputs)");
  }
}
exports.checkPrototypes = checkPrototypes;
${
  mode === "async"
    ? `exports.fuzz = async function fuzz(data) {
  process.exit = guardExit;
  try {
    await target.fuzz(data);
    await new Promise((resolve) => setImmediate(resolve));
  } finally { process.exit = realExit; }
  takeRejection();
  checkPrototypes();
};`
    : `exports.fuzz = function fuzz(data) {
  process.exit = guardExit;
  let r;
  try { r = target.fuzz(data); } finally { process.exit = realExit; }
  if (r !== null && typeof r === "object" && typeof r.then === "function") {
    r.then(undefined, () => {});
    throw new Error("fuzz target returned a Promise in sync mode (export const mode = \\"async\\")");
  }
  takeRejection();
  checkPrototypes();
};`
}
`;
}

/** One input to replay: a label (its path, usually) and its bytes (or a file to read). */
export interface ReplayInput {
  readonly label: string;
  readonly file?: string;
  readonly data?: Uint8Array;
}

/** What one input did on replay. */
export interface ReplayOutcome {
  readonly label: string;
  readonly ok: boolean;
  /** Wall time of the input (for a timeout: the limit). */
  readonly ms: number;
  readonly kind?: "crash" | "timeout" | "exit";
  readonly error?: string;
}

const CHILD = `"use strict";
const fs = require("fs");
const [, , harnessFile, listFile] = process.argv;
const list = JSON.parse(fs.readFileSync(listFile, "utf8"));
const first = Number(process.env.NETLAB_REPLAY_FIRST || 0);
const say = (s) => fs.writeSync(3, s + "\\n");
const h = require(harnessFile);
(async () => {
  for (let i = first; i < list.length; i++) {
    const x = list[i];
    const data = x.file !== undefined ? fs.readFileSync(x.file) : Buffer.from(x.hex, "hex");
    say("start " + i);
    const t0 = performance.now();
    try {
      await h.fuzz(data);
      await new Promise((r) => setImmediate(r));
      if (h.takeRejection) h.takeRejection();
      say("ok " + i + " " + (performance.now() - t0).toFixed(2));
    } catch (e) {
      say("fail " + i + " " + (performance.now() - t0).toFixed(2) + " " + JSON.stringify(String((e && e.stack) || e)));
    }
  }
  say("done");
})();
`;

/**
 * Replays `inputs` through `bundle` in a child process (a fresh one after an input that hangs or
 * ends the process), each input within `timeoutMs` counted from the moment the child starts it
 * (module loading excluded). Resolves with one outcome per input, in order.
 */
export async function replayInputs(
  bundle: string,
  mode: "sync" | "async",
  inputs: readonly ReplayInput[],
  options: { timeoutMs?: number; startupTimeoutMs?: number; workDir?: string; onOutcome?: (o: ReplayOutcome, index: number) => void } = {},
): Promise<ReplayOutcome[]> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const startupMs = options.startupTimeoutMs ?? 60_000;
  if (options.workDir !== undefined) mkdirSync(options.workDir, { recursive: true });
  const work = mkdtempSync(path.join(options.workDir ?? tmpdir(), "netlab-replay-"));
  try {
    const harnessFile = path.join(work, "harness.cjs");
    const childFile = path.join(work, "child.cjs");
    const listFile = path.join(work, "inputs.json");
    writeFileSync(harnessFile, harnessSource(bundle, mode));
    writeFileSync(childFile, CHILD);
    writeFileSync(listFile, JSON.stringify(inputs.map((x) => (x.data !== undefined ? { hex: Buffer.from(x.data).toString("hex") } : { file: x.file }))));
    const outcomes: ReplayOutcome[] = [];
    const record = (o: ReplayOutcome): void => {
      options.onOutcome?.(o, outcomes.length);
      outcomes.push(o);
    };
    while (outcomes.length < inputs.length) {
      const first = outcomes.length;
      await new Promise<void>((resolve) => {
        const child = spawn(process.execPath, [childFile, harnessFile, listFile], {
          stdio: ["ignore", "ignore", "pipe", "pipe"],
          env: { NETLAB_FUZZ_CHECK_ALL: "1", ...process.env, NETLAB_REPLAY_FIRST: String(first) },
          detached: true,
        });
        let running: number | undefined,
          runningSince = 0,
          stderr = "",
          pending = "",
          settled = false;
        const kill = (): void => {
          try {
            if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
          } catch {
            /* gone */
          }
        };
        let timer = setTimeout(() => {
          timedOut(startupMs, "start-up");
        }, startupMs);
        const arm = (ms: number): void => {
          clearTimeout(timer);
          timer = setTimeout(() => {
            timedOut(ms, "input");
          }, ms);
        };
        const finish = (): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          kill();
          resolve();
        };
        const timedOut = (ms: number, what: string): void => {
          if (running !== undefined)
            record({ label: inputs[running]!.label, ok: false, ms, kind: "timeout", error: `no result within ${ms} ms (killed from outside)` });
          else if (outcomes.length < inputs.length)
            record({
              label: inputs[outcomes.length]!.label,
              ok: false,
              ms,
              kind: "timeout",
              error: `replay child did not start within ${ms} ms (${what})\n${stderr.slice(-2000)}`,
            });
          finish();
        };
        child.stderr!.on("data", (c: Buffer) => {
          stderr = (stderr + c.toString("utf8")).slice(-8000);
        });
        (child.stdio[3] as NodeJS.ReadableStream).on("data", (c: Buffer) => {
          pending += c.toString("utf8");
          let nl: number;
          while ((nl = pending.indexOf("\n")) >= 0) {
            const line = pending.slice(0, nl);
            pending = pending.slice(nl + 1);
            const m = /^(start|ok|fail) (\d+)(?: ([\d.]+))?(?: (.*))?$/.exec(line);
            if (line === "done") {
              finish();
              return;
            }
            if (m === null) continue;
            const i = Number(m[2]);
            if (m[1] === "start") {
              running = i;
              runningSince = performance.now();
              arm(timeoutMs);
              continue;
            }
            running = undefined;
            const ms = Number(m[3]);
            record(
              m[1] === "ok"
                ? { label: inputs[i]!.label, ok: true, ms }
                : { label: inputs[i]!.label, ok: false, ms, kind: "crash", error: JSON.parse(m[4] ?? '""') as string },
            );
            arm(startupMs);
          }
        });
        child.on("close", (code, signal) => {
          if (settled) return;
          // The child ended on its own (process.exit outside the guard, a fatal error): the running input's finding.
          const i = running ?? outcomes.length;
          if (i < inputs.length && outcomes.length <= i) {
            record({
              label: inputs[i]!.label,
              ok: false,
              ms: running === undefined ? 0 : performance.now() - runningSince,
              kind: "exit",
              error: `replay child exited (${signal ?? `code ${code}`}) while running this input\n${stderr.slice(-2000)}`,
            });
          }
          finish();
        });
      });
    }
    return outcomes;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
