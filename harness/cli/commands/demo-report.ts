// The `--report FILE.html` page of `netlab demo`: the checks (with their family), the hosts, the
// DHCP leases, pings, UDP echo, the fragmented datagram, the TCP transfer, every HTTP request (with
// a chart of their times to complete over the run), the IPv6 half (SLAAC, ping6, TCP and HTTP over
// v6), the switch and the impairments per port, h1's disk with Xen, and a link to the capture.
import { lineChart } from "../../lab/svg.ts";
import type { HtmlReport, ReportSection } from "../../report/html.ts";
import type { DemoReport, RttReport } from "./demo.ts";
import { formatSi } from "../../report/format.ts";

const rtt = (r: RttReport): (string | number)[] => (r.count === 0 ? ["no replies", "", "", ""] : [r.count, r.minMs, r.avgMs, r.maxMs]);

/** The page for one demo run; `pcapPath` is where its capture was written. */
export function demoReportPage(r: DemoReport, command: string, when: string, pcapPath: string): HtmlReport {
  const failed = r.checks.filter((c) => !c.ok);
  const sections: ReportSection[] = [
    {
      heading: "Checks",
      text:
        `${r.checks.length - failed.length} of ${r.checks.length} checks passed; seed ${r.seed}, ${r.virtualTimeMs / 1000} s of virtual time, ` +
        `network ready at ${r.networkReadyMs} ms; hosts ${r.xen ? "as Xen domUs behind netfront on dom0 bridges" : "as bare stacks on the switch ports"}.`,
      table: {
        columns: ["family", "check", "result", "detail"],
        rows: r.checks.map((c) => [c.family === "ipv6" ? "IPv6" : c.family === "ipv4" ? "IPv4" : "", c.name, c.ok ? "ok" : "FAILED", c.detail]),
      },
    },
    {
      heading: "Hosts",
      table: {
        columns: ["host", "address", "config", "MAC", "tx frames", "tx bytes", "rx frames", "rx bytes", "wire drops", "pings sent", "replies"],
        rows: r.hosts.map((h) => [
          h.name,
          h.ip === "" ? "none" : h.ip,
          h.config,
          h.mac,
          h.txFrames,
          h.txBytes,
          h.rxFrames,
          h.rxBytes,
          h.wireDrops,
          h.pingsSent,
          h.pingReplies,
        ]),
      },
    },
    {
      heading: "DHCP",
      text: `Server ${r.dhcp.server.address} on ${r.dhcp.server.host}, pool ${r.dhcp.server.poolStart}–${r.dhcp.server.poolEnd}, lease ${r.dhcp.server.leaseTime} s.`,
      table: {
        columns: ["host", "MAC", "address", "gateway", "DNS", "lease (s)", "bound at (ms)"],
        rows: r.dhcp.leases.map((l) => [
          l.host,
          l.mac,
          l.address === "" ? "not bound" : `${l.address}/${l.prefixLength}`,
          l.gateway,
          l.dnsServers.join(", "),
          l.leaseTime,
          l.boundAtMs,
        ]),
      },
    },
    {
      heading: "Ping and UDP echo",
      table: {
        columns: ["traffic", "count", "rtt min (ms)", "rtt avg (ms)", "rtt max (ms)"],
        rows: [
          ...r.ping.pairs.map((p) => [`ping ${p.from} → ${p.to} (${p.replies}/${p.sent} answered)`, ...rtt(p.rtt)]),
          [`UDP echo (${r.udpEcho.echoed}/${r.udpEcho.sent} echoed)`, ...rtt(r.udpEcho.rtt)],
        ],
      },
    },
    {
      heading: "Fragmented datagram and TCP transfer",
      table: {
        columns: ["measure", "value"],
        rows: [
          ["datagram size (bytes)", r.fragmented.size],
          ["datagrams sent / echoed / intact", `${r.fragmented.sent} / ${r.fragmented.echoed} / ${r.fragmented.intact}`],
          ["fragments sent / datagrams reassembled", `${r.fragmented.fragmentsSent} / ${r.fragmented.reassembled}`],
          ["TCP bytes sent / received", `${r.tcp.bytes} / ${r.tcp.received}`],
          ["TCP intact", r.tcp.intact ? "yes" : "NO"],
          ["TCP duration (virtual ms)", r.tcp.durationMs],
          ["TCP goodput (virtual)", formatSi(r.tcp.virtualGoodputBitsPerSecond, "bit/s")],
          ["TCP retransmissions", r.tcp.retransmits],
          ...(r.tcp.error === undefined ? [] : [["TCP error", r.tcp.error]]),
        ],
      },
    },
  ];
  const clients = [...new Set(r.http.requests.map((q) => q.client))];
  const firstMs = Math.min(...r.http.requests.map((q) => q.startMs));
  sections.push({
    heading: "HTTP",
    text: `${r.http.totals.correct} of ${r.http.totals.requests} requests answered correctly (${r.http.totals.bytes} bytes) by ${r.http.server.host} at ${r.http.server.address}:${r.http.server.port}.`,
    table: {
      columns: ["client", "request", "status (expected)", "bytes", "sha256", "pipelined", "reused", "start (ms)", "duration (ms)"],
      rows: r.http.requests.map((q) => [
        q.client,
        `${q.method} ${q.path}`,
        `${q.status} (${q.expectedStatus})`,
        q.bytes,
        q.sha256Ok ? "ok" : "WRONG",
        q.pipelined ? "yes" : "",
        q.reused ? "yes" : "",
        q.startMs,
        q.durationMs,
      ]),
    },
    ...(r.http.requests.length === 0
      ? {}
      : {
          charts: [
            lineChart({
              title: "HTTP requests: time to complete by start time",
              xLabel: "sent at (virtual ms after the first request)",
              yLabel: "time to complete (ms)",
              series: clients.map((c) => ({
                name: c,
                points: r.http.requests.filter((q) => q.client === c).map((q) => [q.startMs - firstMs, q.durationMs] as const),
              })),
            }),
          ],
        }),
  });
  const v = r.ipv6;
  sections.push({
    heading: "IPv6: SLAAC",
    text: `${v.router} advertises ${v.prefix} in Router Advertisements; the other hosts autoconfigure from them (RFC 4862, with DAD).`,
    table: {
      columns: ["host", "link-local", "address", "origin", "state", "first RA (ms)", "RS sent", "RA sent", "default router"],
      rows: v.hosts.map((h) => [
        h.name,
        h.linkLocal,
        h.address || "none",
        h.origin,
        h.state,
        h.firstRaAtMs < 0 ? "" : h.firstRaAtMs,
        h.rsSent,
        h.raSent,
        h.routers.join(", "),
      ]),
    },
  });
  sections.push({
    heading: "IPv6: ping6, TCP and HTTP",
    text: `HTTP over IPv6: ${v.http.totals.correct} of ${v.http.totals.requests} requests answered correctly (${v.http.totals.bytes} bytes) by ${v.http.server.host} at [${v.http.server.address}]:${v.http.server.port}.`,
    table: {
      columns: ["measure", "value"],
      rows: [
        ...v.ping.pairs.map((p) => [
          `ping6 ${p.from} → ${p.to} (answered / sent)`,
          `${p.replies} / ${p.sent}${p.rtt.count === 0 ? "" : `, rtt ${p.rtt.minMs}/${p.rtt.avgMs}/${p.rtt.maxMs} ms`}`,
        ]),
        ["TCP over IPv6 bytes sent / received", `${v.tcp.bytes} / ${v.tcp.received}`],
        ["TCP over IPv6 intact", v.tcp.intact ? "yes" : "NO"],
        ["TCP over IPv6 duration (virtual ms)", v.tcp.durationMs],
        ["TCP over IPv6 goodput (virtual)", formatSi(v.tcp.virtualGoodputBitsPerSecond, "bit/s")],
        ["TCP over IPv6 retransmissions", v.tcp.retransmits],
        ...(v.tcp.error === undefined ? [] : [["TCP over IPv6 error", v.tcp.error]]),
      ],
    },
  });
  sections.push({
    heading: "Switch and impairments",
    text:
      `Frames offered ${r.impairmentTotals.offered}, delivered ${r.impairmentTotals.delivered}, lost ${r.impairmentTotals.lost}, duplicated ${r.impairmentTotals.duplicated}, ` +
      `queue drops ${r.impairmentTotals.queueDrops}, MTU drops ${r.impairmentTotals.mtuDrops}.`,
    table: {
      columns: ["port", "direction", ...Object.keys(r.impairments[0]?.stats ?? {})],
      rows: r.impairments.map((i) => [i.port, i.direction, ...Object.values(i.stats).map((v) => (typeof v === "number" ? v : String(v)))]),
    },
  });
  if (r.disk !== undefined) {
    const d = r.disk;
    sections.push({
      heading: `Disk ${d.device} on ${d.host}`,
      text: d.verdict,
      table: {
        columns: ["measure", "value"],
        rows: [
          ["backend", d.backend],
          ["size (bytes)", d.sizeBytes],
          ["files / bytes of the site", `${d.files} / ${d.siteBytes}`],
          ["ring requests", d.requests],
          ["responses served from the disk", d.servedFromDisk],
          ["image matches", d.imageMatches ? "yes" : "NO"],
        ],
      },
    });
  }
  sections.push({
    heading: "Capture",
    text: `${r.capture.packets} frames, ${r.capture.bytes} bytes (pcapng; the same seed writes the same bytes).`,
    files: [{ label: "capture", path: pcapPath }],
  });
  return { title: `netlab demo, seed ${r.seed}: ${r.ok ? "every check passed" : `${failed.length} check(s) FAILED`}`, command, when, sections };
}
