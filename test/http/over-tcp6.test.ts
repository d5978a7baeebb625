// HTTP over TCP over IPv6 (stack.tcp6) between two dual-stack stacks on a simulated link, on the
// virtual clock: the netlab client and server over v6, one client speaking to both families, and
// a capture tshark decodes as HTTP over IPv6.
import { describe, expect, it, onTestFailed } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPcapWriter } from "../../stack/link/pcap/pcap.ts";
import { createByteCollector } from "../../stack/link/pcap/types.ts";
import { checkCaptureWithTshark, tsharkFields, tsharkMissingReason } from "../../harness/oracle/tshark.ts";
import type { ImpairmentOptions } from "../../stack/link/impairments.ts";
import { createTwoStacksOnLink } from "../../stack/net/test-net.ts";
import { unwrap } from "../../stack/result.ts";
import { formatIpv4 } from "../../stack/wire/address.ts";
import { formatIpv6, ipv6 } from "../../stack/wire/ipv6-address.ts";
import { createHttpClient } from "../../stack/app/http/client.ts";
import { createHttpServer, type HttpHandler } from "../../stack/app/http/server.ts";
import { settle } from "../../harness/http/testing.ts";

const SERVER_V4 = 0xc000020b; // 192.0.2.11
const SERVER_V6 = ipv6("2001:db8::b");

/** Dual-stack a (client) and b (server) on an impaired link, DAD done; a's frames captured, saved when the test fails. */
function twoStacks(seed: number, impairments: ImpairmentOptions = {}) {
  const capture = createByteCollector();
  const { clock, a, b } = createTwoStacksOnLink({
    seed,
    impairments: { delayMs: 1, ...impairments },
    captureA: createPcapWriter((c) => capture.write(c)),
    a: { name: "client", ipv6: { addresses: ["2001:db8::a/64"], routerSolicitations: false } },
    b: { name: "server", ipv6: { addresses: ["2001:db8::b/64"], routerSolicitations: false } },
  });
  clock.run(clock.now() + 3_000);
  const savePcap = (name: string): string => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-http6-"));
    const file = join(dir, `${name}.pcap`);
    writeFileSync(file, capture.bytes());
    return file;
  };
  onTestFailed(() => {
    process.stderr.write(`[http over tcp6] capture of the failed test: ${savePcap(`seed-${seed}`)}\n`);
  });
  return { clock, a, b, savePcap };
}

const bodyFor = (n: number, size: number): Uint8Array => {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + n * 7) & 0xff;
  return out;
};

/** /r/N/SIZE: SIZE bytes of resource N; odd N streamed (chunked). */
const resourceHandler: HttpHandler = (req, res) => {
  const m = /^\/r\/(\d+)\/(\d+)$/.exec(req.target);
  if (!m) {
    res.statusCode = 404;
    res.end();
    return;
  }
  const body = bodyFor(Number(m[1]), Number(m[2]));
  if (Number(m[1]) % 2 === 0) {
    res.end(body);
    return;
  }
  let at = 0;
  const pump = (): void => {
    while (at < body.length) {
      const piece = body.subarray(at, at + 3000);
      at += piece.length;
      if (!res.write(piece)) {
        res.onDrain(pump);
        return;
      }
    }
    res.end();
  };
  pump();
};

