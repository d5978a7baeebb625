// harness/replay: pcap replay regression tests. A capture (classic pcap, pcapng, either
// gzip-compressed) with its expectation file (<name>.expect.json beside it) is replayed in the
// modes the expectation lists: decode (decode.ts), conversation (conversation.ts), golden
// (golden.ts). Reports (report.ts) name frame, field, expected and got, and where netlab's side
// was written (out/replay/...).
//   replayFile(path, options)  one capture -> FileReport (never throws for bad files: error set)
//   replayAll(dir, options)    every *.expect.json in dir -> FileReport[]
//   expectationPathFor(path)   pcaps/x.pcapng.gz -> pcaps/x.expect.json
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { readCaptureFile } from "../pcap/files.ts";
import type { ParsedCapture } from "../../stack/link/pcap/index.ts";
import { formatIpv4, formatMac, parseIpv4Address, parseMac } from "../../stack/wire/index.ts";
import { decodeCapture, summariseLayers } from "./decode.ts";
import { parseExpectation, NORMALISATIONS, type Expectation, type ReplayMode } from "./expect.ts";
import { replayConversation } from "./conversation.ts";
import { replayGolden } from "./golden.ts";
import type { FileReport, ModeReport, ReplayDiff } from "./report.ts";
import type { ScenarioOverrides } from "./scenarios.ts";
import { dissect } from "./compare.ts";

export { formatReport, type FileReport, type ModeReport, type ReplayDiff } from "./report.ts";
export { parseExpectation, type Expectation, type ReplayMode } from "./expect.ts";

/** Options of replayFile. */
export interface ReplayOptions {
  /** Only this mode (default: the expectation's modes, or decode without one). */
  readonly mode?: ReplayMode;
  /** The endpoint netlab plays (IP or MAC); must agree with the expectation when there is one. */
  readonly as?: string;
  /** Golden: rewrite the committed capture. */
  readonly update?: boolean;
  /** Where netlab's side is written (default out/replay). */
  readonly outDir?: string;
  /** Golden: deliberate behaviour changes (tests). */
  readonly overrides?: ScenarioOverrides;
  /** Replace the expectation (tests: a changed configuration). */
  readonly expectation?: Expectation;
  readonly maxDiffs?: number;
}

const CAPTURE_SUFFIX = /\.(pcapng|pcap)(\.gz)?$/;

/** The expectation file that belongs to a capture. */
export function expectationPathFor(capturePath: string): string {
  return join(dirname(capturePath), `${basename(capturePath).replace(CAPTURE_SUFFIX, "")}.expect.json`);
}

function failed(capture: string, code: string, message: string, expectation?: string): FileReport {
  return { capture, ...(expectation !== undefined ? { expectation } : {}), ok: false, error: { code, message }, modes: [] };
}

function decodeMode(capture: ParsedCapture, exp: Expectation | undefined): ModeReport {
  const started = performance.now();
  const report = decodeCapture(
    capture.packets.map((p) => p.data),
    capture.packets.map((p) => capture.interfaces[p.interfaceId]?.linkType ?? -1),
  );
  const diffs: ReplayDiff[] = [];
  const want = exp?.decode;
  if (want !== undefined) {
    if (want.frames !== report.frames) diffs.push({ frame: -1, field: "decode.frames", expected: String(want.frames), got: String(report.frames) });
    for (const [table, wantCounts, gotCounts] of [
      ["errors", want.errors, report.errors],
      ["reemitMismatches", want.reemitMismatches, report.reemitMismatches],
    ] as const) {
      for (const k of new Set([...Object.keys(wantCounts), ...Object.keys(gotCounts)])) {
        if ((wantCounts[k] ?? 0) !== (gotCounts[k] ?? 0))
          diffs.push({ frame: -1, field: `decode.${table}.${k}`, expected: String(wantCounts[k] ?? 0), got: String(gotCounts[k] ?? 0) });
      }
    }
  }
  // The frames behind each count that differs (or, without an expectation, every re-emit mismatch).
  const differing = new Set(diffs.map((d) => d.field));
  const details: ReplayDiff[] = [];
  report.perFrame.forEach((d, i) => {
    if (details.length >= 20) return;
    if (d.status === "reemit-mismatch" && (want === undefined || differing.has(`decode.reemitMismatches.${d.layer}`))) {
      details.push({
        frame: i,
        captureFrame: i + 1,
        field: `${d.layer} re-emit byte ${d.offset}`,
        expected: `0x${d.expected.toString(16)}`,
        got: d.got < 0 ? "(end)" : `0x${d.got.toString(16)}`,
        expectedFrame: summariseLayers(d),
      });
    } else if (d.status === "error" && differing.has(`decode.errors.${d.errorClass}`)) {
      details.push({ frame: i, captureFrame: i + 1, field: "decode", expected: "(parses)", got: `${d.errorClass}${d.detail ? ` (${d.detail})` : ""}` });
    }
  });
  diffs.push(...details);
  const errs = Object.entries(report.errors)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  const mism = Object.entries(report.reemitMismatches)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  const ok = want !== undefined ? diffs.length === 0 : Object.keys(report.reemitMismatches).length === 0;
  return {
    mode: "decode",
    ok,
    frames: report.frames,
    diffs,
    diffCount: diffs.length,
    summary: `${report.ok}/${report.frames} frames parse and re-emit byte-identical${errs ? `; classified: ${errs}` : ""}${mism ? `; re-emit mismatches: ${mism}` : ""}`,
    durationMs: performance.now() - started,
  };
}

