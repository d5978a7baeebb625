// Shared machinery of the Xen-path interop tests: a tap lab (support.ts: fresh namespace, tap,
// tcpdump and netlab captures, cleanup) whose tap is a port of dom0's bridge, with a domU
// behind netfront/netback on the real clock. The domU's own view (netfront frames, offload
// metadata as the stack sees it) is captured to domU-side.pcapng beside the lab's captures.
// withXenLab(name, options, fn): runs fn with the lab and the Xen attachment; always tears down.
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { withCapture } from "../../stack/link/capture.ts";
import { createPcapngWriter } from "../../stack/link/pcap/pcapng.ts";
import type { Frame, NetDevice } from "../../stack/link/types.ts";
import { createSeededRng, type RealClock, type SeededRng } from "../../harness/time/real-clock.ts";
import { startXenAttachment, withImmediateTimers, type XenAttachment, type XenAttachmentOptions } from "../../harness/xen/attach-xen.ts";
import { findTshark, wellformedFilter } from "../../harness/oracle/tshark.ts";
import { withTapLab, type TapLab, type TapLabOptions } from "./support.ts";

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

/** Writes a line to stderr, tagged like the rest of the interop suite. */
export function report(line: string): void {
  process.stderr.write(`[interop] ${line}\n`);
}

/** Writes `size` pseudo-random bytes (xorshift32) to path in 1 MiB pieces; returns their sha256. */
export function writeRandomFile(path: string, size: number): string {
  const hash = createHash("sha256");
  const fd = openSync(path, "w");
  try {
    const piece = new Uint8Array(1 << 20);
    const view = new DataView(piece.buffer);
    let x = 0x9e3779b9;
    for (let done = 0; done < size; done += piece.length) {
      const n = Math.min(piece.length, size - done);
      for (let i = 0; i + 4 <= n; i += 4) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        view.setUint32(i, x >>> 0);
      }
      hash.update(piece.subarray(0, n));
      writeSync(fd, piece, 0, n);
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
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
