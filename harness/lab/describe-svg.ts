// describeTopologySvg(): the configuration graph of a topology as a standalone SVG (what `netlab lab
// describe FILE --svg OUT.svg` writes, beside the text of describeTopology()), in the style of
// svg.ts's charts. Routers and switches (the infrastructure) are laid out in columns by their hop
// distance from one end of the infrastructure's longest shortest path (the first flow's sender on
// the left); hosts sit left of the first column, right of the last, or under the node they hang off. Each node is a <g class="node"> (a box:
// name, kind and implementation, its interfaces' addresses, "dhcp" or a DHCP server's pool), each link a <g class="link"> (a <line>
// and its rate, delay, queue discipline and MTU).
import { escapeXml } from "./svg.ts";
import type { Topology, TopologyLink, TopologyNode } from "./topology.ts";
import { formatSi } from "../report/format.ts";

const BOX_W = 170;
const LINE_H = 14;
const COLUMN_GAP = 150;
const ROW_GAP = 30;
const MARGIN = 40;
const TITLE_H = 50;

const FILL: Record<TopologyNode["kind"], string> = { host: "#e8f1fa", router: "#fdebd9", switch: "#e6f4e6" };
const STROKE: Record<TopologyNode["kind"], string> = { host: "#1f77b4", router: "#ff7f0e", switch: "#2ca02c" };

const rate = (bps: number): string => formatSi(bps, "bit/s");

/** A link's label lines: name, then rate and delay, then queue and MTU. */
function linkLabel(l: TopologyLink, i: number): string[] {
  const first = [l.rateBitsPerSecond === undefined || l.rateBitsPerSecond === 0 ? "unlimited" : rate(l.rateBitsPerSecond)];
  if (l.delayMs !== undefined) first.push(`${l.delayMs} ms`);
  if (l.jitterMs !== undefined) first.push(`±${l.jitterMs} ms`);
  if (l.loss !== undefined) first.push(`${l.loss * 100}% loss`);
  const second: string[] = [];
  if (l.rateBitsPerSecond !== undefined && l.rateBitsPerSecond > 0) {
    const q = l.queue ?? { kind: "drop-tail" as const, limitPackets: 1000 };
    const limit = "limitPackets" in q && q.limitPackets !== undefined ? ` ${q.limitPackets} pkts` : "";
    second.push(`${q.kind}${limit}`);
  }
  if (l.mtu !== undefined) second.push(`MTU ${l.mtu}`);
  return [l.name ?? `link${i}`, first.join(", "), ...(second.length === 0 ? [] : [second.join(", ")])];
}

/** The lines of a node's box. */
function nodeLines(n: TopologyNode): string[] {
  const lines = [n.name, `${n.kind} · ${n.implementation ?? "netlab"}`];
  for (const f of n.interfaces) {
    lines.push(`${f.name} ${f.address ?? "port"}`);
    if (f.dhcpServer !== undefined) lines.push(`  DHCP server ${f.dhcpServer.pool.replace(/^(\d+\.\d+\.\d+\.)(\d+)-\1/, "$1$2-")}`);
  }
  return lines;
}

/** Hop distances from `from` over `adjacent` (unreached nodes absent). */
function distances(from: string, adjacent: Map<string, Set<string>>, within: Set<string>): Map<string, number> {
  const d = new Map([[from, 0]]);
  const queue = [from];
  for (let k = 0; k < queue.length; k++) {
    const x = queue[k]!;
    for (const y of adjacent.get(x) ?? []) {
      if (!within.has(y) || d.has(y)) continue;
      d.set(y, d.get(x)! + 1);
      queue.push(y);
    }
  }
  return d;
}

