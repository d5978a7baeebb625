// blk suite: blkfront in a domU against blkback in dom0 on the simulated hypervisor (rings,
// grants, event channels; xen-sim/blk createBlkWorld), one thread, virtual time. Sequential
// MB/s (128 KiB requests, 8 in flight) and 4 KiB random IOPS (32 in flight), reads and writes,
// with the memory image and with an image file (benchmarks/lib/file-storage.ts).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { BenchCase, BenchSuite } from "../../harness/bench/types.ts";
import { createRng } from "../../stack/time.ts";
import { createMemoryStorage } from "../../xen-sim/blk/memory-storage.ts";
import { createBlkWorld } from "../../xen-sim/blk/sim-world.ts";
import type { BlockStorage } from "../../xen-sim/blk/types.ts";
import { createFileStorage } from "../lib/file-storage.ts";
import { cpuMsSince } from "../lib/sim.ts";

const IMAGE_SECTORS = (64 << 20) / 512;

type Backend = "memory" | "file";
type Pattern = "sequential read" | "sequential write" | "4KiB random read" | "4KiB random write";

function blkCase(backend: Backend, pattern: Pattern): BenchCase {
  let details: Record<string, unknown> = {};
  const random = pattern.startsWith("4KiB");
  const write = pattern.endsWith("write");
  return {
    suite: "blk",
    name: `${pattern} (${backend})`,
    unit: random ? "IOPS" : "MB/s",
    higherIsBetter: true,
    ...(random && backend === "memory" ? { target: { value: 100_000, kind: "min" as const } } : {}),
    async measure(ctx) {
      const dir = backend === "file" ? mkdtempSync(path.join(tmpdir(), "netlab-bench-blk-")) : undefined;
      const storage: BlockStorage =
        dir === undefined ? createMemoryStorage({ sectors: IMAGE_SECTORS }) : createFileStorage(path.join(dir, "xvda.img"), IMAGE_SECTORS);
      try {
        const world = await createBlkWorld(storage);
        await world.connect();
        const clock = world.clock;
        const front = world.front;
        const ioBytes = random ? 4096 : 128 * 1024;
        const depth = random ? 32 : 8;
        const totalOps = random ? (ctx.quick ? 2000 : 60_000) : Math.floor((ctx.quick ? 8 << 20 : 256 << 20) / ioBytes);
        const rng = createRng(9);
        const buffers = Array.from({ length: depth }, () => new Uint8Array(ioBytes).fill(0xa5));
        const spanSectors = IMAGE_SECTORS - ioBytes / 512;
        let issued = 0,
          completed = 0,
          errors = 0,
          seqSector = 0;
        let firstError: string | undefined;
        const issue = (slot: number): void => {
          if (issued >= totalOps) return;
          issued++;
          let sector: number;
          if (random) sector = rng.nextInt(spanSectors / 8) * 8;
          else {
            sector = seqSector;
            seqSector = (seqSector + ioBytes / 512) % (spanSectors + 1);
          }
          const done = (r: { ok: boolean; error?: string }): void => {
            completed++;
            if (!r.ok) {
              errors++;
              firstError ??= r.error;
            }
            issue(slot);
          };
          if (write) front.submitWrite(sector, buffers[slot]!, done);
          else front.submitRead(sector, buffers[slot]!, done);
        };
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        for (let s = 0; s < depth; s++) issue(s);
        for (let turns = 0; completed < totalOps && turns < 10_000_000; turns++) {
          const fired = clock.run(clock.now() + 1000);
          if (fired === 0) await Promise.resolve();
        }
        const wallMs = performance.now() - t0;
        if (completed < totalOps || errors > 0) throw new Error(`${completed} of ${totalOps} completed, ${errors} errors (${firstError ?? ""})`);
        const cpuMs = cpuMsSince(cpu0);
        const rate = (ms: number): number => (random ? totalOps / (ms / 1000) : (totalOps * ioBytes) / (ms / 1000) / 1e6);
        details = {
          operations: totalOps,
          ioBytes,
          depth,
          wallMs: Math.round(wallMs),
          cpuMs: Math.round(cpuMs),
          perCpuSecond: rate(cpuMs),
          frontend: { ...front.stats },
        };
        await world.settle(front.close()).catch(() => undefined);
        return rate(wallMs);
      } finally {
        storage.close();
        if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      }
    },
    details: () => details,
  };
}

export const suite: BenchSuite = {
  name: "blk",
  description: "blkfront/blkback on the simulated hypervisor: sequential MB/s and 4 KiB random IOPS, memory and file images",
  cases: () =>
    (["memory", "file"] as const).flatMap((b) =>
      (["sequential read", "sequential write", "4KiB random read", "4KiB random write"] as const).map((p) => blkCase(b, p)),
    ),
};