describe("HTTP over TCP over IPv6 between two stacks", () => {
  it("serves pipelined and concurrent requests over v6 with correct bodies under 2% loss; Host is the bracketed literal, the server sees the client's v6 address", async () => {
    const { clock, a, b } = twoStacks(7, { loss: 0.02 });
    const seen: { host: string; remote: string }[] = [];
    const server = createHttpServer({ clock }, (req, res) => {
      seen.push({ host: req.headers.get("host") ?? "", remote: formatIpv6(b.tcp6!.addressOf(req.remoteAddress)!) });
      return resourceHandler(req, res);
    });
    server.listen(unwrap(b.tcp6!.listen(8080)));
    const client = createHttpClient({ clock, tcp6: a.tcp6! }, { pipeline: 4, maxConnectionsPerHost: 2 });
    const sizes = [0, 1, 1440, 5000, 70_000, 300_000, 17, 4096];
    const jobs = sizes.map(async (size, n) => {
      const res = await client.request({ host: SERVER_V6, port: 8080, path: `/r/${n}/${size}` });
      const got = await res.body.bytes(1 << 20);
      return { status: res.status, ok: got.length === size && got.every((v, i) => v === ((i * 31 + n * 7) & 0xff)) };
    });
    const results = await settle(clock, Promise.all(jobs), Infinity);
    expect(results).toEqual(sizes.map(() => ({ status: 200, ok: true })));
    expect(client.stats.connectionsOpened).toBeLessThanOrEqual(2);
    expect(server.stats.requests).toBe(sizes.length);
    expect(new Set(seen.map((s) => `${s.host} ${s.remote}`))).toEqual(new Set(["[2001:db8::b]:8080 2001:db8::a"]));
    // Loss was recovered by TCP over v6, not by luck, and nothing went over v4.
    expect(a.tcp6!.layer.stats.retransmits + b.tcp6!.layer.stats.retransmits).toBeGreaterThan(0);
    expect(a.tcp.stats.activeOpens + b.tcp.stats.passiveOpens).toBe(0);
  });

  it("one client reaches a dual-stack server over both families, a pool per family; a v6 request to a port only v4 listens on is refused", async () => {
    const { clock, a, b } = twoStacks(11);
    const server = createHttpServer({ clock }, (req, res) => {
      // The Host literal tells the family the client chose; the remote address must agree.
      const host = req.headers.get("host") ?? "";
      res.end(host.startsWith("[") ? `v6 ${host} ${formatIpv6(b.tcp6!.addressOf(req.remoteAddress)!)}` : `v4 ${host} ${formatIpv4(req.remoteAddress)}`);
    });
    server.listen(unwrap(b.tcp.listen(80)));
    server.listen(unwrap(b.tcp6!.listen(80)));
    expect(unwrap(b.tcp.listen(81)).localPort).toBe(81);
    const client = createHttpClient({ clock, tcp: a.tcp, tcp6: a.tcp6! });
    const text = async (host: number | Uint8Array, port = 80): Promise<string> => await (await client.request({ host, port, path: "/" })).body.text();
    expect(await settle(clock, text(SERVER_V6), Infinity)).toBe("v6 [2001:db8::b] 2001:db8::a");
    expect(await settle(clock, text(SERVER_V4), Infinity)).toBe("v4 192.0.2.11 192.0.2.10");
    expect(await settle(clock, text(ipv6("2001:db8::b")), Infinity)).toBe("v6 [2001:db8::b] 2001:db8::a");
    expect([client.stats.connectionsOpened, client.stats.reusedConnections]).toEqual([2, 1]);
    const refused = await settle(
      clock,
      client.request({ host: SERVER_V6, port: 81, path: "/" }).catch((e: unknown) => e),
      Infinity,
    );
    expect(refused).toMatchObject({ code: "ECONNREFUSED" });
  });

  it.skipIf(tsharkMissingReason() !== undefined)(
    "leaves a capture in which tshark decodes every request and response over IPv6 and flags nothing",
    async () => {
      const { clock, a, b, savePcap } = twoStacks(13);
      const server = createHttpServer({ clock }, resourceHandler, { date: false });
      server.listen(unwrap(b.tcp6!.listen(80)));
      const client = createHttpClient({ clock, tcp6: a.tcp6! }, { pipeline: 3, maxConnectionsPerHost: 1 });
      const paths = ["/r/0/100", "/r/1/5000", "/r/2/20000", "/nope"];
      await settle(clock, Promise.all(paths.map(async (path) => (await client.request({ host: SERVER_V6, path })).body.bytes())), Infinity);
      client.close();
      clock.run(clock.now() + 5_000);
      const file = savePcap("tshark");
      try {
        expect(checkCaptureWithTshark(file).offending).toEqual([]);
        const uris = tsharkFields(file, ["http.request.uri", "ipv6.dst"], "http.request");
        const codes = tsharkFields(file, ["http.response.code", "ipv6.src"], "http.response");
        expect(uris.flatMap(([v]) => v!.split(","))).toEqual(paths);
        expect(codes.flatMap(([v]) => v!.split(","))).toEqual(["200", "200", "200", "404"]);
        expect(new Set([...uris.map((r) => r[1]), ...codes.map((r) => r[1])])).toEqual(new Set(["2001:db8::b"]));
      } finally {
        rmSync(join(file, ".."), { recursive: true, force: true });
      }
    },
  );
});
