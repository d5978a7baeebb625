// HTTP between netlab and real tools over a tap: curl fetches from netlab's server (small and
// large bodies, keep-alive, HTTP/1.0), and netlab's client fetches from python3's http.server.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createHttpClient } from "../../stack/app/http/index.ts";
import { createStack } from "../../stack/index.ts";
import { composeAttachedStack } from "../../harness/tap/attached-stack.ts";
import { createSeededRng } from "../../harness/time/real-clock.ts";
import { announceSkip, fetchHelloAndLarge, interopSkipReason, report, tsharkOffending, withTapLab, writeRandomFile } from "./support.ts";

const skip = announceSkip("HTTP interop", interopSkipReason(["curl", "python3", "tcpdump", "tshark"]));
const LARGE_BYTES = Number(process.env["NETLAB_INTEROP_HTTP_BYTES"] ?? 100 * 1024 * 1024);
const KERNEL = 0xc0000201;

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

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
      const seconds = await fetchHelloAndLarge(client, KERNEL, "hello from the kernel side\n", { size, sha256: expected });
      client.close();
      report(`netlab HTTP client <- python http.server ${size >> 20} MiB in ${seconds.toFixed(2)} s = ${((size * 8) / seconds / 1e6).toFixed(0)} Mbit/s`);
    });
  });
});
