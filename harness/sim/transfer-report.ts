// The `--report FILE.html` page of `netlab sim transfer`: what was asked, what arrived, the wire's
// impairments and what they did, the sender's connection over time (goodput, bytes delivered,
// cwnd / ssthresh / bytes in flight, smoothed RTT, from the interval samples) and every non-zero
// TCP counter of both ends.
import { lineChart } from "../lab/svg.ts";
import type { HtmlReport, ReportSection } from "../report/html.ts";
import { formatBinary, formatSi } from "../report/format.ts";
import type { TransferInterval, TransferOptions, TransferReport } from "./transfer.ts";

/** At most this many points per chart line: longer runs are merged into equal groups of intervals. */
const MAX_POINTS = 1000;

/** Merges consecutive intervals into at most MAX_POINTS groups (bytes summed, state at the group's end). */
function decimate(all: readonly TransferInterval[]): TransferInterval[] {
  if (all.length <= MAX_POINTS) return [...all];
  const per = Math.ceil(all.length / MAX_POINTS);
  const out: TransferInterval[] = [];
  for (let i = 0; i < all.length; i += per) {
    const group = all.slice(i, i + per);
    const first = group[0]!,
      last = group.at(-1)!;
    const bytes = group.reduce((n, g) => n + g.bytes, 0);
    const seconds = last.endSeconds - first.startSeconds;
    out.push({
      ...last,
      startSeconds: first.startSeconds,
      bytes,
      retransmits: group.reduce((n, g) => n + g.retransmits, 0),
      virtualGoodputBitsPerSecond: seconds > 0 ? Math.round((bytes * 8) / seconds) : 0,
    });
  }
  return out;
}

const bitRate = (v: number | null): string | null => (v === null ? null : formatSi(v, "bit/s"));

