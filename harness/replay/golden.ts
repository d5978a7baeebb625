// Golden mode: a simulation scenario (scenarios.ts) is re-run with the expectation's seed and
// its capture compared with the committed one, frame by frame: timestamp (exact, ns), then the
// bytes; frames whose bytes differ are explained field by field (compare.ts). Any behaviour
// change of the stack shows up as the first differing frame and field. --update rewrites the
// committed capture with the new run.
//   replayGolden(capture, expectation, options) -> ModeReport
import { parseCaptureBytes, writeCaptureFile } from "../pcap/files.ts";
import type { ParsedCapture, ParsedPacket } from "../../stack/link/pcap/index.ts";
import { describeFrame, diffFields, dissect } from "./compare.ts";
import type { Expectation } from "./expect.ts";
import type { ModeReport, ReplayDiff } from "./report.ts";
import { SCENARIOS, type ScenarioOverrides } from "./scenarios.ts";
import { NetlabError } from "../../stack/error.ts";

/** Options of replayGolden. */
export interface GoldenOptions {
  /** Where the regenerated capture is written. */
  readonly netlabPcap: string;
  /** Rewrite the committed capture at this path instead of comparing. */
  readonly updatePath?: string;
  /** Behaviour changes for tests (a deliberate regression must show up as a diff). */
  readonly overrides?: ScenarioOverrides;
  readonly maxDiffs?: number;
}

function replayError(code: string, message: string): NetlabError {
  return new NetlabError(code, message);
}

/** Re-runs the scenario and compares (or, with updatePath, rewrites) the committed capture. */
export async function replayGolden(capture: ParsedCapture, exp: Expectation, options: GoldenOptions): Promise<ModeReport> {
  const started = performance.now();
  const g = exp.golden!;
  const scenario = SCENARIOS[g.scenario];
  if (scenario === undefined) throw replayError("ERR_REPLAY_SCENARIO", `unknown golden scenario '${g.scenario}' (${Object.keys(SCENARIOS).join(", ")})`);
  const bytes = await scenario(g.seed, options.overrides);
  writeCaptureFile(options.netlabPcap, bytes);
  const fresh = parseCaptureBytes(bytes);
  if (!fresh.ok) throw replayError("ERR_REPLAY_SCENARIO", `scenario ${g.scenario} wrote an unreadable capture: ${fresh.detail}`);
  if (options.updatePath !== undefined) {
    writeCaptureFile(options.updatePath, bytes);
    return {
      mode: "golden",
      ok: true,
      frames: fresh.value.packets.length,
      diffs: [],
      diffCount: 0,
      netlabPcap: options.netlabPcap,
      summary: `updated ${options.updatePath} (${fresh.value.packets.length} frames)`,
      durationMs: performance.now() - started,
    };
  }
  const diffs: ReplayDiff[] = [];
  let diffCount = 0,
    matched = 0;
  const maxDiffs = options.maxDiffs ?? 50;
  const want = capture.packets,
    got = fresh.value.packets;
  const n = Math.max(want.length, got.length);
  for (let i = 0; i < n; i++) {
    const frameDiffs = compareGoldenFrame(want[i], got[i]);
    if (frameDiffs.length === 0) {
      matched++;
      continue;
    }
    diffCount += frameDiffs.length;
    const e = want[i] === undefined ? undefined : describeFrame(dissect(want[i]!.data));
    const gd = got[i] === undefined ? undefined : describeFrame(dissect(got[i]!.data));
    for (const d of frameDiffs) {
      if (diffs.length >= maxDiffs) break;
      diffs.push({ frame: i, captureFrame: i + 1, ...d, ...(e !== undefined ? { expectedFrame: e } : {}), ...(gd !== undefined ? { gotFrame: gd } : {}) });
    }
  }
  const ok = diffCount === 0;
  return {
    mode: "golden",
    ok,
    frames: n,
    diffs,
    diffCount,
    netlabPcap: options.netlabPcap,
    summary: `scenario ${g.scenario} seed ${g.seed}: ${matched}/${want.length} frames identical${got.length !== want.length ? ` (run produced ${got.length})` : ""}`,
    durationMs: performance.now() - started,
  };
}

function compareGoldenFrame(want: ParsedPacket | undefined, got: ParsedPacket | undefined): { field: string; expected: string; got: string }[] {
  if (want === undefined || got === undefined) {
    return [
      {
        field: "frame",
        expected: want === undefined ? "(no frame)" : describeFrame(dissect(want.data)),
        got: got === undefined ? "(no frame)" : describeFrame(dissect(got.data)),
      },
    ];
  }
  const out: { field: string; expected: string; got: string }[] = [];
  if (want.interfaceId !== got.interfaceId) out.push({ field: "interface", expected: String(want.interfaceId), got: String(got.interfaceId) });
  const wb = want.data,
    gb = got.data;
  let same = wb.length === gb.length;
  for (let j = 0; same && j < wb.length; j++) if (wb[j] !== gb[j]) same = false;
  if (!same) {
    const fields = diffFields(dissect(wb), dissect(gb));
    if (fields.length > 0) out.push(...fields);
    else {
      let j = 0;
      while (j < wb.length && wb[j] === gb[j]) j++;
      out.push({ field: `bytes[${j}]`, expected: String(wb[j] ?? "(end)"), got: String(gb[j] ?? "(end)") });
    }
  }
  if (want.timestampNs !== got.timestampNs) out.push({ field: "timestamp", expected: `${want.timestampNs} ns`, got: `${got.timestampNs} ns` });
  return out;
}
