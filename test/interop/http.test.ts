// HTTP between netlab and real tools over a tap: curl fetches from netlab's server (small and
// large bodies, keep-alive, HTTP/1.0), and netlab's client fetches from python3's http.server.
import { createHash } from "node:crypto";
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createHttpClient } from "../../stack/app/http/index.ts";
import { createStack } from "../../stack/index.ts";
import { composeAttachedStack } from "../../harness/tap/attached-stack.ts";
import { createSeededRng } from "../../harness/time/real-clock.ts";
import { announceSkip, interopSkipReason, tsharkOffending, withTapLab } from "./support.ts";

const skip = announceSkip("HTTP interop", interopSkipReason(["curl", "python3", "tcpdump", "tshark"]));
const LARGE_BYTES = Number(process.env["NETLAB_INTEROP_HTTP_BYTES"] ?? 100 * 1024 * 1024);
const KERNEL = 0xc0000201;

function report(line: string): void {
  process.stderr.write(`[interop] ${line}\n`);
}

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** Writes `size` pseudo-random bytes to path in 1 MiB pieces; returns their sha256. */
function writeRandomFile(path: string, size: number): string {
  const hash = createHash("sha256");
  const fd = openSync(path, "w");
  try {
    const piece = new Uint8Array(1 << 20);
    let x = 0x9e3779b9;
    for (let done = 0; done < size; done += piece.length) {
      const n = Math.min(piece.length, size - done);
      const view = new DataView(piece.buffer);
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

describe.skipIf(skip)("HTTP between netlab and real tools", () => {
  it("serves curl a small file, two files over one kept-alive connection, and the same file over HTTP/1.0", async () => {
    await withTapLab("curl small from netlab", {}, async (lab) => {
      const root = join(lab.dir, "www");
      (await import("node:fs")).mkdirSync(root);
      const small = new TextEncoder().encode("netlab says hello\n".repeat(200));
      writeFileSync(join(root, "small.txt"), small);
      writeFileSync(join(root, "index.html"), "<h1>netlab</h1>\n");
      const attached = await composeAttachedStack(
        { device: lab.device, clock: lab.clock, rng: createSeededRng() },
        { address: { kind: "static", cidr: { address: 0xc0000202, prefixLength: 24 } }, http: { root, port: 80 } },
      );
      const curl = (...args: string[]) => lab.ns.exec("curl", ["-sS", "--max-time", "10", ...args], { timeoutMs: 15_000 });

      const one = await curl("-o", join(lab.dir, "small.out"), "-w", "%{http_code} %{size_download} %{http_version}", "http://192.0.2.2/small.txt");
      expect(one.stdout).toBe(`200 ${small.length} 1.1`);
      expect(sha256(readFileSync(join(lab.dir, "small.out")))).toBe(sha256(small));

      const before = attached.http!.stats.connections;
      const two = await curl(
        "-o",
        join(lab.dir, "a.out"),
        "-o",
        join(lab.dir, "b.out"),
        "-w",
        "%{num_connects}\n",
        "http://192.0.2.2/small.txt",
        "http://192.0.2.2/index.html",
      );
      expect(two.stdout).toBe("1\n0\n");
      expect(attached.http!.stats.connections - before).toBe(1);
      expect(readFileSync(join(lab.dir, "b.out"), "utf8")).toBe("<h1>netlab</h1>\n");
      expect(sha256(readFileSync(join(lab.dir, "a.out")))).toBe(sha256(small));

      const old = await curl("--http1.0", "-D", "-", "-o", join(lab.dir, "old.out"), "http://192.0.2.2/small.txt");
      expect(old.stdout).toMatch(/^HTTP\/1\.[01] 200 /);
      expect(old.stdout).toMatch(/content-length: 3600\r\n/i);
      expect(sha256(readFileSync(join(lab.dir, "old.out")))).toBe(sha256(small));

      const missing = await curl("-o", "/dev/null", "-w", "%{http_code}", "http://192.0.2.2/nope.txt");
      expect(missing.stdout).toBe("404");
      expect(tsharkOffending(lab)).toEqual([]);
      await attached.stop();
    });
  });

  it(`serves curl a ${LARGE_BYTES >> 20} MiB file whose sha256 matches`, async () => {
    await withTapLab("curl large from netlab", { snaplen: 96 }, async (lab) => {
      const root = join(lab.dir, "www");
      (await import("node:fs")).mkdirSync(root);
      const expected = writeRandomFile(join(root, "large.bin"), LARGE_BYTES);
      const attached = await composeAttachedStack(
        { device: lab.device, clock: lab.clock, rng: createSeededRng() },
        { address: { kind: "static", cidr: { address: 0xc0000202, prefixLength: 24 } }, http: { root, port: 80 } },
      );
      const r = await lab.ns.exec(
        "sh",
        [
          "-c",
          "curl -sS --max-time 110 -o - -w '%{stderr}%{http_code} %{size_download} %{time_total} %{speed_download}' http://192.0.2.2/large.bin | sha256sum",
        ],
        { timeoutMs: 120_000 },
      );
      expect(r.stdout).toContain(expected);
      const [code, bytes, seconds, speed] = r.stderr.trim().split(" ");
      expect(code).toBe("200");
      expect(Number(bytes)).toBe(LARGE_BYTES);
      report(
        `curl <- netlab HTTP ${LARGE_BYTES >> 20} MiB: sha256 ok, ${Number(seconds).toFixed(2)} s = ${((Number(speed) * 8) / 1e6).toFixed(0)} Mbit/s; tcp retransmits ${attached.stack.tcp.stats.retransmits}`,
      );
      await attached.stop();
    });
  }, 300_000);

  it("fetches a small and a large file from python3's http.server with netlab's HTTP client", async () => {
    await withTapLab("netlab client from python http.server", { snaplen: 96 }, async (lab) => {
      const root = join(lab.dir, "srv");
      (await import("node:fs")).mkdirSync(root);
      writeFileSync(join(root, "hello.txt"), "hello from the kernel side\n");
      const size = Math.min(LARGE_BYTES, 16 * 1024 * 1024);
      const expected = writeRandomFile(join(root, "large.bin"), size);
      const server = lab.spawn("python3", ["-m", "http.server", "8000", "--bind", "192.0.2.1", "--directory", root]);
      await server.waitFor(/Serving HTTP/, 5000);
      const stack = createStack({ device: lab.device, clock: lab.clock, rng: createSeededRng() }, { ipv4: { cidr: "192.0.2.2/24" } });
      const client = createHttpClient({ clock: lab.clock, tcp: stack.tcp });
      const small = await client.request({ host: KERNEL, port: 8000, path: "/hello.txt" });
      expect(small.status).toBe(200);
      expect(new TextDecoder().decode(await small.body.bytes())).toBe("hello from the kernel side\n");
      const start = performance.now();
      const large = await client.request({ host: KERNEL, port: 8000, path: "/large.bin", timeoutMs: 60_000 });
      expect(large.status).toBe(200);
      expect(large.headers.get("content-length")).toBe(String(size));
      const hash = createHash("sha256");
      let received = 0;
      await new Promise<void>((resolve, reject) => {
        large.body.onData((d) => {
          hash.update(d);
          received += d.length;
        });
        large.body.onEnd(() => resolve());
        large.body.onError(reject);
      });
      const seconds = (performance.now() - start) / 1000;
      expect(received).toBe(size);
      expect(hash.digest("hex")).toBe(expected);
      client.close();
      report(`netlab HTTP client <- python http.server ${size >> 20} MiB in ${seconds.toFixed(2)} s = ${((size * 8) / seconds / 1e6).toFixed(0)} Mbit/s`);
    });
  });
});
