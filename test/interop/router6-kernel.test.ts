// netlab's IPv6 router (stack/net/forward6.ts) against the Linux kernel as a router, on what
// they emit. The same topology twice: A -- R -- B, the R-B link of MTU 1280, R forwarding; once
// with R the kernel (three namespaces, two veth pairs, net.ipv6.conf.all.forwarding=1, probes from A
// with scapy), once with R netlab's createRouter in virtual time (probes injected on A's wire).
// Each probe's answer is reduced to ICMPv6 type/code, the error's hop limit, its source (R's
// global address on A's link, or its link-local one), the quoted length and the PTB MTU, and the
// two routers must agree probe by probe. Recorded differences: none on these fields (EXPECTED is
// what this machine's Linux 6.18 sent); both wait out NUD (3 solicitations, 1 s apart) before code 3. Not
// compared: timing, the rate limit's parameters (Linux: net.ipv6.icmp.ratelimit 1000 ms per
// destination with a peer bucket; netlab: a global token bucket, 100/s, burst 50).
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createNetns, type Netns } from "../../harness/netns/index.ts";
import { createDevicePair } from "../../stack/link/pair.ts";
import { createRouter } from "../../stack/router.ts";
import { createStack } from "../../stack/index.ts";
import { unwrap } from "../../stack/result.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { readU16 } from "../../stack/wire/bytes.ts";
import { emitEthernet } from "../../stack/wire/ethernet.ts";
import { type Ipv6Address, formatIpv6, ipv6, isIpv6LinkLocal, linkLocalFromMac } from "../../stack/wire/ipv6-address.ts";
import { parseIpv6 } from "../../stack/wire/ipv6.ts";
import { emitIcmpv6, parseIcmpv6 } from "../../stack/wire/icmpv6.ts";
import { ipv6Packet } from "../../stack/net/ipv6-test-net.ts";
import { announceSkip, interopSkipReason } from "./support.ts";

const skip = announceSkip("IPv6 router against the kernel", interopSkipReason(["python3"]));

/** One probe from A: an echo request to `dst` with `data` bytes, hop limit `hlim`, from A's global or link-local address. */
interface Probe {
  readonly name: string;
  readonly dst: string;
  readonly data: number;
  readonly hlim: number;
  readonly linkLocalSource?: boolean;
}

const PROBES: readonly Probe[] = [
  { name: "hop limit 1", dst: "2001:db8:2::2", data: 56, hlim: 1 },
  { name: "hop limit 1, 1448-byte packet", dst: "2001:db8:2::2", data: 1400, hlim: 1 },
  { name: "too big for the 1280 link", dst: "2001:db8:2::2", data: 1400, hlim: 64 },
  { name: "no route", dst: "2001:db8:9::1", data: 56, hlim: 64 },
  { name: "address unreachable", dst: "2001:db8:2::99", data: 56, hlim: 64 },
  { name: "link-local source to a global destination", dst: "2001:db8:2::2", data: 56, hlim: 64, linkLocalSource: true },
  { name: "hop limit 2 reaches B", dst: "2001:db8:2::2", data: 56, hlim: 2 },
];

/** What a probe's answer comes down to. */
interface Answer {
  readonly type: number;
  readonly code: number;
  /** The answer's hop limit (an error from R: its originating hop limit; a reply from B: one less). */
  readonly hlim: number;
  /** "R global", "R link-local", "B" or the address. */
  readonly from: string;
  /** ICMPv6 body after the 8-byte header (the quote of an error). */
  readonly quoted: number;
  readonly mtu?: number;
}

const EXPECTED: Record<string, Answer | null> = {
  "hop limit 1": { type: 3, code: 0, hlim: 64, from: "R global", quoted: 104 },
  "hop limit 1, 1448-byte packet": { type: 3, code: 0, hlim: 64, from: "R global", quoted: 1232 },
  "too big for the 1280 link": { type: 2, code: 0, hlim: 64, from: "R global", quoted: 1232, mtu: 1280 },
  "no route": { type: 1, code: 0, hlim: 64, from: "R global", quoted: 104 },
  "address unreachable": { type: 1, code: 3, hlim: 64, from: "R global", quoted: 104 },
  "link-local source to a global destination": { type: 1, code: 2, hlim: 64, from: "R link-local", quoted: 104 },
  "hop limit 2 reaches B": { type: 129, code: 0, hlim: 63, from: "B", quoted: 56 },
};

