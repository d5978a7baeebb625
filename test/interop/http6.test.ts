// HTTP over IPv6 between netlab and real tools over a tap: curl -6 fetches files from netlab's
// HTTP server (on stack.tcp6), sha256-checked, and netlab's client fetches from python3's
// http.server bound to the kernel's v6 address.
import { createHash } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createHttpClient, createHttpServer } from "../../stack/app/http/index.ts";
import { createStack, type Stack } from "../../stack/index.ts";
import { formatIpv6, ipv6 } from "../../stack/wire/ipv6-address.ts";
import { createStaticHandler } from "../../harness/http/static.ts";
import { createSeededRng } from "../../harness/time/real-clock.ts";
import { tsharkFields } from "../../harness/oracle/tshark.ts";
import { announceSkip, interopSkipReason, tsharkOffending, waitUntil, withTapLab } from "./support.ts";

const skip = announceSkip("HTTP over IPv6 interop", interopSkipReason(["curl", "python3", "tcpdump", "tshark"]));
/** Size of the large file (a modest default: the test runs in real time on a shared machine). */
const LARGE_BYTES = Number(process.env["NETLAB_INTEROP_HTTP6_BYTES"] ?? 16 * 1024 * 1024);
const KERNEL = "2001:db8:1::1";
const NETLAB = "2001:db8:1::2";

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
    const view = new DataView(piece.buffer);
    let x = 0x2545f491;
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

const addressReady = (stack: Stack) => () => stack.ipv6!.ndp.addresses().some((a) => a.origin === "static" && a.state === "preferred");

