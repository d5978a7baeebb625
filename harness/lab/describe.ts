// describeTopology(): the configuration graph of a topology as text (what `netlab lab describe`
// prints, like `mirage describe`): each node with the implementations composed for it (a xen host:
// stack on netfront, netback and a bridge in dom0) and its routing table, then each link with its impairments and queue discipline.
import { createRoutingTable } from "../../stack/net/route.ts";
import { parseCidr, parseIpv4, prefixToMask } from "../../stack/wire/address.ts";
import { planDhcp, type Topology, type TopologyFlow, type TopologyLink } from "./topology.ts";
import { formatSi } from "../report/format.ts";

const rate = (bps: number): string => formatSi(bps, "bit/s");

/** One line of a link's properties. */
function linkProperties(l: TopologyLink): string {
  const parts: string[] = [];
  parts.push(l.rateBitsPerSecond === undefined || l.rateBitsPerSecond === 0 ? "unlimited rate" : rate(l.rateBitsPerSecond));
  if (l.delayMs !== undefined) parts.push(`${l.delayMs} ms delay`);
  if (l.jitterMs !== undefined) parts.push(`±${l.jitterMs} ms jitter`);
  if (l.loss !== undefined) parts.push(`${l.loss * 100}% loss`);
  if (l.reorder !== undefined) parts.push(`${l.reorder * 100}% reordered`);
  parts.push(`MTU ${l.mtu ?? 1500}`);
  if (l.rateBitsPerSecond !== undefined && l.rateBitsPerSecond > 0) {
    const q = l.queue ?? { kind: "drop-tail" as const, limitPackets: 1000 };
    const params = Object.entries(q)
      .filter(([k]) => k !== "kind")
      .map(([k, v]) => `${k} ${String(v)}`);
    parts.push(`queue ${q.kind}${params.length === 0 ? "" : ` (${params.join(", ")})`}`);
  }
  return parts.join(", ");
}

/** What a flow does, in a few words. */
function flowDetails(f: TopologyFlow): string {
  switch (f.kind) {
    case "bulk-tcp":
      return f.congestionControl ?? "cubic";
    case "traceroute":
      return `up to ${f.maxHops ?? 30} hops`;
    case "ping":
      return `every ${f.intervalMs ?? 1000} ms, ${f.payloadBytes ?? 56} B`;
    case "udp-cbr":
      return `${rate(f.rateBitsPerSecond ?? 0)} in ${f.payloadBytes ?? 1200} B datagrams`;
    case "http":
      return `${f.requests ?? 1} x GET of ${f.responseBytes ?? 100_000} B`;
    case "iperf3":
      return `${f.congestionControl ?? "cubic"}, iperf3 -c -J -> iperf3 -s -J (linux hosts)`;
  }
}