const SCAPY = `
import json, sys
from scapy.all import Ether, IPv6, ICMPv6EchoRequest, srp1, conf, get_if_hwaddr
conf.verb = 0
iface, rmac, a_global, a_ll = sys.argv[1:5]
probes = json.loads(sys.argv[5])
for i, p in enumerate(probes):
    src = a_ll if p.get("linkLocalSource") else a_global
    req = Ether(src=get_if_hwaddr(iface), dst=rmac) / IPv6(src=src, dst=p["dst"], hlim=p["hlim"]) / ICMPv6EchoRequest(id=0x77, seq=i + 1, data=bytes(p["data"]))
    ans = srp1(req, iface=iface, timeout=6)
    if ans is None:
        print(json.dumps({"name": p["name"], "answer": None})); continue
    ip = ans[IPv6]
    raw = bytes(ip.payload)
    out = {"type": raw[0], "code": raw[1], "hlim": ip.hlim, "src": ip.src, "quoted": len(raw) - 8}
    if raw[0] == 2: out["mtu"] = int.from_bytes(raw[4:8], "big")
    print(json.dumps({"name": p["name"], "answer": out}), flush=True)
`;

const role = (src: string, rGlobal: string, b: string): string =>
  src === rGlobal ? "R global" : src === b ? "B" : src.startsWith("fe80:") ? "R link-local" : src;

async function kernelAnswers(): Promise<Record<string, Answer | null>> {
  const tag = randomBytes(2).toString("hex");
  const [a, r, b] = [await createNetns("nl-test-r6a-"), await createNetns("nl-test-r6r-"), await createNetns("nl-test-r6b-")] as [Netns, Netns, Netns];
  try {
    const nodad = (ns: Netns, addr: string, dev: string) => ns.ip("-6", "addr", "add", addr, "dev", dev, "nodad");
    await a.ip("link", "add", `a${tag}`, "type", "veth", "peer", "name", `r0${tag}`, "netns", r.name);
    await r.ip("link", "add", `r1${tag}`, "type", "veth", "peer", "name", `b${tag}`, "netns", b.name);
    await r.execChecked("sysctl", ["-qw", "net.ipv6.conf.all.forwarding=1"]);
    await a.ip("link", "set", `a${tag}`, "up");
    await r.ip("link", "set", `r0${tag}`, "up");
    await r.ip("link", "set", `r1${tag}`, "mtu", "1280", "up");
    await b.ip("link", "set", `b${tag}`, "mtu", "1280", "up");
    await nodad(a, "2001:db8:1::2/64", `a${tag}`);
    await nodad(r, "2001:db8:1::1/64", `r0${tag}`);
    await nodad(r, "2001:db8:2::1/64", `r1${tag}`);
    await nodad(b, "2001:db8:2::2/64", `b${tag}`);
    await b.ip("-6", "route", "add", "default", "via", "2001:db8:2::1");
    await a.ip("-6", "route", "add", "default", "via", "2001:db8:1::1");
    // The link-local addresses (EUI-64, DAD) come up on their own; wait for A's.
    let aLl = "";
    for (let i = 0; i < 50 && aLl === ""; i++) {
      const out = await a.ip("-6", "-o", "addr", "show", "dev", `a${tag}`, "scope", "link");
      aLl = out.includes("tentative") ? "" : (/inet6 (fe80::[0-9a-f:]+)\/64/.exec(out)?.[1] ?? "");
      if (aLl === "") await new Promise((res) => setTimeout(res, 200));
    }
    const rmac = /link\/ether ([0-9a-f:]+)/.exec(await r.ip("link", "show", `r0${tag}`))![1]!;
    const out = await a.execChecked("/usr/bin/python3", ["-c", SCAPY, `a${tag}`, rmac, "2001:db8:1::2", aLl, JSON.stringify(PROBES)], { timeoutMs: 120_000 });
    const answers: Record<string, Answer | null> = {};
    for (const line of out.trim().split("\n")) {
      const x = JSON.parse(line) as { name: string; answer: (Omit<Answer, "from"> & { src: string }) | null };
      answers[x.name] =
        x.answer === null
          ? null
          : {
              type: x.answer.type,
              code: x.answer.code,
              hlim: x.answer.hlim,
              from: role(x.answer.src, "2001:db8:1::1", "2001:db8:2::2"),
              quoted: x.answer.quoted,
              ...(x.answer.mtu === undefined ? {} : { mtu: x.answer.mtu }),
            };
    }
    return answers;
  } finally {
    await Promise.all([a.remove(), r.remove(), b.remove()]);
  }
}

