// The kernel drill target against the real Linux kernel (root, /dev/net/tun, ip, ethtool,
// python3); skipped with the reason otherwise. Each script runs in its own namespace.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listNetns } from "../netns/index.ts";
import type { DrillTarget } from "./model.ts";
import { parseDrillScript } from "./parser.ts";
import { createKernelDrillTarget, kernelTargetUnavailable } from "./kernel-target.ts";

const unavailable = kernelTargetUnavailable();
const CORPUS = fileURLToPath(new URL("../../corpora/drill/", import.meta.url));
const OPTIONS = { toleranceUsecs: 4000, scriptTimeoutMs: 20_000 };

function script(text: string, file = "inline.pkt") {
  const r = parseDrillScript(text, file);
  if (!r.ok) throw new Error(`${r.error.pos.line}:${r.error.pos.column} ${r.error.message}`);
  return r.value;
}

if (unavailable !== undefined) {
  describe("kernel drill target", () => {
    it.skip(`skipped: ${unavailable}`, () => undefined);
  });
} else {
  describe("kernel drill target", () => {
    let target: DrillTarget;
    beforeAll(async () => {
      target = await createKernelDrillTarget();
    });
    afterAll(async () => {
      await target?.close();
    });

    // The whole corpus: every script in it must pass on the kernel (that is how the runner's
    // semantics are checked). Real time on a shared machine: a script gets one retry, so a
    // scheduling hiccup is not a failure but a script that fails twice is.
    for (const name of readdirSync(CORPUS)
      .filter((f) => f.endsWith(".pkt"))
      .sort()) {
      it(`passes corpora/drill/${name} on the kernel`, { retry: 1, timeout: 30_000 }, async () => {
        const file = join(CORPUS, name);
        const r = await target.run(script(readFileSync(file, "utf8"), file), OPTIONS);
        expect(r.reason ?? "").toBe("");
        expect(r.result).toBe("pass");
      });
    }

    // Over IPv6 (MTU 1520 so the MSS stays 1460): a few scripts of the corpus, kept fast; the
    // whole corpus over v6 is `netlab drill --target kernel --ip-version 6 corpora/drill`.
    for (const name of ["active-open-blocking.pkt", "close-active.pkt", "close-linger-zero-rst.pkt", "data-ack.pkt", "zero-window-probe.pkt"]) {
      it(`passes corpora/drill/${name} on the kernel over IPv6`, { retry: 1, timeout: 30_000 }, async () => {
        const file = join(CORPUS, name);
        const r = await target.run(script(readFileSync(file, "utf8"), file), { ...OPTIONS, ipVersion: 6 });
        expect(r.reason ?? "").toBe("");
        expect(r.result).toBe("pass");
      });
    }

    it("runs a script whose header says --ip_version=ipv6 over IPv6, naming the v6 addresses when it fails", async () => {
      const r = await target.run(
        script(`// --ip_version=ipv6
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0 < S 0:0(0) win 32792 <mss 1460,sackOK,nop,nop,nop,wscale 7>
   +0 > S. 0:0(0) ack 2 <...>
`),
        OPTIONS,
      );
      expect(r.result).toBe("fail");
      expect(r.reason).toContain("[fd00::1]:8080 > [fd00::2]");
    });

    // IPv4-mapped AF_INET6 sockets over IPv4 (packetdrill's ipv4-mapped-ipv6): a passive open, an
    // active open and a close; the whole corpus that way is `netlab drill --target kernel --ip-version mapped corpora/drill`.
    for (const name of ["active-open-blocking.pkt", "close-active.pkt", "data-ack.pkt"]) {
      it(`passes corpora/drill/${name} on the kernel with IPv4-mapped AF_INET6 sockets`, { retry: 1, timeout: 30_000 }, async () => {
        const file = join(CORPUS, name);
        const r = await target.run(script(readFileSync(file, "utf8"), file), { ...OPTIONS, ipVersion: "mapped" });
        expect(r.reason ?? "").toBe("");
        expect(r.result).toBe("pass");
      });
    }

    it("runs a --ip_version=ipv4-mapped-ipv6 script on a dual-stack AF_INET6 socket, the wire IPv4", async () => {
      // IPV6_V6ONLY exists only on an AF_INET6 socket (ENOPROTOOPT on AF_INET); it reads 0 on a mapped one.
      const text = (v6only: number, header = "// --ip_version=ipv4-mapped-ipv6") => `${header}
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 getsockopt(3, IPPROTO_IPV6, IPV6_V6ONLY, [${v6only}], [4]) = 0
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0 < S 0:0(0) win 32792 <mss 1460,sackOK,nop,nop,nop,wscale 7>
   +0 > S. 0:0(0) ack 2 <...>
`;
      const ipv4 = await target.run(script(text(0, "// an AF_INET socket")), OPTIONS);
      expect(ipv4.result).toBe("fail");
      expect(ipv4.pos?.line).toBe(3);
      const mapped = await target.run(script(text(0)), OPTIONS);
      expect(mapped.result).toBe("fail");
      expect(mapped.pos?.line).toBe(7);
      expect(mapped.reason).toContain("192.0.2.1:8080 > 192.0.2.2");
      const v6only = await target.run(script(text(1)), OPTIONS);
      expect(v6only).toMatchObject({ result: "fail", reason: "getsockopt(IPV6_V6ONLY) = 0, expected 1" });
    }, 60_000);

    it("fails a script whose expected packet differs, naming the line", async () => {
      const r = await target.run(
        script(
          [
            "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
            "+0 bind(3, ..., ...) = 0",
            "+0 listen(3, 1) = 0",
            "+0 < S 0:0(0) win 32792 <mss 1460>",
            "+0 > S. 0:0(0) ack 1 <mss 1000>",
          ].join("\n"),
        ),
        OPTIONS,
      );
      expect(r.result).toBe("fail");
      expect(r.pos?.line).toBe(5);
      expect(r.reason).toMatch(/mss 1460, expected 1000/);
    }, 30_000);

    it("fails when an expected packet never comes, within the tolerance, not the script timeout", async () => {
      const started = Date.now();
      const r = await target.run(script("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 > S 0:0(0)\n"), OPTIONS);
      expect(r.result).toBe("fail");
      expect(r.reason).toMatch(/nothing arrived/);
      expect(Date.now() - started).toBeLessThan(10_000);
    }, 30_000);

    it("compares errno names of failing calls", async () => {
      const r = await target.run(
        script("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 read(3, ..., 10) = -1 ENOTCONN (Transport endpoint is not connected)\n+0 close(3) = 0\n"),
        OPTIONS,
      );
      expect(r.reason ?? "").toBe("");
      expect(r.result).toBe("pass");
    }, 30_000);

    it("skips a script with a construct it does not run, naming it", async () => {
      const r = await target.run(script("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 %{ print(tcpi_snd_cwnd) }%\n"), OPTIONS);
      expect(r.result).toBe("skip");
      expect(r.reason).toMatch(/'print\(tcpi_snd_cwnd\)' is not supported/);
    }, 30_000);

    it("evaluates %{ }% asserts over the kernel's TCP_INFO of the last socket used", async () => {
      const ok = await target.run(script("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 %{ assert tcpi_state == 7 && tcpi_snd_cwnd == 10 }%\n"), OPTIONS);
      expect(ok.reason ?? "").toBe("");
      expect(ok.result).toBe("pass");
      const bad = await target.run(script("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 %{ assert tcpi_state == 1, tcpi_state }%\n"), OPTIONS);
      expect(bad).toMatchObject({ result: "fail", reason: "assertion failed: assert tcpi_state == 1, tcpi_state (tcpi_state=7): 7" });
    }, 30_000);

    it("leaves no namespace behind", async () => {
      expect((await listNetns()).filter((n) => n.startsWith(`nl-drill-${process.pid}-`))).toEqual([]);
    });
  });
}