/** The page for one run. */
export function transferReportPage(r: TransferReport, command: string, o: TransferOptions): HtmlReport {
  const sections: ReportSection[] = [];
  sections.push({
    heading: "Result",
    text: r.ok
      ? "Every byte arrived intact (sha256 of what was sent equals that of what was received)."
      : `The transfer did not complete intact${r.error === undefined ? "" : `: ${r.error}`}.`,
    table: {
      columns: ["measure", "value"],
      rows: [
        ["bytes sent / received", `${r.bytes} / ${r.received}`],
        ["sha256", r.sha256Match ? `matches (${r.sha256Received.slice(0, 16)}…)` : "MISMATCH"],
        ["virtual time (connect to FIN)", `${r.virtualSeconds.toFixed(3)} s`],
        ["virtual goodput", bitRate(r.virtualGoodputBitsPerSecond)],
        ["wall time, goodput", `${r.wallSeconds.toFixed(3)} s, ${bitRate(r.wallGoodputBitsPerSecond)}`],
        ["CPU time, goodput", `${r.cpuSeconds.toFixed(3)} s, ${bitRate(r.cpuGoodputBitsPerSecond)}`],
        ["retransmissions (fast, timeouts)", `${r.retransmits} (${r.fastRetransmits}, ${r.timeouts})`],
        ["network", r.family === "ipv6" ? "IPv6 (2001:db8::1 -> 2001:db8::2)" : "IPv4 (192.0.2.1 -> 192.0.2.2)"],
        ["congestion control, socket buffers", `${r.congestionControl}, ${r.bufferBytes === null ? "layer default" : formatBinary(r.bufferBytes)}`],
        ["seed", r.seed],
      ],
    },
  });
  const imp: [string, string | number][] = [["MTU", r.link.mtu]];
  if (o.delayMs !== undefined) imp.push(["delay (each way)", `${o.delayMs} ms`]);
  if (o.jitterMs !== undefined) imp.push(["jitter", `${o.jitterMs} ms`]);
  if (o.rateBitsPerSecond !== undefined) imp.push(["rate", bitRate(o.rateBitsPerSecond)!]);
  for (const [k, v] of [
    ["loss", o.loss],
    ["reordering", o.reorder],
    ["duplication", o.duplicate],
    ["corruption", o.corrupt],
  ] as const) {
    if (v !== undefined) imp.push([k, `${(v * 100).toPrecision(3)}%`]);
  }
  if (o.queueFrames !== undefined) imp.push(["queue limit", `${o.queueFrames} frames`]);
  if (o.ecnMarkFrames !== undefined) imp.push(["CE mark above", `${o.ecnMarkFrames} frames`]);
  sections.push({
    heading: "The wire",
    text: "The same impairments in both directions; what they did to the frames offered (both directions).",
    table: {
      columns: ["setting or effect", "value"],
      rows: [
        ...imp,
        ["frames offered", r.link.framesOffered],
        ["lost", r.link.lost],
        ["duplicated", r.link.duplicated],
        ["corrupted", r.link.corrupted],
        ["queue drops", r.link.queueDrops],
        ["CE marked", r.link.ceMarked],
      ],
    },
  });
  const iv = decimate(r.intervals ?? []);
  if (iv.length > 0) {
    const at = (f: (i: TransferInterval) => number): [number, number][] => iv.map((i) => [i.endSeconds, f(i)]);
    sections.push({
      heading: "Over time",
      text:
        `The sender's connection sampled every ${((r.intervals![0]!.endSeconds - r.intervals![0]!.startSeconds) * 1000).toFixed(0)} virtual ms` +
        `${iv.length < r.intervals!.length ? ` (${r.intervals!.length} samples merged into ${iv.length} points)` : ""}.`,
      charts: [
        lineChart({
          title: "Goodput per interval",
          xLabel: "virtual time (s)",
          yLabel: "Mbit/s",
          series: [{ name: "goodput", points: at((i) => i.virtualGoodputBitsPerSecond / 1e6) }],
        }),
        lineChart({
          title: "Bytes delivered (time-sequence)",
          xLabel: "virtual time (s)",
          yLabel: "MB",
          series: [{ name: "received", points: [[0, 0], ...at((i) => i.receivedTotal / 1e6)] }],
        }),
        lineChart({
          title: "Congestion window",
          xLabel: "virtual time (s)",
          yLabel: "KB",
          series: [
            { name: "cwnd", points: at((i) => i.cwndBytes / 1e3) },
            { name: "in flight", points: at((i) => i.bytesInFlight / 1e3) },
            // ssthresh starts "infinite" (2^31 or so): drawn only once it is a real value.
            { name: "ssthresh", points: at((i) => i.ssthreshBytes / 1e3).filter(([, y]) => y < 1e6) },
          ],
        }),
        lineChart({ title: "Smoothed RTT", xLabel: "virtual time (s)", yLabel: "ms", series: [{ name: "srtt", points: at((i) => i.srttMs) }] }),
        lineChart({
          title: "Retransmissions per interval",
          xLabel: "virtual time (s)",
          yLabel: "segments",
          series: [{ name: "retransmitted", points: at((i) => i.retransmits) }],
        }),
      ],
    });
  }
  const names = [...new Set([...Object.keys(r.tcpStats.sender), ...Object.keys(r.tcpStats.receiver)])]
    .filter((k) => (r.tcpStats.sender[k] ?? 0) !== 0 || (r.tcpStats.receiver[k] ?? 0) !== 0)
    .sort();
  sections.push({
    heading: "TCP counters",
    text: "Every counter of the two TCP layers that is not zero.",
    table: { columns: ["counter", "sender", "receiver"], rows: names.map((k) => [k, r.tcpStats.sender[k] ?? 0, r.tcpStats.receiver[k] ?? 0]) },
  });
  if (r.pcap !== undefined) sections.push({ heading: "Files", files: [{ label: "capture of the sender's interface (pcapng)", path: r.pcap }] });
  return { title: `sim transfer: ${r.bytes} bytes, ${r.ok ? "intact" : "FAILED"}`, command, when: new Date().toISOString(), sections };
}