/** Builds an ad-hoc expectation for `--as` on a capture without an expectation file. */
function adHocExpectation(capture: ParsedCapture, as: string, path: string): Expectation | string {
  const mac = parseMac(as),
    ip = parseIpv4Address(as);
  for (const p of capture.packets) {
    const d = dissect(p.data);
    const src = d.fields.get("ipv4.src") ?? d.fields.get("arp.sender-ip");
    const srcMac = d.fields.get("eth.src");
    if ((mac.ok && srcMac === formatMac(mac.value)) || (ip.ok && src === formatIpv4(ip.value))) {
      if (typeof src !== "string" || typeof srcMac !== "string") continue;
      const first = capture.packets[0]!;
      // A capture taken on several interfaces (netlab's own: every frame seen leaving one host
      // and reaching another) is no single peer's view of one conversation: decode only.
      const oneView = capture.interfaces.length <= 1;
      return {
        capture: basename(path),
        description: `ad hoc: netlab as ${srcMac} ${src}${oneView ? "" : ` (decode only: the capture has ${capture.interfaces.length} interfaces)`}`,
        source: "kernel",
        modes: oneView ? ["decode", "conversation"] : ["decode"],
        decode: { frames: capture.packets.length, errors: {}, reemitMismatches: {} },
        endpoint: { mac: srcMac, cidr: `${src}/24`, seed: 1, apps: [] },
        conversation: { clockStartMs: 0, epochMs: first.timestampMs, normalise: [...NORMALISATIONS], tsToleranceMs: 2, tailMs: 0 },
      };
    }
  }
  return `no frame in the capture is sent by ${as}`;
}

function endpointMatches(exp: Expectation, as: string): boolean {
  const ep = exp.endpoint;
  if (ep === undefined) return false;
  const mac = parseMac(as),
    epMac = parseMac(ep.mac);
  if (mac.ok) return epMac.ok && mac.value === epMac.value;
  return ep.cidr !== undefined && ep.cidr.split("/")[0] === as;
}

