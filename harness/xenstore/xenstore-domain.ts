// Domain code for the two-thread xenstore test: "server" runs xenstored over the guest's mapped
// xenstore page; "guest" runs the client library over its own page. Each thread sleeps in
// waitForUpcall after taking its events and processing the ring, so a lost notification shows up
// as a wait that times out.

import { ok } from "../../stack/result.ts";
import {
  connectInProcess,
  createXenstoreClient,
  createXenstoreRingBackend,
  createXenstoreRingFrontend,
  createXenstoreServer,
  kickVcpu,
  setPending2l,
  sharedInfoView,
  takeEvents2l,
  waitForUpcall,
  type ChannelEndpoint,
} from "../../xen-sim/index.ts";

/** What the main thread passes to each side. */
export interface XenstoreDomainData {
  role: "server" | "guest";
  guestId: number;
  page: Uint8Array;
  channel: ChannelEndpoint;
  count: number;
  waitTimeoutMs: number;
}

/** What each side reports. */
export interface XenstoreDomainReport {
  role: "server" | "guest";
  done: number;
  mismatches: number;
  watchEvents: number;
  timeouts: number;
  errors: number;
  fault: string | null;
}

const flushMicrotasks = async (): Promise<void> => {
  for (let i = 0; i < 8; i++) await Promise.resolve();
};

/** Runs one side. */
export async function run(data: XenstoreDomainData): Promise<XenstoreDomainReport> {
  const self = sharedInfoView(data.channel.sharedInfo);
  const peer = sharedInfoView(data.channel.peerSharedInfo);
  const notify = (): void => {
    if (setPending2l(peer, data.channel.peerPort)) kickVcpu(peer);
  };
  const report: XenstoreDomainReport = { role: data.role, done: 0, mismatches: 0, watchEvents: 0, timeouts: 0, errors: 0, fault: null };
  const home = `/local/domain/${data.guestId}`;

  if (data.role === "server") {
    const server = createXenstoreServer();
    const admin = createXenstoreClient(connectInProcess(server, 0));
    await admin.mkdir(home);
    await admin.setPerms(home, [{ domid: data.guestId, perm: "n" }]);
    const back = createXenstoreRingBackend({ server, domid: data.guestId, page: data.page, notify });
    for (let i = 0; i < 1_000_000; i++) {
      takeEvents2l(self, () => {});
      back.kick();
      await flushMicrotasks();
      if (server.peek(`${home}/done`) !== undefined || back.fault !== null) break;
      if (waitForUpcall(self, data.waitTimeoutMs) === "timed-out") {
        report.timeouts++;
        break;
      }
    }
    back.kick();
    const s = server.stats();
    return { ...report, done: s.requests, errors: s.errors, fault: back.fault };
  }

  const front = createXenstoreRingFrontend({ page: data.page, notify });
  const client = createXenstoreClient(front);
  const settle = async <T>(p: Promise<T>): Promise<T | undefined> => {
    let settled = false;
    let value: T | undefined;
    void p.then((v) => {
      settled = true;
      value = v;
    });
    for (let i = 0; i < 1_000_000; i++) {
      takeEvents2l(self, () => {});
      front.kick();
      await flushMicrotasks();
      if (settled) return value;
      if (waitForUpcall(self, data.waitTimeoutMs) === "timed-out") {
        report.timeouts++;
        return undefined;
      }
    }
    return undefined;
  };

  await settle(
    client.watch("data", () => {
      report.watchEvents++;
    }),
  );
  for (let i = 0; i < data.count && report.timeouts === 0; i++) {
    const value = `${i}:`.padEnd(100 + ((i * 131) % 800), String.fromCharCode(97 + (i % 26)));
    const w = await settle(
      client.transaction(async (tx) => {
        const r = await tx.write(`data/${i % 16}`, value);
        return r.ok ? ok(undefined) : r;
      }),
    );
    const r = await settle(client.read(`data/${i % 16}`));
    if (!w?.ok || !r?.ok || r.value !== value) report.mismatches++;
    report.done++;
  }
  await settle(client.write("done", "1"));
  front.kick();
  report.fault = front.fault;
  return report;
}
