// `netlab drill`: runs packetdrill scripts against netlab's stack (virtual time) and/or the
// Linux kernel (a tap in a namespace; harness/drill/kernel-target.ts, loaded lazily, root only).
// Exit codes: 0 all pass or skip, 1 a script failed, 2 usage error, malformed script or a
// target that cannot run here.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { choice, flagReader, formatCliError, helpText, parseCommandLine, parseInteger } from "../args.ts";
import type { DrillResult, DrillScript, DrillTarget } from "../../drill/model.ts";
import { createNetlabDrillTarget } from "../../drill/netlab-target.ts";
import { formatParseError, parseDrillScript } from "../../drill/parser.ts";

export const summary = "run packetdrill scripts against netlab (virtual time) and/or the Linux kernel";

const USAGE = "usage: netlab drill [--target netlab|kernel|both] [--ip-version 4|6|mapped] [--tolerance-usecs N] [--json] [--pcap DIR] FILE|DIR...";

/** The command line of `netlab drill` (args.ts's rules). */
const DRILL_SPEC = {
  command: "drill",
  usage: `${USAGE}\n  --target T           where the scripts run (default netlab)\n  --ip-version V        4, 6 or mapped (AF_INET6 sockets with IPv4-mapped addresses over IPv4): the IP version of scripts without a --ip_version=ipv4|ipv6|ipv4-mapped-ipv6 header option (default 4)\n  --tolerance-usecs N  timing tolerance in microseconds (default 4000)\n`,
  options: {
    target: { type: "string" },
    "ip-version": { type: "string" },
    "tolerance-usecs": { type: "string" },
    json: { type: "boolean" },
    pcap: { type: "string" },
  },
  positionals: { min: 1, max: Number.POSITIVE_INFINITY, name: "a script (FILE or DIR)" },
} as const;

/** Every .pkt file under the given paths (directories: their *.pkt files, sorted). */
function collect(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const p of paths) {
    if (statSync(p).isDirectory()) {
      for (const name of readdirSync(p).sort()) if (name.endsWith(".pkt")) files.push(join(p, name));
    } else {
      files.push(p);
    }
  }
  return files;
}

async function kernelTarget(): Promise<DrillTarget | string> {
  const path = "../../drill/kernel-target.ts";
  let mod: { createKernelDrillTarget?: () => Promise<DrillTarget> };
  try {
    mod = (await import(path)) as typeof mod;
  } catch (e) {
    return `the kernel target is not available in this build (${(e as Error).message})`;
  }
  if (typeof mod.createKernelDrillTarget !== "function") return "the kernel target module has no createKernelDrillTarget()";
  try {
    return await mod.createKernelDrillTarget();
  } catch (e) {
    return `the kernel target cannot run here: ${(e as Error).message}`;
  }
}

/** Runs the command. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandLine(DRILL_SPEC, args);
  if (help) {
    process.stdout.write(helpText(DRILL_SPEC));
    return 0;
  }
  const get = flagReader(DRILL_SPEC.command, values);
  const target = get("target", choice("netlab", "kernel", "both")) ?? "netlab";
  const toleranceUsecs = get("tolerance-usecs", (t) => parseInteger(t, 0)) ?? 4000;
  const v = get("ip-version", choice("4", "6", "mapped"));
  const ipVersion: 4 | 6 | "mapped" = v === "6" ? 6 : v === "mapped" ? "mapped" : 4;
  let files: string[];
  try {
    files = collect(positionals);
  } catch (e) {
    process.stderr.write(`${formatCliError(DRILL_SPEC.command, e)}\n`);
    return 2;
  }
  const scripts: DrillScript[] = [];
  const sources = new Map<string, string[]>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      process.stderr.write(`${formatCliError(DRILL_SPEC.command, e)}\n`);
      return 2;
    }
    const r = parseDrillScript(text, file);
    if (!r.ok) {
      process.stderr.write(`${formatParseError(r.error)}\n`);
      return 2;
    }
    scripts.push(r.value);
    sources.set(file, text.split("\n"));
  }

  const targets: DrillTarget[] = [];
  if (target === "netlab" || target === "both") targets.push(createNetlabDrillTarget());
  if (target === "kernel" || target === "both") {
    const k = await kernelTarget();
    if (typeof k === "string") {
      process.stderr.write(`netlab drill: [KERNEL_TARGET_UNAVAILABLE] ${k}\n`);
      return 2;
    }
    targets.push(k);
  }

  const options = { toleranceUsecs, ipVersion, scriptTimeoutMs: 10 * 60_000, ...(values.pcap === undefined ? {} : { pcapDir: values.pcap }) };
  const results: DrillResult[] = [];
  try {
    for (const script of scripts) {
      for (const t of targets) {
        const r = await t.run(script, options);
        results.push(r);
        if (!values.json) process.stdout.write(formatRow(r, sources.get(r.file)));
      }
    }
  } finally {
    for (const t of targets) await t.close();
  }

  const failed = results.filter((r) => r.result === "fail").length;
  if (values.json) {
    const out = {
      ok: failed === 0,
      scripts: results.map((r) => ({
        path: r.file,
        target: r.target,
        result: r.result,
        ...(r.reason === undefined ? {} : { reason: r.reason }),
        ...(r.pos === undefined ? {} : { line: r.pos.line }),
        ...(r.pcap === undefined ? {} : { pcap: r.pcap }),
        durationMs: Math.round(r.durationMs),
      })),
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } else {
    for (const t of targets) {
      const mine = results.filter((r) => r.target === t.name);
      const count = (k: DrillResult["result"]): number => mine.filter((r) => r.result === k).length;
      const ms = mine.reduce((a, r) => a + r.durationMs, 0);
      process.stdout.write(
        `${t.name}: ${mine.length} scripts, ${count("pass")} ok, ${count("fail")} failed, ${count("skip")} skipped (${Math.round(ms)} ms)\n`,
      );
    }
    if (targets.length === 2) {
      const differ = scripts.filter((s) => {
        const [a, b] = targets.map((t) => results.find((r) => r.file === s.file && r.target === t.name)?.result);
        return a !== b;
      });
      for (const s of differ) {
        const row = targets.map((t) => `${t.name} ${results.find((r) => r.file === s.file && r.target === t.name)?.result ?? "?"}`).join(", ");
        process.stdout.write(`differs: ${s.file}: ${row}\n`);
      }
    }
  }
  return failed > 0 ? 1 : 0;
}

function formatRow(r: DrillResult, lines: readonly string[] | undefined): string {
  const word = r.result === "pass" ? "ok" : r.result === "fail" ? "FAIL" : "skip";
  let line = `${word.padEnd(5)} ${r.target.padEnd(7)} ${r.file}`;
  if (r.reason !== undefined) {
    const where = r.pos === undefined ? "" : `${r.pos.file}:${r.pos.line}: `;
    const text = r.pos === undefined ? undefined : lines?.[r.pos.line - 1]?.trim();
    line += `\n      ${where}${text === undefined ? "" : `${text}\n      `}${r.reason.replaceAll("\n", "\n      ")}`;
  }
  if (r.pcap !== undefined) line += `\n      capture: ${r.pcap}`;
  return `${line}\n`;
}