function netlabAnswers(): Record<string, Answer | null> {
  const MAC_A = 0x02000000000a;
  const MAC_R0 = 0x020000000100;
  const clock = createVirtualClock();
  const left = createDevicePair(clock, { macA: MAC_A, macB: MAC_R0 });
  const right = createDevicePair(clock, { macA: 0x020000000101, macB: 0x02000000000b, mtu: 1280 });
  createRouter(
    { clock, rng: createRng(7) },
    {
      interfaces: [
        { device: left.b, cidr: "192.0.2.1/24", ipv6: ["2001:db8:1::1/64"] },
        { device: right.a, cidr: "198.51.100.1/24", ipv6: ["2001:db8:2::1/64"] },
      ],
    },
  );
  createStack({ device: right.b, clock, rng: createRng(2) }, { ipv6: { addresses: ["2001:db8:2::2/64"], gateway: "2001:db8:2::1" } });
  // A is a stack too, so that it answers R's neighbour solicitations; the probes are raw frames from its wire.
  createStack({ device: left.a, clock, rng: createRng(1) }, { ipv6: { addresses: ["2001:db8:1::2/64"], routerSolicitations: false } });
  clock.run(clock.now() + 5000);
  const aGlobal = ipv6("2001:db8:1::2");
  const aLl = linkLocalFromMac(MAC_A);
  const answers: Record<string, Answer | null> = {};
  PROBES.forEach((p, i) => {
    const src: Ipv6Address = p.linkLocalSource === true ? aLl : aGlobal;
    const dst = ipv6(p.dst);
    const m = new Uint8Array(8 + p.data);
    emitIcmpv6({ kind: "echo-request", ident: 0x77, seq: i + 1, data: new Uint8Array(p.data) }, m, 0, src, dst);
    const packet = ipv6Packet(src, dst, 58, p.hlim, m);
    const f = new Uint8Array(14 + packet.length);
    emitEthernet({ dst: MAC_R0, src: MAC_A, ethertype: 0x86dd }, f);
    f.set(packet, 14);
    const before = left.log.length;
    left.a.send({ data: f });
    clock.run(clock.now() + 6000);
    const reply = left.log
      .slice(before)
      .find((l) => l.from === "b" && readU16(l.frame.data, 12) === 0x86dd && l.frame.data[14 + 6] === 58 && l.frame.data[54]! < 133);
    if (reply === undefined) {
      answers[p.name] = null;
      return;
    }
    const ip = unwrap(parseIpv6(reply.frame.data.subarray(14)));
    const body = reply.frame.data.subarray(54, 54 + ip.payloadLength);
    const icmp = unwrap(parseIcmpv6(body, ip.src, ip.dst));
    const from = formatIpv6(ip.src);
    answers[p.name] = {
      type: body[0]!,
      code: body[1]!,
      hlim: ip.hopLimit,
      from: isIpv6LinkLocal(ip.src) ? "R link-local" : role(from, "2001:db8:1::1", "2001:db8:2::2"),
      quoted: body.length - 8,
      ...(icmp.kind === "packet-too-big" ? { mtu: icmp.mtu } : {}),
    };
  });
  return answers;
}

describe.skipIf(skip)("IPv6 forwarding: netlab's router against the kernel's", () => {
  it("answers every probe as the Linux kernel router does (type, code, hop limit, source, quoted length, MTU)", { timeout: 150_000 }, async () => {
    const kernel = await kernelAnswers();
    const netlab = netlabAnswers();
    process.stderr.write(`[interop] router6: kernel ${JSON.stringify(kernel)}\n[interop] router6: netlab ${JSON.stringify(netlab)}\n`);
    expect(kernel).toEqual(EXPECTED);
    expect(netlab).toEqual(kernel);
  });
});
