// Shared machinery of the Xen-path interop tests: a tap lab (support.ts: fresh namespace, tap,
// tcpdump and netlab captures, cleanup) whose tap is a port of dom0's bridge, with a domU
// behind netfront/netback on the real clock. The domU's own view (netfront frames, offload
// metadata as the stack sees it) is captured to domU-side.pcapng beside the lab's captures.
// withXenLab(name, options, fn): runs fn with the lab and the Xen attachment; always tears down.
// watchXenPath(x): from now on no peer errors, no drops on the path; check() when done.
import { spawnSync } from "node:child_process";
import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { withCapture } from "../../stack/link/capture.ts";
import { createPcapngWriter } from "../../stack/link/pcap/pcapng.ts";
import type { Frame, NetDevice } from "../../stack/link/types.ts";
import { createSeededRng, type RealClock, type SeededRng } from "../../harness/time/real-clock.ts";
import { startXenAttachment, withImmediateTimers, type XenAttachment, type XenAttachmentOptions } from "../../harness/xen/attach-xen.ts";
import { findTshark, wellformedFilter } from "../../harness/oracle/tshark.ts";
import { waitUntil, withTapLab, type TapLab, type TapLabOptions } from "./support.ts";

export { report, writeRandomFile } from "./support.ts";

/** What a Xen lab gives the test body. */
export interface XenLab {
  readonly lab: TapLab;
  readonly xen: XenAttachment;
  /** The clock everything on the Xen path runs on (the lab's real clock, due timers on setImmediate). */
  readonly clock: RealClock;
  readonly rng: SeededRng;
  /** The netfront wrapped with the domU-side capture: give this one to the stack. */
  readonly device: NetDevice;
}

/** Options of withXenLab(). */
export interface XenLabOptions extends TapLabOptions {
  readonly xen?: XenAttachmentOptions;
}

/** Runs fn with a tap lab whose tap is bridged to a domU's netfront. */
export async function withXenLab<T>(testName: string, options: XenLabOptions, fn: (x: XenLab) => Promise<T>): Promise<T> {
  return withTapLab(`xen ${testName}`, options, async (lab) => {
    const clock = withImmediateTimers(lab.clock);
    const rng = createSeededRng();
    const xen = await startXenAttachment({ clock, rng, link: lab.device }, options.xen);
    let fd: number | undefined;
    let flush = (): void => undefined;
    try {
      let device: NetDevice = xen.netfront;
      if (options.capture ?? true) {
        const file = openSync(join(lab.dir, "domU-side.pcapng"), "w");
        fd = file;
        let pending: Uint8Array[] = [];
        let pendingBytes = 0;
        flush = () => {
          if (pendingBytes === 0) return;
          writeSync(file, Buffer.concat(pending, pendingBytes));
          pending = [];
          pendingBytes = 0;
        };
        const writer = createPcapngWriter(
          (chunk) => {
            pending.push(chunk.slice());
            pendingBytes += chunk.length;
            if (pendingBytes >= 1 << 20) flush();
          },
          { snaplen: options.snaplen ?? 256, timeOffsetMs: clock.epochMs },
        );
        device = withCapture(xen.netfront, writer, { clock, name: "domU-eth0", description: "netfront in the domU", annotate: describeOffload });
      }
      return await fn({ lab, xen, clock, rng, device });
    } catch (e) {
      if (e instanceof Error)
        e.message += `\n[interop] domU-side.pcapng (netfront view, partial checksums where csum_blank) is beside them; xen counters ${JSON.stringify(xen.counters())}`;
      throw e;
    } finally {
      await xen.close();
      clock.close();
      flush();
      if (fd !== undefined) closeSync(fd);
    }
  });
}

/** The offload metadata of a frame as a pcapng comment ("csum_blank data_validated gso=1448"). */
function describeOffload(frame: Frame): string | undefined {
  const o = frame.offload;
  if (o === undefined) return undefined;
  const parts = [
    o.csumBlank === true ? "csum_blank" : "",
    o.dataValidated === true ? "data_validated" : "",
    (o.gsoSize ?? 0) > 0 ? `gso=${o.gsoSize}` : "",
  ].filter((p) => p !== "");
  return parts.length > 0 ? parts.join(" ") : undefined;
}

/**
 * tshark's well-formedness filter over netlab's tap-side capture, with `dataPorts` decoded as
 * plain data: random bulk payloads otherwise trip heuristic dissectors (a 1448-byte slice of
 * urandom read as a malformed Thrift message) although every header and checksum is right.
 */
export function tsharkOffendingBulk(lab: TapLab, dataPorts: readonly number[]): string[] {
  if (lab.netlabCapture === undefined) return [];
  lab.flushCapture();
  const tshark = findTshark();
  if (tshark === undefined) throw Object.assign(new Error("tshark is not installed"), { code: "ERR_NETLAB_TSHARK_MISSING" });
  const r = spawnSync(
    tshark,
    [
      "-n",
      "-r",
      lab.netlabCapture,
      "-o",
      "ip.check_checksum:TRUE",
      "-o",
      "tcp.check_checksum:TRUE",
      "-o",
      "udp.check_checksum:TRUE",
      ...dataPorts.flatMap((port) => ["-d", `tcp.port==${port},data`]),
      "-Y",
      // The kernel's software checksum may write 0xFFFF for a sum of 0x0000 (see tsharkOffending).
      wellformedFilter({ acceptTcpChecksumFfffFrom: lab.kernelAddress === undefined ? [] : [lab.kernelAddress] }),
    ],
    { encoding: "utf8", timeout: 120_000, maxBuffer: 64 << 20 },
  );
  if (r.status !== 0)
    throw Object.assign(new Error(`tshark failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr}`), { code: "ERR_NETLAB_TSHARK_FAILED" });
  return r.stdout.split("\n").filter((l) => l.trim() !== "");
}

/**
 * Starts watching the Xen path; the returned check() holds it, from the watch on, to no peer
 * errors and no drops in bridge, netback or netfront, waits until netback took every frame
 * netfront queued, and returns the frame counts for the report. From the watch on: what the kernel
 * sends as its interface comes up (DAD, MLD reports) can reach the bridge before the vif is
 * connected, and netback drops it then (Linux's vif has no carrier yet).
 */
export function watchXenPath({ xen, lab }: XenLab): () => Promise<string> {
  const before = xen.counters();
  return async () => {
    await waitUntil(
      () => xen.counters()["netback.txFrames"] === xen.counters()["netfront.txFrames"],
      1000,
      "netback to take every frame netfront put on the tx ring",
    );
    const x = xen.counters();
    const since = (key: string): number => (x[key] ?? 0) - (before[key] ?? 0);
    expect(xen.peerErrors).toEqual([]);
    expect({ bridge: since("bridge.link.dropped"), netback: since("netback.rxDropped"), netfront: since("netfront.rxDropped") }).toEqual({
      bridge: 0,
      netback: 0,
      netfront: 0,
    });
    // What the domU sent left through the tap: the bridge forwards every frame netback hands it to the link.
    expect(x["bridge.link.txFrames"]).toBe(lab.tap.counters.txFrames);
    return `netfront tx/rx frames ${x["netfront.txFrames"]}/${x["netfront.rxFrames"]}, tap tx/rx ${lab.tap.counters.txFrames}/${lab.tap.counters.rxFrames}`;
  };
}
