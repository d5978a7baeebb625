// HTTP through the Xen path: curl in the kernel's namespace fetches from netlab's HTTP server
// running in a domU behind netfront/netback/bridge/tap, small files (keep-alive, HTTP/1.0) and
// a large body whose sha256 must match; once with the stack's TSO/csum_blank segmented and
// completed by dom0's bridge, once with no offloads on the rings at all.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { composeAttachedStack } from "../../harness/tap/attached-stack.ts";
import { announceSkip, interopSkipReason, tsharkOffending, waitUntil } from "./support.ts";
import { report, withXenLab, writeRandomFile } from "./xen-support.ts";

const skip = announceSkip("Xen-path HTTP interop", interopSkipReason(["curl", "tcpdump", "tshark", "sha256sum"]));
const LARGE_BYTES = Number(process.env["NETLAB_INTEROP_XEN_HTTP_BYTES"] ?? 32 * 1024 * 1024);
const DOMU = { address: 0xc0000202, prefixLength: 24 };

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

describe.skipIf(skip)("HTTP from a domU behind netfront/netback to curl", () => {
  it("serves curl a small file, two files over one kept-alive connection, and the file over HTTP/1.0", async () => {
    await withXenLab("curl small from domU", {}, async ({ lab, xen, device, clock, rng }) => {
      const root = join(lab.dir, "www");
      mkdirSync(root);
      const small = new TextEncoder().encode("netlab in a domU says hello\n".repeat(150));
      writeFileSync(join(root, "small.txt"), small);
      writeFileSync(join(root, "index.html"), "<h1>netlab domU</h1>\n");
      const attached = await composeAttachedStack({ device, clock, rng }, { address: { kind: "static", cidr: DOMU }, http: { root, port: 80 } });
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
      expect(readFileSync(join(lab.dir, "b.out"), "utf8")).toBe("<h1>netlab domU</h1>\n");

      const old = await curl("--http1.0", "-D", "-", "-o", join(lab.dir, "old.out"), "http://192.0.2.2/small.txt");
      expect(old.stdout).toMatch(/^HTTP\/1\.[01] 200 /);
      expect(old.stdout).toMatch(new RegExp(`content-length: ${small.length}\\r\\n`, "i"));
      expect(sha256(readFileSync(join(lab.dir, "old.out")))).toBe(sha256(small));
      expect(xen.peerErrors).toEqual([]);
      expect(tsharkOffending(lab)).toEqual([]);
      await attached.stop();
    });
  });

  const variants: Array<[string, { checksumOffload: boolean; gso: boolean }, boolean]> = [
    ["no offloads on the rings", { checksumOffload: false, gso: false }, false],
    ["TSO and csum_blank from the domU, segmented and completed by dom0's bridge for a plain tap", { checksumOffload: true, gso: true }, false],
    ["TSO and csum_blank from the domU carried whole to the kernel through the tap's virtio_net_hdr", { checksumOffload: true, gso: true }, true],
  ];

  it.each(variants)(
    `serves curl a ${LARGE_BYTES >> 20} MiB file whose sha256 matches (%s)`,
    async (label, netfront, tapOffloads) => {
      const options = { snaplen: 96, xen: { netfront }, ...(tapOffloads ? { offloadsOff: false, tap: { txOffloads: true, rxOffloads: true } } : {}) };
      await withXenLab(
        `curl large from domU ${netfront.gso ? "gso" : "plain"}${tapOffloads ? " tap offloads" : ""}`,
        options,
        async ({ lab, xen, device, clock, rng }) => {
          const root = join(lab.dir, "www");
          mkdirSync(root);
          const expected = writeRandomFile(join(root, "large.bin"), LARGE_BYTES);
          const attached = await composeAttachedStack({ device, clock, rng }, { address: { kind: "static", cidr: DOMU }, http: { root, port: 80 } });
          const r = await lab.ns.exec(
            "sh",
            [
              "-c",
              "curl -sS --max-time 100 -o - -w '%{stderr}%{http_code} %{size_download} %{time_total} %{speed_download}' http://192.0.2.2/large.bin | sha256sum",
            ],
            { timeoutMs: 110_000 },
          );
          const [code, bytes, seconds, speed] = r.stderr.trim().split(" ");
          expect(code).toBe("200");
          expect(Number(bytes)).toBe(LARGE_BYTES);
          expect(r.stdout).toContain(expected);
          const x = xen.counters();
          if (netfront.gso && !tapOffloads) expect(x["bridge.link.segmented"]).toBeGreaterThan(0);
          else expect(x["bridge.link.segmented"]).toBe(0);
          expect(x["bridge.link.dropped"]).toBe(0);
          expect(xen.peerErrors).toEqual([]);
          // With the tap's offloads on, netlab's capture holds 64 KB frames with partial checksums.
          if (!tapOffloads) expect(tsharkOffending(lab)).toEqual([]);
          report(
            `xen: curl <- domU HTTP ${LARGE_BYTES >> 20} MiB (${label}): sha256 ok, ${Number(seconds).toFixed(2)} s = ${((Number(speed) * 8) / 1e6).toFixed(0)} Mbit/s; ` +
              `tcp retransmits ${attached.stack.tcp.stats.retransmits}; netfront tx frames ${x["netfront.txFrames"]}, bridge segmented ${x["bridge.link.segmented"]}, completed ${x["bridge.link.checksumsCompleted"]}`,
          );
          await attached.stop();
        },
      );
    },
    150_000,
  );

  it("serves curl -6 an 8 MiB file over IPv6 whose sha256 matches (GSO and csum_blank negotiated, unused by TCP over IPv6)", async () => {
    const bytes = 8 * 1024 * 1024;
    await withXenLab(
      "curl -6 from domU",
      { snaplen: 96, ipv6: true, xen: { netfront: { checksumOffload: true, gso: true } } },
      async ({ lab, xen, device, clock, rng }) => {
        await lab.ns.ip("-6", "addr", "add", "2001:db8:1::1/64", "dev", lab.ifname, "nodad");
        const root = join(lab.dir, "www");
        mkdirSync(root);
        const expected = writeRandomFile(join(root, "large.bin"), bytes);
        const attached = await composeAttachedStack(
          { device, clock, rng },
          { address: { kind: "none" }, ipv6: { addresses: ["2001:db8:1::2/64"], routerSolicitations: false }, http: { root, port: 80 } },
        );
        await waitUntil(() => attached.stack.ipv6!.ndp.addresses().some((a) => a.origin === "static" && a.state === "preferred"), 5000, "the domU's DAD");
        const r = await lab.ns.exec(
          "sh",
          ["-c", "curl -6 -sS --max-time 60 -o - -w '%{stderr}%{http_code} %{size_download} %{time_total}' 'http://[2001:db8:1::2]/large.bin' | sha256sum"],
          { timeoutMs: 70_000 },
        );
        const [code, size, seconds] = r.stderr.trim().split(" ");
        expect(code).toBe("200");
        expect(Number(size)).toBe(bytes);
        expect(r.stdout).toContain(expected);
        const x = xen.counters();
        // TCP over IPv6 sends MSS-sized segments with finished checksums: nothing for the bridge to segment or complete.
        expect(x["bridge.link.segmented"]).toBe(0);
        expect(x["bridge.link.checksumsCompleted"]).toBe(0);
        expect(x["netfront.txFrames"]).toBeGreaterThan(bytes / 1440);
        expect(xen.peerErrors).toEqual([]);
        expect(tsharkOffending(lab, ["2001:db8:1::1"])).toEqual([]);
        report(`xen ipv6: curl -6 <- domU HTTP 8 MiB: sha256 ok, ${Number(seconds).toFixed(2)} s; netfront tx frames ${x["netfront.txFrames"]}`);
        await attached.stop();
      },
    );
  }, 90_000);
});
