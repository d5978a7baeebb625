// Domain code for the two-thread ring test: a frontend that sends `count` requests in random
// batches and checks every response, and a backend that answers each request. Each side sleeps
// in waitForUpcall only after takeEvents2l and a final check, exactly as a Xen driver does, so a
// lost notification shows up as a wait that times out.

import { createRng } from "../../stack/time.ts";
import {
  createBackRing,
  createFrontRing,
  kickVcpu,
  setPending2l,
  sharedInfoView,
  takeEvents2l,
  waitForUpcall,
  type ChannelEndpoint,
} from "../../xen-sim/index.ts";

/** What the main thread passes to each side. */
export interface RingDomainData {
  role: "front" | "back";
  ringPage: Uint8Array;
  channel: ChannelEndpoint;
  count: number;
  seed: number;
  waitTimeoutMs: number;
}

/** What each side reports. */
export interface RingDomainReport {
  role: "front" | "back";
  handled: number;
  outOfOrder: number;
  notifies: number;
  suppressed: number;
  waits: number;
  timeouts: number;
  illBehaved: number;
  /** Wall time of the loop (performance.now), for throughput figures. */
  elapsedMs: number;
}

const SLOT = 8;
const u32 = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);

/** Runs one side until `count` entries went through (or a wait times out). */
export function run(data: RingDomainData): RingDomainReport {
  const started = performance.now();
  const report = loop(data);
  report.elapsedMs = performance.now() - started;
  return report;
}

function loop(data: RingDomainData): RingDomainReport {
  const self = sharedInfoView(data.channel.sharedInfo);
  const peer = sharedInfoView(data.channel.peerSharedInfo);
  const rng = createRng(data.seed);
  const report: RingDomainReport = {
    role: data.role,
    handled: 0,
    outOfOrder: 0,
    notifies: 0,
    suppressed: 0,
    waits: 0,
    timeouts: 0,
    illBehaved: 0,
    elapsedMs: 0,
  };
  const notifyPeer = (notify: boolean): void => {
    if (!notify) {
      report.suppressed++;
      return;
    }
    report.notifies++;
    if (setPending2l(peer, data.channel.peerPort)) kickVcpu(peer);
  };
  const sleep = (): boolean => {
    report.waits++;
    if (waitForUpcall(self, data.waitTimeoutMs) === "timed-out") {
      report.timeouts++;
      return false;
    }
    return true;
  };
  const slot = new Uint8Array(SLOT);
  const view = new DataView(slot.buffer);
  const out = new Uint8Array(SLOT);

  if (data.role === "front") {
    const ring = createFrontRing([data.ringPage], { slotSize: SLOT });
    let sent = 0;
    for (;;) {
      let batch = 1 + rng.nextInt(48);
      let queued = false;
      while (batch-- > 0 && sent < data.count && ring.freeRequests() > 0) {
        view.setUint32(0, sent, true);
        ring.queueRequest(slot);
        sent++;
        queued = true;
      }
      if (queued) notifyPeer(ring.pushRequests());
      for (let n = rng.nextInt(64); n >= 0; n--) {
        const r = ring.takeResponse(out);
        if (!r.ok) {
          if (r.error === "ill-behaved-peer") report.illBehaved++;
          break;
        }
        if (u32(r.value) !== (report.handled ^ 0x5a5a5a5a) >>> 0) report.outOfOrder++;
        report.handled++;
      }
      if (report.handled === data.count || report.illBehaved > 0) return report;
      if (sent < data.count && ring.freeRequests() > 0) continue;
      takeEvents2l(self, () => {});
      const more = ring.finalCheckForResponses();
      if (!more.ok) {
        report.illBehaved++;
        return report;
      }
      if (!more.value && !sleep()) return report;
    }
  }

  const ring = createBackRing([data.ringPage], { slotSize: SLOT });
  let pending = 0;
  for (;;) {
    for (let n = 1 + rng.nextInt(64); n > 0; n--) {
      const r = ring.takeRequest(out);
      if (!r.ok) {
        if (r.error === "ill-behaved-peer") report.illBehaved++;
        break;
      }
      if (u32(r.value) !== report.handled) report.outOfOrder++;
      view.setUint32(0, (u32(r.value) ^ 0x5a5a5a5a) >>> 0, true);
      ring.queueResponse(slot);
      report.handled++;
      pending++;
    }
    if (pending > 0 && (rng.nextInt(3) > 0 || report.handled === data.count)) {
      notifyPeer(ring.pushResponses());
      pending = 0;
    }
    if (report.illBehaved > 0 || (report.handled === data.count && pending === 0)) return report;
    if (pending > 0) continue;
    takeEvents2l(self, () => {});
    const more = ring.finalCheckForRequests();
    if (!more.ok) {
      report.illBehaved++;
      return report;
    }
    if (!more.value && !sleep()) return report;
  }
}
