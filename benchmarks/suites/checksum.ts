// Checksum suite: RFC 1071 sum over 1500-byte and 64 KiB buffers (GB/s), against Buffer.copy.
import { checksumAdd } from "../../stack/wire/checksum.ts";
import type { BenchCase, BenchSuite } from "../../harness/bench/types.ts";

function checksumCase(size: number, label: string): BenchCase {
  const buf = new Uint8Array(size);
  for (let i = 0; i < size; i++) buf[i] = (i * 131) & 0xff;
  let sink = 0;
  let perCpuSecond = 0;
  return {
    suite: "checksum",
    name: `checksum ${label}`,
    unit: "GB/s",
    higherIsBetter: true,
    baseline: "Buffer.copy 64KiB",
    measure(ctx) {
      const bytes = ctx.quick ? 16 << 20 : 256 << 20;
      const n = Math.max(1, Math.floor(bytes / size));
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < n; i++) sink ^= checksumAdd(buf);
      const s = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      perCpuSecond = (n * size) / ((cpu.user + cpu.system) / 1e6) / 1e9;
      if (sink === -1) throw new Error("unreachable");
      return (n * size) / s / 1e9;
    },
    details: () => ({ perCpuSecond }),
  };
}

export const suite: BenchSuite = {
  name: "checksum",
  description: "RFC 1071 Internet checksum throughput",
  cases: () => [checksumCase(1500, "1500B"), checksumCase(65536, "64KiB")],
};
