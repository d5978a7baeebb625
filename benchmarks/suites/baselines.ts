// Baselines measured in the same run: Buffer.copy bandwidth (the bound for any copying design),
// Node's net over loopback, and the Linux kernel's TCP over veth between two namespaces (iperf3).
import net from "node:net";
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import type { BenchCase, BenchSuite } from "../../harness/bench/types.ts";

const copyCase: BenchCase = {
  suite: "baselines",
  name: "Buffer.copy 64KiB",
  unit: "GB/s",
  higherIsBetter: true,
  measure(ctx) {
    const src = Buffer.alloc(65536, 7),
      dst = Buffer.alloc(65536);
    const n = ctx.quick ? 2000 : 100_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) src.copy(dst);
    return (n * 65536) / ((performance.now() - t0) / 1000) / 1e9;
  },
};

const nodeNetCase: BenchCase = {
  suite: "baselines",
  name: "Node net loopback",
  unit: "Gbit/s",
  higherIsBetter: true,
  async measure(ctx) {
    const total = ctx.quick ? 32 << 20 : 1 << 30;
    const chunk = Buffer.alloc(1 << 16, 1);
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      return await new Promise<number>((resolve, reject) => {
        let received = 0;
        let t0 = 0;
        server.on("connection", (s) =>
          s.on("data", (d: Buffer) => {
            received += d.length;
            if (received >= total) {
              resolve((total * 8) / ((performance.now() - t0) / 1000) / 1e9);
              s.destroy();
            }
          }),
        );
        const c = net.connect(port, "127.0.0.1", () => {
          t0 = performance.now();
          let sent = 0;
          const pump = (): void => {
            while (sent < total) {
              sent += chunk.length;
              if (!c.write(chunk)) {
                c.once("drain", pump);
                return;
              }
            }
            c.end();
          };
          pump();
        });
        c.on("error", reject);
      });
    } finally {
      server.close();
    }
  },
};

function kernelMissing(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (network namespaces)";
  for (const tool of ["ip", "iperf3"]) {
    try {
      execFileSync("which", [tool], { stdio: "ignore" });
    } catch {
      return `${tool} not installed (npm run setup)`;
    }
  }
  if (!existsSync("/var/run/netns") && !existsSync("/run")) return "no /run for namespaces";
  return undefined;
}

let kernelDetails: Record<string, unknown> = {};
const kernelVethCase: BenchCase = {
  suite: "baselines",
  name: "Linux TCP over veth (iperf3)",
  unit: "Gbit/s",
  higherIsBetter: true,
  runs: 3,
  realPeer: true,
  available: kernelMissing,
  async measure(ctx) {
    const tag = `nlb${process.pid % 10000}`;
    const a = `${tag}a`,
      b = `${tag}b`;
    const sh = (...args: string[]): void => {
      execFileSync("ip", args, { stdio: "ignore", timeout: 10_000 });
    };
    const seconds = ctx.quick ? 1 : 3;
    try {
      sh("netns", "add", a);
      sh("netns", "add", b);
      sh("link", "add", `${tag}x`, "netns", a, "type", "veth", "peer", "name", `${tag}y`, "netns", b);
      sh("-n", a, "addr", "add", "198.51.100.1/24", "dev", `${tag}x`);
      sh("-n", b, "addr", "add", "198.51.100.2/24", "dev", `${tag}y`);
      sh("-n", a, "link", "set", `${tag}x`, "up");
      sh("-n", b, "link", "set", `${tag}y`, "up");
      const server = spawn("ip", ["netns", "exec", b, "iperf3", "-s", "-1", "-B", "198.51.100.2"], { stdio: "ignore" });
      await new Promise((r) => setTimeout(r, 300));
      const out = execFileSync("ip", ["netns", "exec", a, "iperf3", "-c", "198.51.100.2", "-t", String(seconds), "-J"], {
        timeout: (seconds + 10) * 1000,
      }).toString();
      server.kill();
      const doc = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } };
      kernelDetails = { seconds };
      return doc.end.sum_received.bits_per_second / 1e9;
    } finally {
      for (const ns of [a, b]) {
        try {
          sh("netns", "del", ns);
        } catch {
          /* not created */
        }
      }
    }
  },
  details: () => kernelDetails,
};

export const suite: BenchSuite = {
  name: "baselines",
  description: "references in the same run: Buffer.copy, Node net over loopback, kernel TCP over veth",
  cases: () => [copyCase, nodeNetCase, kernelVethCase],
};