/** The topology's configuration graph as text. */
export function describeTopology(t: Topology): string {
  const lines: string[] = [`${t.name}${t.description === undefined ? "" : `: ${t.description}`}`, ""];
  const linkOf = new Map<string, { name: string; peer: string }>();
  t.links.forEach((l, i) => {
    const name = l.name ?? `link${i}`;
    linkOf.set(l.endpoints[0], { name, peer: l.endpoints[1] });
    linkOf.set(l.endpoints[1], { name, peer: l.endpoints[0] });
  });
  const dhcp = planDhcp(t);
  lines.push("nodes:");
  for (const n of t.nodes) {
    const impl = n.implementation ?? "netlab";
    const layers =
      impl === "linux"
        ? "the Linux kernel's stack in a network namespace (harness/lab/linux.ts), attached by a tap to its link end; real time, root"
        : impl === "xen"
          ? `a Xen domU: createStack: Ethernet -> ARP -> IPv4 (+ reassembly) -> ICMP -> UDP -> TCP on netfront -> netback -> bridge xenbr-${n.name} -> its link ` +
            "(netback's vif and the bridge in dom0; tx/rx rings in granted pages, an event channel; simulated hypervisor, in virtual time, or real time beside linux hosts)"
          : n.kind === "router"
            ? "createRouter: per interface Ethernet -> ARP -> IPv4 -> ICMP; one routing table; forwarding plane (RFC 1812)"
            : n.kind === "switch"
              ? "createBridge: learning Ethernet bridge (802.1D without STP) joining the links on its ports"
              : "createStack: Ethernet -> ARP -> IPv4 (+ reassembly) -> ICMP -> UDP -> TCP";
    lines.push(`  ${n.name} (${n.kind}, ${impl}): ${layers}`);
    for (const f of n.interfaces) {
      const l = linkOf.get(`${n.name}:${f.name}`);
      const end = l === undefined ? "(none)" : `end of link ${l.name} to ${l.peer}`;
      const device = impl === "xen" ? `netfront; dom0's bridge xenbr-${n.name} has port ${f.name}: ${end}` : end;
      lines.push(`    ${f.name.padEnd(8)} ${(f.address ?? "-").padEnd(18)} device: ${device}`);
      if (f.ipv6 !== undefined)
        lines.push(
          `             IPv6 ${f.ipv6.join(", ")}${n.kind === "router" ? " (NDP router: RAs with these prefixes, answers RS; IPv6 forwarding, net/forward6.ts)" : ""}`,
        );
      const d = f.dhcpServer;
      if (d !== undefined) {
        lines.push(
          `             DHCP server (stack/app/dhcp/server.ts) on UDP 67: pool ${d.pool}${d.gateway === undefined ? "" : `, gateway ${d.gateway}`}, lease ${d.leaseSeconds ?? 3600} s`,
        );
      }
      if (f.address === "dhcp") {
        lines.push(
          `             DHCP client (stack/app/dhcp/client.ts, ARP probe of the offer) leasing from ${dhcp.get(n.name)?.server ?? "(no server)"}; its flows start once it is bound`,
        );
      }
    }
    if (n.kind === "router") {
      const table = createRoutingTable();
      const names: string[] = [];
      n.interfaces.forEach((f, index) => {
        names.push(f.name);
        if (f.address === undefined) return;
        const c = parseCidr(f.address);
        if (!c.ok) return;
        const mask = prefixToMask(c.value.prefixLength);
        table.add({ destination: { address: (c.value.address & mask) >>> 0, prefixLength: c.value.prefixLength }, interfaceIndex: index, kind: "connected" });
      });
      for (const r of n.routes ?? []) {
        const via = parseIpv4(r.via);
        const dst = r.destination === "default" ? { ok: true as const, value: { address: 0, prefixLength: 0 } } : parseCidr(r.destination);
        if (!via.ok || !dst.ok) continue;
        const out = table.lookup(via.value);
        if (out !== undefined) table.add({ destination: dst.value, interfaceIndex: out.interfaceIndex, nextHop: via.value });
      }
      for (const line of table.format((i) => names[i] ?? `if${i}`)) lines.push(`    route ${line}`);
      for (const r of n.routes ?? []) if (r.destination.includes(":")) lines.push(`    route ${r.destination} via ${r.via} (IPv6)`);
    } else {
      for (const r of n.routes ?? []) lines.push(`    route ${r.destination} via ${r.via}`);
    }
  }
  lines.push("", "links:");
  t.links.forEach((l, i) => lines.push(`  ${(l.name ?? `link${i}`).padEnd(12)} ${l.endpoints[0]} <-> ${l.endpoints[1]}: ${linkProperties(l)}`));
  if ((t.flows ?? []).length > 0) {
    lines.push("", "flows:");
    (t.flows ?? []).forEach((f, i) =>
      lines.push(
        `  ${(f.name ?? `flow${i}`).padEnd(12)} ${f.kind} ${f.from} -> ${f.to}, ` +
          `${flowDetails(f)}, from ${f.startMs ?? 0} ms${f.durationMs === undefined ? (f.kind === "traceroute" ? "" : " to the end") : ` for ${f.durationMs} ms`}`,
      ),
    );
  }
  return `${lines.join("\n")}\n`;
}
