// HTTP over IPv6 between netlab and real tools over a tap: curl -6 fetches files from netlab's
// HTTP server (on stack.tcp6), sha256-checked, and netlab's client fetches from python3's
// http.server bound to the kernel's v6 address (ipv6-scenarios.ts, run again through the Xen path by
// xen-http6.test.ts), once more with the kernel's checksum offload on the tap.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createHttpServer } from "../../stack/app/http/index.ts";
import { createStack } from "../../stack/index.ts";
import { formatIpv6 } from "../../stack/wire/ipv6-address.ts";
import { createStaticHandler } from "../../harness/http/static.ts";
import { createSeededRng } from "../../harness/time/real-clock.ts";
import { tsharkFields } from "../../harness/oracle/tshark.ts";
import { announceSkip, interopSkipReason, report, tsharkOffending, waitUntil, withTapLab, writeRandomFile } from "./support.ts";
import { addressReady, clientFetchesFromKernel, KERNEL6, NETLAB6, tapSite } from "./ipv6-scenarios.ts";

const skip = announceSkip("HTTP over IPv6 interop", interopSkipReason(["curl", "python3", "tcpdump", "tshark"]));
/** Size of the large file (a modest default: the test runs in real time on a shared machine). */
const LARGE_BYTES = Number(process.env["NETLAB_INTEROP_HTTP6_BYTES"] ?? 16 * 1024 * 1024);

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

describe.skipIf(skip)("HTTP over IPv6 between netlab and real tools", () => {
  it(`curl -6 fetches a small file, two over one kept-alive connection, and a ${LARGE_BYTES >> 20} MiB file whose sha256 matches, from netlab's server on stack.tcp6`, async () => {
    await withTapLab("curl -6 from netlab", { ipv6: true, snaplen: 128 }, async (lab) => {
      await lab.ns.ip("-6", "addr", "add", `${KERNEL6}/64`, "dev", lab.ifname, "nodad");
      const root = join(lab.dir, "www");
      mkdirSync(root);
      const small = new TextEncoder().encode("netlab over IPv6\n".repeat(300));
      writeFileSync(join(root, "small.txt"), small);
      writeFileSync(join(root, "index.html"), "<h1>netlab v6</h1>\n");
      const expected = writeRandomFile(join(root, "large.bin"), LARGE_BYTES);
      const stack = createStack({ device: lab.device, clock: lab.clock, rng: createSeededRng() }, { ipv6: { addresses: [`${NETLAB6}/64`] } });
      await waitUntil(addressReady(stack, "static"), 5000, "netlab's DAD");
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
      const url = (p: string) => `http://[${NETLAB6}]${p}`;

      const one = await curl("-o", join(lab.dir, "small.out"), "-w", "%{http_code} %{size_download} %{remote_ip}", url("/small.txt"));
      expect(one.stdout).toBe(`200 ${small.length} ${NETLAB6}`);
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
      expect(remotes).toEqual(new Set([KERNEL6]));
      expect(server.stats.requests).toBe(4);
      // The capture keeps 128 bytes a frame: tshark may flag an HTTP continuation cut short by that, which is ours, not the wire's.
      expect(tsharkOffending(lab, [KERNEL6]).filter((l) => !l.includes("[Packet size limited during capture]"))).toEqual([]);
      if (lab.netlabCapture !== undefined) {
        // Every TCP segment went over IPv6 with a good checksum; netlab's SYN-ACK offered MSS 1440.
        expect(
          tsharkFields(
            lab.netlabCapture,
            ["frame.number"],
            `tcp && (ip || (tcp.checksum.status == "Bad" && !(ipv6.src == ${KERNEL6} && tcp.checksum == 0xffff && tcp.checksum_calculated == 0x0000)))`,
          ),
        ).toEqual([]);
        const synAcks = tsharkFields(lab.netlabCapture, ["ipv6.src", "tcp.options.mss_val"], "tcp.flags.syn == 1 && tcp.flags.ack == 1").map((f) =>
          f.join(" "),
        );
        expect(new Set(synAcks)).toEqual(new Set([`${NETLAB6} 1440`]));
      }
      report(
        `curl -6 <- netlab HTTP ${LARGE_BYTES >> 20} MiB: sha256 ok, ${Number(seconds).toFixed(2)} s = ${((LARGE_BYTES * 8) / Number(seconds) / 1e6).toFixed(0)} Mbit/s; tcp6 retransmits ${stack.tcp6!.layer.stats.retransmits}`,
      );
      server.close();
    });
  }, 180_000);

  it("netlab's client fetches a small and a large file over IPv6 from python3's http.server bound to the kernel's v6 address", async () => {
    const { figure } = await withTapLab("netlab client v6 from python http.server", { ipv6: true, snaplen: 256 }, (lab) =>
      clientFetchesFromKernel(tapSite(lab), Math.min(LARGE_BYTES, 16 * 1024 * 1024)),
    );
    report(figure);
  }, 120_000);

  it("netlab's client fetches the same over IPv6 with the kernel's checksum offload on the tap (its segments arrive with partial checksums, csumBlank)", async () => {
    const { figure, stack } = await withTapLab(
      "netlab client v6 tap offloads",
      { ipv6: true, snaplen: 256, offloadsOff: false, tap: { txOffloads: true, rxOffloads: true } },
      (lab) => clientFetchesFromKernel(tapSite(lab), 4 * 1024 * 1024, { kernelPartialChecksums: true }),
    );
    expect(stack.counters().tcp6Adapter?.drops ?? {}).not.toHaveProperty("bad-checksum");
    report(`kernel offloads on: ${figure}`);
  }, 60_000);
});