/** Replays one capture. Bad files give a report with `error` (codes ERR_REPLAY_*), not an exception. */
export async function replayFile(path: string, options: ReplayOptions = {}): Promise<FileReport> {
  const outDir = options.outDir ?? "out/replay";
  const creating = !existsSync(path) && options.update === true && existsSync(expectationPathFor(path));
  if (!existsSync(path) && !creating) return failed(path, "ERR_REPLAY_NO_FILE", `${path}: no such file`);
  let capture: ParsedCapture = { format: "pcapng", byteOrder: "little", interfaces: [], packets: [], skippedBlocks: 0 };
  if (!creating)
    try {
      const r = readCaptureFile(path);
      if (!r.ok) return failed(path, "ERR_REPLAY_BAD_CAPTURE", r.detail);
      capture = r.value;
    } catch (e) {
      return failed(path, "ERR_REPLAY_IO", (e as Error).message);
    }
  const expPath = expectationPathFor(path);
  let exp = options.expectation;
  if (exp === undefined && existsSync(expPath)) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(expPath, "utf8"));
    } catch (e) {
      return failed(path, "ERR_REPLAY_BAD_EXPECTATION", `${expPath}: ${(e as Error).message}`, expPath);
    }
    const r = parseExpectation(json);
    if (!r.ok) return failed(path, "ERR_REPLAY_BAD_EXPECTATION", `${expPath}: ${r.detail}`, expPath);
    exp = r.value;
  }
  if (options.as !== undefined) {
    if (exp === undefined) {
      const adHoc = adHocExpectation(capture, options.as, path);
      if (typeof adHoc === "string") return failed(path, "ERR_REPLAY_NO_ENDPOINT", adHoc);
      exp = adHoc;
    } else if (!endpointMatches(exp, options.as)) {
      return failed(
        path,
        "ERR_REPLAY_NO_ENDPOINT",
        `${expPath} declares netlab as ${exp.endpoint?.mac ?? "(no endpoint)"} ${exp.endpoint?.cidr ?? ""}, not ${options.as}`,
        expPath,
      );
    }
  }
  const modes: ReplayMode[] =
    options.update === true && exp?.golden !== undefined ? ["golden"] : options.mode !== undefined ? [options.mode] : (exp?.modes.slice() ?? ["decode"]);
  const stem = basename(path).replace(CAPTURE_SUFFIX, "");
  const reports: ModeReport[] = [];
  for (const mode of modes) {
    try {
      if (mode === "decode") reports.push(decodeMode(capture, exp));
      else if (mode === "conversation") {
        if (exp?.conversation === undefined)
          return failed(path, "ERR_REPLAY_NO_ENDPOINT", "conversation mode needs an expectation with an endpoint and conversation section, or --as IP|MAC");
        reports.push(
          await replayConversation(capture, exp, {
            netlabPcap: resolve(outDir, `${stem}.conversation.pcapng`),
            ...(options.maxDiffs !== undefined ? { maxDiffs: options.maxDiffs } : {}),
          }),
        );
      } else {
        if (exp?.golden === undefined)
          return failed(path, "ERR_REPLAY_NOT_GOLDEN", "golden mode needs an expectation with a golden section (a simulation scenario)");
        reports.push(
          await replayGolden(capture, exp, {
            netlabPcap: resolve(outDir, `${stem}.golden.pcapng${path.endsWith(".gz") ? ".gz" : ""}`),
            ...(options.update ? { updatePath: path } : {}),
            ...(options.overrides !== undefined ? { overrides: options.overrides } : {}),
            ...(options.maxDiffs !== undefined ? { maxDiffs: options.maxDiffs } : {}),
          }),
        );
      }
    } catch (e) {
      const err = e as Error & { code?: string };
      return {
        capture: path,
        ...(exp ? { expectation: expPath } : {}),
        ok: false,
        error: { code: err.code ?? "ERR_REPLAY_INTERNAL", message: err.message },
        modes: reports,
      };
    }
  }
  if (options.update === true && exp?.golden !== undefined && options.expectation === undefined) {
    // The rewritten capture's decode counts become the expectation's.
    const fresh = readCaptureFile(path);
    if (fresh.ok) {
      const d = decodeCapture(fresh.value.packets.map((p) => p.data));
      const json = JSON.parse(readFileSync(expPath, "utf8")) as Record<string, unknown>;
      json["decode"] = { frames: d.frames, errors: d.errors, reemitMismatches: d.reemitMismatches };
      writeFileSync(expPath, `${JSON.stringify(json, null, 2)}\n`);
    }
  }
  const warnings = capture.truncated === undefined ? [] : [truncationWarning(capture)];
  return {
    capture: path,
    ...(exp && options.expectation === undefined && existsSync(expPath) ? { expectation: expPath } : {}),
    ok: reports.every((m) => m.ok),
    ...(warnings.length > 0 ? { warnings } : {}),
    modes: reports,
  };
}

/** What to say about a capture read up to a cut (tshark says the same, and reads on up to it). */
export function truncationWarning(capture: ParsedCapture): string {
  const t = capture.truncated;
  return t === undefined ? "" : `the file appears to have been cut short (${t.detail}); read ${capture.packets.length} packets before the cut`;
}

/** The captures in `dir` that have an expectation file. */
export function listCaptures(dir: string): string[] {
  const files = readdirSync(dir);
  const out: string[] = [];
  for (const f of files.filter((x) => x.endsWith(".expect.json")).sort()) {
    const stem = f.slice(0, -".expect.json".length);
    const capture = files.find((x) => x.replace(CAPTURE_SUFFIX, "") === stem && CAPTURE_SUFFIX.test(x));
    out.push(join(dir, capture ?? `${stem}.pcapng.gz`));
  }
  return out;
}

/** What replayAll takes beyond one file's options. */
export interface ReplayAllOptions extends Omit<ReplayOptions, "as" | "expectation"> {
  /** Stops before the next capture once aborted (the reports so far are returned). */
  readonly signal?: AbortSignal;
  /** Called after each capture with how many are done of how many. */
  readonly onCapture?: (done: number, total: number, report: FileReport) => void;
}

/** Replays every capture with an expectation in `dir` (fewer when `signal` aborts the run). */
export async function replayAll(dir: string, options: ReplayAllOptions = {}): Promise<FileReport[]> {
  const { signal, onCapture, ...fileOptions } = options;
  const paths = listCaptures(dir);
  const out: FileReport[] = [];
  for (const path of paths) {
    if (signal?.aborted === true) break;
    const r = await replayFile(path, fileOptions);
    out.push(r);
    onCapture?.(out.length, paths.length, r);
    // a turn of the event loop between captures, so that timers (progress) and signals get theirs
    await new Promise((resolve) => setImmediate(resolve));
  }
  return out;
}
