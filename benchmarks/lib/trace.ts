// A TCP time-sequence and congestion-window trace of one bulk transfer, and its SVG plot.
// recordTcpTrace(options)  runs a transfer a -> b on a rate-limited simulated wire; samples cwnd
//                          (the connection's info()) on the virtual clock and reads sequence and
//                          acknowledgment numbers of every frame at a's device (a capture tap)
// formatTraceSvg(trace)    sequence (data sent, ACKs received) and cwnd against virtual time
import type { Frame, NetDevice } from "../../stack/link/types.ts";
import type { TcpInfo } from "../../stack/transport/tcp/index.ts";
import type { ImpairmentOptions } from "../../stack/link/index.ts";
import { bulk, twoStacks } from "./sim.ts";

export interface TcpTrace {
  readonly title: string;
  /** [virtual ms, relative sequence of the segment's end] for data segments a sent. */
  readonly sent: [number, number][];
  /** [virtual ms, relative seq] of data segments sent again (at or below the highest sent). */
  readonly resent: [number, number][];
  /** [virtual ms, relative ack] of ACKs a received. */
  readonly acks: [number, number][];
  /** [virtual ms, cwnd bytes, ssthresh bytes]. */
  readonly cwnd: [number, number, number][];
  readonly durationMs: number;
  readonly bytes: number;
  readonly retransmits: number;
}

interface TcpFields {
  seq: number;
  ack: number;
  payload: number;
  syn: boolean;
  fin: boolean;
  ackFlag: boolean;
}

function tcpFields(data: Uint8Array): TcpFields | undefined {
  if (data.length < 54 || data[12] !== 0x08 || data[13] !== 0x00 || data[23] !== 6) return undefined;
  const ihl = (data[14]! & 0x0f) * 4;
  const ipTotal = (data[16]! << 8) | data[17]!;
  const t = 14 + ihl;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const off = (data[t + 12]! >> 4) * 4;
  const flags = data[t + 13]!;
  return {
    seq: dv.getUint32(t + 4),
    ack: dv.getUint32(t + 8),
    payload: ipTotal - ihl - off,
    syn: (flags & 2) !== 0,
    fin: (flags & 1) !== 0,
    ackFlag: (flags & 0x10) !== 0,
  };
}

/** Runs one traced transfer (defaults: 8 MB, MTU 1500, 100 Mbit/s bottleneck, 10 ms one way, 64-frame queue). */
export function recordTcpTrace(o: { bytes?: number; impair?: ImpairmentOptions; sampleMs?: number } = {}): TcpTrace {
  const bytes = o.bytes ?? 8_000_000;
  const impair = o.impair ?? { rateBitsPerSecond: 100_000_000, queueLimitFrames: 64 };
  const delayMs = 10;
  const sampleMs = o.sampleMs ?? 1;
  const sent: [number, number][] = [],
    resent: [number, number][] = [],
    acks: [number, number][] = [];
  const cwnd: [number, number, number][] = [];
  let iss: number | undefined, irs: number | undefined;
  let highest = 0;
  let clockNow = (): number => 0;
  const wrapA = (dev: NetDevice, clock: { now(): number }): NetDevice => {
    clockNow = () => clock.now();
    return {
      mac: dev.mac,
      mtu: dev.mtu,
      offloads: dev.offloads,
      send(frame: Frame) {
        const f = tcpFields(frame.data);
        if (f !== undefined) {
          if (f.syn) iss = f.seq;
          else if (iss !== undefined && f.payload > 0) {
            const rel = ((f.seq - iss) >>> 0) + f.payload;
            if (rel <= highest) resent.push([clockNow(), rel]);
            else {
              sent.push([clockNow(), rel]);
              highest = rel;
            }
          }
        }
        dev.send(frame);
      },
      onReceive(handler) {
        dev.onReceive((frame) => {
          const f = tcpFields(frame.data);
          if (f !== undefined && iss !== undefined) {
            if (f.syn) irs = f.seq;
            if (f.ackFlag && irs !== undefined) acks.push([clockNow(), (f.ack - iss) >>> 0]);
          }
          handler(frame);
        });
      },
    };
  };
  const net = twoStacks({ delayMs, impair, wrapA });
  let info: (() => TcpInfo) | undefined;
  let sampling = true;
  const sample = (): void => {
    if (!sampling) return;
    if (info !== undefined) {
      const i = info();
      cwnd.push([net.clock.now(), i.cwnd, i.ssthresh]);
    }
    net.clock.setTimer(net.clock.now() + sampleMs, sample);
  };
  net.clock.setTimer(0, sample);
  const r = bulk(net, bytes, {
    onClient: (s) => {
      info = (s as unknown as { info(): TcpInfo }).info.bind(s);
    },
    onDone: () => {
      sampling = false;
    },
  });
  return {
    title: `TCP ${bytes / 1e6} MB a -> b, CUBIC, MTU 1500, ${(impair.rateBitsPerSecond ?? 0) / 1e6} Mbit/s bottleneck, ${delayMs} ms one way, ${impair.queueLimitFrames ?? 1000}-frame queue`,
    sent,
    resent,
    acks,
    cwnd,
    durationMs: r.virtualMs,
    bytes,
    retransmits: r.retransmits,
  };
}