describe.skipIf(skip)("HTTP over IPv6 between netlab and real tools", () => {
  it(`curl -6 fetches a small file, two over one kept-alive connection, and a ${LARGE_BYTES >> 20} MiB file whose sha256 matches, from netlab's server on stack.tcp6`, async () => {
    await withTapLab("curl -6 from netlab", { ipv6: true, snaplen: 128 }, async (lab) => {
      await lab.ns.ip("-6", "addr", "add", `${KERNEL}/64`, "dev", lab.ifname, "nodad");
      const root = join(lab.dir, "www");
      mkdirSync(root);
      const small = new TextEncoder().encode("netlab over IPv6\n".repeat(300));
      writeFileSync(join(root, "small.txt"), small);
      writeFileSync(join(root, "index.html"), "<h1>netlab v6</h1>\n");
      const expected = writeRandomFile(join(root, "large.bin"), LARGE_BYTES);
      const stack = createStack({ device: lab.device, clock: lab.clock, rng: createSeededRng() }, { ipv6: { addresses: [`${NETLAB}/64`] } });
      await waitUntil(addressReady(stack), 5000, "netlab's DAD");
      const files = createStaticHandler({ root });
      const remotes = new Set<string>();
      const server = createHttpServer(
        { clock: lab.clock },
        (req, res) => {
          remotes.add(formatIpv6(stack.tcp6!.addressOf(req.remoteAddress)!));
          return files(req, res);
        },
        { serverName: "netlab" },
      );
      const listening = stack.tcp6!.listen(80);
      if (!listening.ok) throw new Error(listening.error);
      server.listen(listening.value);
      const curl = (...args: string[]) => lab.ns.exec("curl", ["-6", "-g", "-sS", "--max-time", "60", ...args], { timeoutMs: 70_000 });
      const url = (p: string) => `http://[${NETLAB}]${p}`;

      const one = await curl("-o", join(lab.dir, "small.out"), "-w", "%{http_code} %{size_download} %{remote_ip}", url("/small.txt"));
      expect(one.stdout).toBe(`200 ${small.length} ${NETLAB}`);
      expect(sha256(readFileSync(join(lab.dir, "small.out")))).toBe(sha256(small));

      const two = await curl("-o", join(lab.dir, "a.out"), "-o", join(lab.dir, "b.out"), "-w", "%{num_connects}\n", url("/small.txt"), url("/index.html"));
      expect(two.stdout).toBe("1\n0\n");
      expect(readFileSync(join(lab.dir, "b.out"), "utf8")).toBe("<h1>netlab v6</h1>\n");

      const large = await lab.ns.exec(
        "sh",
        ["-c", `curl -6 -g -sS --max-time 110 -o - -w '%{stderr}%{http_code} %{size_download} %{time_total}' '${url("/large.bin")}' | sha256sum`],
        { timeoutMs: 120_000 },
      );
      expect(large.stdout).toContain(expected);
      const [code, bytes, seconds] = large.stderr.trim().split(" ");
      expect([code, Number(bytes)]).toEqual(["200", LARGE_BYTES]);
      expect(remotes).toEqual(new Set([KERNEL]));
      expect(server.stats.requests).toBe(4);
      // The capture keeps 128 bytes a frame: tshark may flag an HTTP continuation cut short by that, which is ours, not the wire's.
      expect(tsharkOffending(lab).filter((l) => !l.includes("[Packet size limited during capture]"))).toEqual([]);
      if (lab.netlabCapture !== undefined) {
        // Every TCP segment went over IPv6 with a good checksum; netlab's SYN-ACK offered MSS 1440.
        expect(
          tsharkFields(
            lab.netlabCapture,
            ["frame.number"],
            `tcp && (ip || (tcp.checksum.status == "Bad" && !(ipv6.src == ${KERNEL} && tcp.checksum == 0xffff && tcp.checksum_calculated == 0x0000)))`,
          ),
        ).toEqual([]);
        const synAcks = tsharkFields(lab.netlabCapture, ["ipv6.src", "tcp.options.mss_val"], "tcp.flags.syn == 1 && tcp.flags.ack == 1").map((f) =>
          f.join(" "),
        );
        expect(new Set(synAcks)).toEqual(new Set([`${NETLAB} 1440`]));
      }
      report(
        `curl -6 <- netlab HTTP ${LARGE_BYTES >> 20} MiB: sha256 ok, ${Number(seconds).toFixed(2)} s = ${((LARGE_BYTES * 8) / Number(seconds) / 1e6).toFixed(0)} Mbit/s; tcp6 retransmits ${stack.tcp6!.layer.stats.retransmits}`,
      );
      server.close();
    });
  }, 180_000);

  it("netlab's client fetches a small and a large file over IPv6 from python3's http.server bound to the kernel's v6 address", async () => {
    await withTapLab("netlab client v6 from python http.server", { ipv6: true, snaplen: 256 }, async (lab) => {
      await lab.ns.ip("-6", "addr", "add", `${KERNEL}/64`, "dev", lab.ifname, "nodad");
      const root = join(lab.dir, "srv");
      mkdirSync(root);
      writeFileSync(join(root, "hello.txt"), "hello from the kernel over IPv6\n");
      const size = Math.min(LARGE_BYTES, 16 * 1024 * 1024);
      const expected = writeRandomFile(join(root, "large.bin"), size);
      const server = lab.spawn("python3", ["-m", "http.server", "8000", "--bind", KERNEL, "--directory", root]);
      await server.waitFor(/Serving HTTP/, 5000);
      const stack = createStack({ device: lab.device, clock: lab.clock, rng: createSeededRng() }, { ipv6: { addresses: [`${NETLAB}/64`] } });
      await waitUntil(addressReady(stack), 5000, "netlab's DAD");
      const client = createHttpClient({ clock: lab.clock, tcp6: stack.tcp6! });
      const host = ipv6(KERNEL);
      const small = await client.request({ host, port: 8000, path: "/hello.txt" });
      expect(small.status).toBe(200);
      expect(new TextDecoder().decode(await small.body.bytes())).toBe("hello from the kernel over IPv6\n");
      const start = performance.now();
      const large = await client.request({ host, port: 8000, path: "/large.bin", timeoutMs: 60_000 });
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
      await server.stop();
      // python's log line names the client by its v6 address.
      expect(server.output().stderr).toMatch(new RegExp(`^${NETLAB} .*"GET /large.bin HTTP/1.1" 200`, "m"));
      expect(tsharkOffending(lab)).toEqual([]);
      if (lab.netlabCapture !== undefined) {
        expect(
          tsharkFields(
            lab.netlabCapture,
            ["frame.number"],
            `tcp && (ip || (tcp.checksum.status == "Bad" && !(ipv6.src == ${KERNEL} && tcp.checksum == 0xffff && tcp.checksum_calculated == 0x0000)))`,
          ),
        ).toEqual([]);
        // The Host field is the bracketed literal (RFC 3986 §3.2.2), in both requests (snaplen 256 keeps the heads whole).
        const sent = readFileSync(lab.netlabCapture).toString("latin1");
        expect(sent.split(`\r\nHost: [${KERNEL}]:8000\r\n`).length - 1).toBe(2);
      }
      report(
        `netlab HTTP client <- python http.server over IPv6 ${size >> 20} MiB in ${seconds.toFixed(2)} s = ${((size * 8) / seconds / 1e6).toFixed(0)} Mbit/s; tcp6 retransmits ${stack.tcp6!.layer.stats.retransmits}`,
      );
    });
  }, 120_000);
});