/** The topology's configuration graph as an SVG document. */
export function describeTopologySvg(t: Topology): string {
  const adjacent = new Map<string, Set<string>>(t.nodes.map((n) => [n.name, new Set<string>()]));
  const ends = t.links.map((l) => l.endpoints.map((e) => e.split(":")[0]!) as [string, string]);
  for (const [a, b] of ends) {
    adjacent.get(a)?.add(b);
    adjacent.get(b)?.add(a);
  }
  const kinds = new Map(t.nodes.map((n) => [n.name, n.kind]));
  const infraNodes = t.nodes.filter((n) => n.kind !== "host").map((n) => n.name);
  // Without routers or switches every node is laid out as infrastructure.
  const infra = new Set(infraNodes.length > 0 ? infraNodes : t.nodes.map((n) => n.name));
  // Columns: per connected part of the infrastructure, distances from one end of its longest shortest path.
  const column = new Map<string, number>();
  let offset = 0;
  for (const start of infra) {
    if (column.has(start)) continue;
    const part = distances(start, adjacent, infra);
    const far = [...part].reduce((a, b) => (b[1] > a[1] ? b : a))[0];
    const d = distances(far, adjacent, infra);
    const width = Math.max(...d.values());
    for (const [x, c] of d) column.set(x, offset + c);
    offset += width + 1;
  }
  const lastColumn = Math.max(0, ...column.values());
  // Hosts: beside the infrastructure node they hang off (left of column 0, right of the last, else under it).
  const below = new Map<string, number>();
  for (const n of t.nodes) {
    if (infra.has(n.name)) continue;
    const peer = [...(adjacent.get(n.name) ?? [])].find((p) => infra.has(p));
    const c = peer === undefined ? lastColumn + 1 : column.get(peer)!;
    if (peer !== undefined && c === 0 && lastColumn > 0) column.set(n.name, -1);
    else if (peer !== undefined && c === lastColumn) column.set(n.name, lastColumn + 1);
    else {
      column.set(n.name, c);
      below.set(n.name, 1);
    }
  }
  // The first flow's sender on the left (a dumbbell's sources, a chain's traceroute origin).
  const flow = t.flows?.[0];
  if (flow !== undefined && (column.get(flow.from) ?? 0) > (column.get(flow.to) ?? 0)) {
    for (const [x, c] of column) column.set(x, lastColumn - c);
  }
  const firstColumn = Math.min(...column.values());
  const height = (n: TopologyNode): number => (nodeLines(n).length + 1) * LINE_H;
  // Rows: each column's infrastructure first, then the hosts under it, in file order.
  const position = new Map<string, { x: number; y: number; h: number }>();
  const columnHeights: number[] = [];
  for (let c = firstColumn; c <= Math.max(...column.values()); c++) {
    let y = MARGIN + TITLE_H;
    const members = t.nodes.filter((n) => column.get(n.name) === c).sort((a, b) => (below.get(a.name) ?? 0) - (below.get(b.name) ?? 0));
    for (const n of members) {
      const h = height(n);
      position.set(n.name, { x: MARGIN + (c - firstColumn) * (BOX_W + COLUMN_GAP), y, h });
      y += h + ROW_GAP;
    }
    columnHeights.push(y);
  }
  const width = MARGIN * 2 + (Math.max(...column.values()) - firstColumn + 1) * (BOX_W + COLUMN_GAP) - COLUMN_GAP;
  const svgHeight = Math.max(...columnHeights) + MARGIN;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${svgHeight}" viewBox="0 0 ${width} ${svgHeight}" font-family="sans-serif" font-size="11">`,
  );
  out.push(`<rect width="${width}" height="${svgHeight}" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(`${t.name}: configuration graph`)}</text>`);
  if (t.description !== undefined)
    out.push(
      `<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">${escapeXml(t.description.length > width / 6 ? `${t.description.slice(0, Math.floor(width / 6) - 3)}...` : t.description)}</text>`,
    );
  const centre = (name: string): [number, number] => {
    const p = position.get(name)!;
    return [p.x + BOX_W / 2, p.y + p.h / 2];
  };
  t.links.forEach((l, i) => {
    const [a, b] = ends[i]!;
    const [x1, y1] = centre(a);
    const [x2, y2] = centre(b);
    const colour = kinds.get(a) === "host" || kinds.get(b) === "host" ? "#888" : "#333";
    const widthPx = l.rateBitsPerSecond !== undefined && l.rateBitsPerSecond > 0 && l.rateBitsPerSecond < 50e6 ? 3 : 1.5;
    out.push(`<g class="link" data-link="${escapeXml(l.name ?? `link${i}`)}">`);
    out.push(`<line x1="${x1.toFixed(1)}" y1="${y1.toFixed(1)}" x2="${x2.toFixed(1)}" y2="${y2.toFixed(1)}" stroke="${colour}" stroke-width="${widthPx}"/>`);
    const label = linkLabel(l, i);
    const mx = (x1 + x2) / 2,
      my = (y1 + y2) / 2 - (label.length * 12) / 2 + 9;
    label.forEach((text, k) => {
      out.push(
        `<text x="${mx.toFixed(1)}" y="${(my + k * 12).toFixed(1)}" text-anchor="middle" font-size="10" stroke="white" stroke-width="3" paint-order="stroke"${k === 0 ? ' font-weight="bold"' : ""}>${escapeXml(text)}</text>`,
      );
    });
    out.push("</g>");
  });
  for (const n of t.nodes) {
    const p = position.get(n.name)!;
    out.push(`<g class="node" data-node="${escapeXml(n.name)}" data-kind="${n.kind}">`);
    out.push(
      `<rect x="${p.x}" y="${p.y}" width="${BOX_W}" height="${p.h}" rx="${n.kind === "router" ? 12 : 3}" fill="${FILL[n.kind]}" stroke="${STROKE[n.kind]}" stroke-width="1.5"/>`,
    );
    nodeLines(n).forEach((text, k) => {
      out.push(
        `<text x="${p.x + 8}" y="${p.y + (k + 1) * LINE_H + 2}"${k === 0 ? ' font-weight="bold" font-size="12"' : k === 1 ? ' fill="#555"' : ""}>${escapeXml(text)}</text>`,
      );
    });
    out.push("</g>");
  }
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