/** Decimates a series to at most n points (keeps first and last). */
function thin<T>(xs: T[], n: number): T[] {
  if (xs.length <= n) return xs;
  const step = xs.length / n;
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(xs[Math.floor(i * step)]!);
  out.push(xs[xs.length - 1]!);
  return out;
}

/** The time-sequence plot (left axis, MB) with cwnd and ssthresh (right axis, KB). */
export function formatTraceSvg(t: TcpTrace): string {
  const W = 900,
    H = 520,
    L = 70,
    R = 80,
    T = 50,
    B = 50;
  const pw = W - L - R,
    ph = H - T - B;
  const tMax = Math.max(1, t.durationMs, ...t.cwnd.map((c) => c[0]));
  const sMax = Math.max(1, t.bytes);
  const cMax = Math.max(1, ...t.cwnd.map((c) => c[1]), ...t.cwnd.map((c) => (c[2] < 1e9 ? c[2] : 0)));
  const x = (ms: number): string => (L + (ms / tMax) * pw).toFixed(1);
  const ys = (seq: number): string => (T + ph - (seq / sMax) * ph).toFixed(1);
  const yc = (b: number): string => (T + ph - (Math.min(b, cMax) / cMax) * ph).toFixed(1);
  const parts: string[] = [];
  parts.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  for (let i = 0; i <= 5; i++) {
    const ms = (tMax * i) / 5,
      seq = (sMax * i) / 5,
      c = (cMax * i) / 5;
    parts.push(`<text x="${x(ms)}" y="${T + ph + 18}" text-anchor="middle">${ms.toFixed(0)}</text>`);
    parts.push(`<text x="${L - 6}" y="${ys(seq)}" text-anchor="end" dy="4">${(seq / 1e6).toFixed(1)}</text>`);
    parts.push(`<text x="${L + pw + 6}" y="${yc(c)}" dy="4" fill="#c0392b">${(c / 1024).toFixed(0)}</text>`);
    if (i > 0 && i < 5) parts.push(`<line x1="${L}" x2="${L + pw}" y1="${ys(seq)}" y2="${ys(seq)}" stroke="#eee"/>`);
  }
  parts.push(`<text x="${L + pw / 2}" y="${H - 10}" text-anchor="middle">virtual time (ms)</text>`);
  parts.push(`<text x="${L + pw}" y="${H - 10}" text-anchor="end">${t.retransmits} retransmissions, done at ${t.durationMs.toFixed(0)} ms</text>`);
  parts.push(`<text x="16" y="${T + ph / 2}" transform="rotate(-90 16 ${T + ph / 2})" text-anchor="middle">sequence (MB)</text>`);
  parts.push(
    `<text x="${W - 16}" y="${T + ph / 2}" transform="rotate(90 ${W - 16} ${T + ph / 2})" text-anchor="middle" fill="#c0392b">cwnd / ssthresh (KiB)</text>`,
  );
  const dots = (pts: [number, number][], color: string, r: number): string =>
    thin(pts, 4000)
      .map((p) => `<circle cx="${x(p[0])}" cy="${ys(p[1])}" r="${r}" fill="${color}"/>`)
      .join("");
  parts.push(
    `<path d="${thin(t.acks, 3000)
      .map((p, i) => `${i === 0 ? "M" : "L"}${x(p[0])},${ys(p[1])}`)
      .join("")}" fill="none" stroke="#27ae60" stroke-width="1"/>`,
  );
  parts.push(dots(t.sent, "#2c6fbb", 0.9));
  parts.push(dots(t.resent, "#e67e22", 2.5));
  const cw = thin(t.cwnd, 3000);
  parts.push(`<path d="${cw.map((c, i) => `${i === 0 ? "M" : "L"}${x(c[0])},${yc(c[1])}`).join("")}" fill="none" stroke="#c0392b" stroke-width="1.5"/>`);
  const ss = cw.filter((c) => c[2] < 1e9);
  if (ss.length > 0)
    parts.push(
      `<path d="${ss.map((c, i) => `${i === 0 ? "M" : "L"}${x(c[0])},${yc(c[2])}`).join("")}" fill="none" stroke="#c0392b" stroke-dasharray="4,3" stroke-width="1"/>`,
    );
  const legend = [
    ["#2c6fbb", "data sent (seq end)"],
    ["#e67e22", "retransmitted"],
    ["#27ae60", "ACK received"],
    ["#c0392b", "cwnd (solid), ssthresh (dashed)"],
  ];
  legend.forEach(([c, label], i) => {
    parts.push(`<rect x="${L + 10 + i * 190}" y="${T - 22}" width="10" height="10" fill="${c}"/><text x="${L + 24 + i * 190}" y="${T - 13}">${label}</text>`);
  });
  const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">` +
    `<rect width="100%" height="100%" fill="#fff"/><text x="${L}" y="18" font-size="12">${esc(t.title)}</text>` +
    parts.join("") +
    "</svg>\n"
  );
}
