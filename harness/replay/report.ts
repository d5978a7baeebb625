// What a replay reports: per mode, whether it held, figures, the diffs (frame index, field,
// expected against got) and where netlab's side was written; formatReport() prints it.
//   ReplayDiff, ModeReport, FileReport   the report shapes (also the --json output)
//   formatReport(report, maxDiffs)       readable text
import type { ReplayMode } from "./expect.ts";

/** One mismatch. `frame` is the 0-based index among the compared frames (netlab's outbound frames in
 * conversation mode, all frames in golden and decode mode); `captureFrame` the 1-based frame number
 * in the committed capture (as Wireshark counts), when there is one. */
export interface ReplayDiff {
  readonly frame: number;
  readonly captureFrame?: number;
  readonly field: string;
  readonly expected: string;
  readonly got: string;
  /** One-line descriptions of the two frames. */
  readonly expectedFrame?: string;
  readonly gotFrame?: string;
}

/** The outcome of one mode on one capture. */
export interface ModeReport {
  readonly mode: ReplayMode;
  readonly ok: boolean;
  /** Frames this mode looked at (captured frames; for conversation: inbound fed + outbound compared). */
  readonly frames: number;
  readonly summary: string;
  readonly diffs: readonly ReplayDiff[];
  /** Total number of diffs (diffs may be truncated). */
  readonly diffCount: number;
  /** pcap(ng) of netlab's side of this replay. */
  readonly netlabPcap?: string;
  readonly durationMs: number;
  /** What the normalisations learned (conversation: ISN offsets and TSval clock offsets per flow, xid map). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The outcome of replaying one capture. */
export interface FileReport {
  readonly capture: string;
  readonly expectation?: string;
  readonly ok: boolean;
  /** Set when the capture or its expectation could not be used at all. */
  readonly error?: { readonly code: string; readonly message: string };
  /** Things to know that do not fail the replay (a capture read up to a cut). */
  readonly warnings?: readonly string[];
  readonly modes: readonly ModeReport[];
}

/** Readable text of a report. */
export function formatReport(r: FileReport, maxDiffs = 10): string {
  const lines: string[] = [];
  lines.push(`${r.ok ? "ok  " : "FAIL"} ${r.capture}`);
  if (r.error) lines.push(`     error [${r.error.code}] ${r.error.message}`);
  for (const w of r.warnings ?? []) lines.push(`     warning: ${w}`);
  for (const m of r.modes) {
    lines.push(`     ${m.ok ? "ok  " : "FAIL"} ${m.mode.padEnd(12)} ${m.summary} (${m.durationMs.toFixed(0)} ms)`);
    for (const d of m.diffs.slice(0, maxDiffs)) {
      const where = d.captureFrame !== undefined ? `frame ${d.frame} (capture #${d.captureFrame})` : `frame ${d.frame}`;
      lines.push(`          ${where}: ${d.field}: expected ${d.expected}, got ${d.got}`);
      if (d.expectedFrame !== undefined) lines.push(`            expected: ${d.expectedFrame}`);
      if (d.gotFrame !== undefined) lines.push(`            got:      ${d.gotFrame}`);
    }
    if (m.diffCount > Math.min(maxDiffs, m.diffs.length)) lines.push(`          ... ${m.diffCount - Math.min(maxDiffs, m.diffs.length)} more`);
    if (!m.ok && m.netlabPcap !== undefined) lines.push(`          netlab's side: ${m.netlabPcap}`);
  }
  return lines.join("\n");
}
