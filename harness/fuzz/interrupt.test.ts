// `netlab fuzz` interrupted, under both engines and by both signals: a short campaign on a fast
// target (dhcp-message) into a temporary corpora folder, the signal sent once the engine has
// printed its first stats line. It must save the new corpus entries, remove its scratch folders,
// leave no engine process (nor any process of the engine's process group) behind, print the
// summary and exit 130 / 143.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { interruptCli } from "../cli/interrupt-testing.ts";
import { chooseEngine, defaultFuzzPaths, engineWroteWhole } from "./runner.ts";
import { createHash } from "node:crypto";

const ROOT = join(import.meta.dirname, "../..");
const DIR = mkdtempSync(join(tmpdir(), "netlab-fuzz-int-"));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));
const JAZZER = (await chooseEngine(defaultFuzzPaths(ROOT))).engine === "jazzer";

interface Proc {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  /** R, S, D, ... or Z: ended, its exit status not yet collected (by init, for an orphan). */
  readonly state: string;
  readonly cmdline: string;
}

/** Every process on the machine, from /proc (those that end while being read are left out). */
function processes(): Proc[] {
  const out: Proc[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ')'.
      const [state, ppid, pgid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ");
      out.push({ pid: Number(entry), ppid: Number(ppid), pgid: Number(pgid), state: state!, cmdline });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** The processes below `pid` (children, their children, ...). */
function descendants(pid: number): Proc[] {
  const all = processes();
  const found: Proc[] = [];
  const parents = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all)
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid);
        found.push(p);
        grew = true;
      }
  }
  return found;
}

