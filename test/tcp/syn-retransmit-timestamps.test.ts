// Regression test for a finding of harness/node's model test under loss (for H3): when the
// SYN-ACK is lost and the client retransmits its SYN, the listener answers the retransmitted
// SYN with a SYN-ACK that still echoes the FIRST SYN's TSval. The client then takes a 1 s RTT
// sample from the handshake (srtt ≈ 1004 ms, RTO ≈ 3 s) and every later loss costs seconds.
// RFC 7323 §4.3: TS.Recent takes SEG.TSval of an acceptable segment with SEG.SEQ <= Last.ACK.sent,
// which the retransmitted SYN is; Linux does the same (tcp_check_req updates req->ts_recent).
import { describe, expect, it } from "vitest";
import { createStack } from "../../stack/index.ts";
import { createPointToPointLink } from "../../stack/link/index.ts";
import type { NetDevice } from "../../stack/link/types.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { parseTcp, type TcpRepr } from "../../stack/wire/tcp.ts";
import type { TcpConnection } from "../../stack/transport/tcp/index.ts";

const SYN = 0x02,
  ACK = 0x10;

function tcpOf(frame: Uint8Array): TcpRepr | undefined {
  if (frame.length < 34 || frame[12] !== 0x08 || frame[13] !== 0x00 || frame[23] !== 6) return undefined;
  const ihl = (frame[14]! & 0x0f) * 4;
  const r = parseTcp(frame.subarray(14 + ihl));
  return r.ok ? r.value : undefined;
}

describe("TCP handshake with a lost SYN-ACK", () => {
  it("the SYN-ACK answering a retransmitted SYN echoes that SYN's TSval, so the client's first RTT sample is the path's RTT, not the 1 s retransmission timeout", () => {
    const clock = createVirtualClock(0);
    const link = createPointToPointLink(
      { clock, rng: createRng(1) },
      {
        a: { mac: 0x020000000001, impairments: { delayMs: 2 } },
        b: { mac: 0x020000000002, impairments: { delayMs: 2 } },
      },
    );
    const seen: { at: number; seg: TcpRepr }[] = [];
    let droppedSynAck = false;
    const devB: NetDevice = {
      mac: link.b.mac,
      mtu: link.b.mtu,
      offloads: link.b.offloads,
      onReceive: (h) => link.b.onReceive(h),
      send(frame) {
        const seg = tcpOf(frame.data);
        if (seg !== undefined) seen.push({ at: clock.now(), seg });
        if (seg !== undefined && (seg.flags & (SYN | ACK)) === (SYN | ACK) && !droppedSynAck) {
          droppedSynAck = true;
          return;
        }
        link.b.send(frame);
      },
    };
    const devA: NetDevice = {
      mac: link.a.mac,
      mtu: link.a.mtu,
      offloads: link.a.offloads,
      onReceive: (h) => link.a.onReceive(h),
      send(frame) {
        const seg = tcpOf(frame.data);
        if (seg !== undefined) seen.push({ at: clock.now(), seg });
        link.a.send(frame);
      },
    };
    const a = createStack({ device: devA, clock, rng: createRng(3) }, { ipv4: { cidr: "192.0.2.1/24" } });
    const b = createStack({ device: devB, clock, rng: createRng(4) }, { ipv4: { cidr: "192.0.2.2/24" } });
    const l = b.tcp.listen(80);
    if (!l.ok) throw new Error(l.error);
    const c = a.tcp.connect(0xc0000202, 80);
    if (!c.ok) throw new Error(c.error);
    let connectedAt = -1;
    c.value.onConnect(() => {
      connectedAt = clock.now();
    });
    clock.run(2000);
    const syns = seen.filter((x) => x.seg.flags === SYN);
    expect(syns.length).toBe(2);
    expect(connectedAt).toBeGreaterThan(1000);
    const retransmittedSynTsVal = syns[1]!.seg.options.tsVal;
    const answer = seen.find((x) => x.at >= syns[1]!.at && (x.seg.flags & (SYN | ACK)) === (SYN | ACK));
    expect(answer?.seg.options.tsEcr).toBe(retransmittedSynTsVal);
    expect((c.value as TcpConnection).info().srttMs).toBeLessThan(100);
  });
});