async function interruptedCampaign(engine: "jazzer" | "jsfuzz", signal: "SIGINT" | "SIGTERM") {
  const base = join(DIR, `${engine}-${signal}`);
  const corpora = join(base, "corpora");
  const build = join(base, "build");
  mkdirSync(corpora, { recursive: true });
  let engineProcs: Proc[] = [];
  const run = await interruptCli(
    ["fuzz", "--engine", engine, "--target", "dhcp-message", "--time", "300", "--no-properties", "--no-distill", "--corpora", corpora, "--build-dir", build],
    {
      ready: /^dhcp-message: \d+ execs/,
      signal,
      afterMs: 1500,
      readyTimeoutMs: 90_000,
      beforeSignal: (pid) => {
        engineProcs = descendants(pid).filter((p) => /jazzer\.js\/core\/dist\/cli\.js|jsfuzz\/build\/src\//.test(p.cmdline));
      },
    },
  );
  return { run, engineProcs, corpus: join(corpora, "dhcp-message"), build };
}

/** The checks, for one engine and signal. */
async function expectCleanStop(engine: "jazzer" | "jsfuzz", signal: "SIGINT" | "SIGTERM", status: number): Promise<void> {
  const { run, engineProcs, corpus, build } = await interruptedCampaign(engine, signal);
  expect(run.ready, `${engine}: no stats line in\n${run.stderr}`).toBe(true);
  expect(run.status, `${engine}\n${run.stderr}`).toBe(status);
  // The engine ran below netlab in its own process group (jsfuzz: a fuzzer and its forked worker).
  expect(engineProcs.length).toBeGreaterThanOrEqual(engine === "jsfuzz" ? 2 : 1);
  const groups = new Set(engineProcs.map((p) => p.pgid));
  expect(groups.has(run.pid)).toBe(false);
  // None of them, and nothing else in their process groups, outlives the run. A SIGKILLed orphan
  // (jsfuzz's worker) may still be listed for a moment as a zombie, ended but not yet collected by
  // init: that is no process left running. A second's grace for the kernel to finish the kills.
  const alive = (): Proc[] => processes().filter((p) => p.state !== "Z" && (engineProcs.some((e) => e.pid === p.pid) || groups.has(p.pgid)));
  for (let i = 0; i < 20 && alive().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  expect(alive()).toEqual([]);
  expect(run.stderr).toContain(`fuzz: ${signal}, stopping the engines and saving what they found`);
  expect(run.stdout).toContain(`interrupted (${signal}) after 1 run(s); new corpus entries saved, distillation and properties skipped`);
  // The summary's corpus column, "files (+new)", is what the corpora folder holds.
  // (executions and exec/s are written with the SI formatter: 950, 12.3k)
  const row = /^dhcp-message\s+(?:sync|async)\s+([\d.]+)(k|M)?\s+[\d.]+[kM]?\s+\d+→\d+\s+(\d+) \(\+(\d+)\)\s+none$/m.exec(run.stdout);
  expect(row, run.stdout).not.toBeNull();
  const execs = Number(row![1]) * (row![2] === "M" ? 1e6 : row![2] === "k" ? 1e3 : 1);
  const [files, added] = [Number(row![3]), Number(row![4])];
  expect(execs).toBeGreaterThan(0);
  expect(added).toBeGreaterThan(0);
  expect(readdirSync(corpus).filter((f) => f !== "regressions").length).toBe(files);
  // Scratch folders (the run's copy of the corpus, artifacts, the engine probe) are removed; the bundle stays.
  expect(readdirSync(build).filter((f) => /^(run|jazzer-probe|replay)-/.test(f))).toEqual([]);
  expect(existsSync(join(build, "dhcp-message.cjs"))).toBe(true);
}

// The two run side by side (each is mostly the engine's start-up).
describe.concurrent("netlab fuzz interrupted", () => {
  it.skipIf(!JAZZER)(
    `SIGINT under Jazzer.js: new corpus entries saved, scratch folders gone, no engine process left, the summary, exit 130${JAZZER ? "" : " (skipped: Jazzer.js does not load here)"}`,
    () => expectCleanStop("jazzer", "SIGINT", 130),
    150_000,
  );
  it("SIGTERM under jsfuzz (which ignores SIGINT and forks a worker): the same, exit 143", () => expectCleanStop("jsfuzz", "SIGTERM", 143), 150_000);

  it("a corpus file an engine was killed while writing (its bytes no longer hash to its name) is not saved; others are", () => {
    const input = Uint8Array.from([1, 2, 3, 4]);
    const sha1 = createHash("sha1").update(input).digest("hex");
    const sha256 = createHash("sha256").update(input).digest("hex");
    expect(engineWroteWhole(sha1, input)).toBe(true);
    expect(engineWroteWhole(sha256, input)).toBe(true);
    expect(engineWroteWhole(sha1, input.subarray(0, 2))).toBe(false);
    expect(engineWroteWhole(sha256, new Uint8Array(0))).toBe(false);
    expect(engineWroteWhole("seed-request-1", new Uint8Array(0))).toBe(true);
  });

  it("a campaign (--hours) ended by SIGTERM keeps its state for resuming, removes its scratch folders and exits 143", async () => {
    const base = join(DIR, "campaign");
    const build = join(base, "build");
    mkdirSync(join(base, "corpora"), { recursive: true });
    const run = await interruptCli(
      ["fuzz", "--hours", "1", "--time", "60", "--engine", "jsfuzz", "--target", "dhcp-message", "--corpora", join(base, "corpora"), "--build-dir", build],
      { ready: /^dhcp-message: \d+ execs/, signal: "SIGTERM", afterMs: 1000, readyTimeoutMs: 90_000 },
    );
    expect(run.status, run.stderr).toBe(143);
    expect(run.stderr).toContain("campaign: SIGTERM, stopping the running slice(s)");
    expect(run.stdout).toMatch(/^campaign interrupted \(run the same command to resume\)/m);
    const state = JSON.parse(readFileSync(join(build, "campaign.json"), "utf8")) as { done: boolean; slices: unknown[]; targets: string[] };
    expect(state).toMatchObject({ done: false, targets: ["dhcp-message"] });
    expect(state.slices.length).toBe(1);
    expect(readdirSync(build).filter((f) => /^(run|jazzer-probe|replay)-/.test(f))).toEqual([]);
  }, 150_000);
});
