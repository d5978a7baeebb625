import { describe, expect, it } from "vitest";
import { err, ok, unwrap } from "../../stack/result.ts";
import { connectInProcess, createXenstoreClient } from "./client.ts";
import { createXenstoreServer } from "./server.ts";
import type { XsByteTransport } from "./types.ts";
import { XS_READ, emitXsMessage, joinStrings } from "./wire.ts";

function setup() {
  const server = createXenstoreServer();
  const dom0 = createXenstoreClient(connectInProcess(server, 0));
  return { server, dom0 };
}

describe("xenstore client library", () => {
  it("writes, reads, lists and removes nodes", async () => {
    const { dom0 } = setup();
    expect(await dom0.write("/local/domain/1/name", "guest-1")).toEqual(ok(undefined));
    expect(await dom0.read("/local/domain/1/name")).toEqual(ok("guest-1"));
    expect(await dom0.mkdir("/local/domain/1/device")).toEqual(ok(undefined));
    expect(await dom0.directory("/local/domain/1")).toEqual(ok(["name", "device"]));
    expect(await dom0.exists("/local/domain/1/device")).toEqual(ok(true));
    expect(await dom0.rm("/local/domain/1")).toEqual(ok(undefined));
    expect(await dom0.exists("/local/domain/1/device")).toEqual(ok(false));
    expect(await dom0.read("/local/domain/1/name")).toEqual(err("ENOENT"));
    expect(await dom0.getDomainPath(7)).toEqual(ok("/local/domain/7"));
  });

  it("round-trips binary values and UTF-8 text", async () => {
    const { dom0 } = setup();
    const bytes = Uint8Array.from([0, 1, 255, 0, 10]);
    await dom0.write("/bin", bytes);
    expect(unwrap(await dom0.readBytes("/bin"))).toEqual(bytes);
    await dom0.write("/txt", "naïve ✓");
    expect(await dom0.read("/txt")).toEqual(ok("naïve ✓"));
  });

  it("sets and gets permissions, which then bind another domain's client", async () => {
    const { server, dom0 } = setup();
    await dom0.write("/local/domain/2/k", "v");
    expect(await dom0.getPerms("/local/domain/2/k")).toEqual(ok([{ domid: 0, perm: "n" }]));
    const d2 = createXenstoreClient(connectInProcess(server, 2));
    expect(await d2.read("/local/domain/2/k")).toEqual(err("EACCES"));
    await dom0.setPerms("/local/domain/2", [{ domid: 2, perm: "n" }]);
    await dom0.setPerms("/local/domain/2/k", [
      { domid: 2, perm: "n" },
      { domid: 0, perm: "r" },
    ]);
    expect(await d2.read("k")).toEqual(ok("v"));
    expect(await d2.write("k2", "x")).toEqual(ok(undefined));
    expect(await dom0.getPerms("/local/domain/2/k2")).toEqual(ok([{ domid: 2, perm: "n" }]));
  });

  it("watch callbacks receive the initial event and each change; unwatch stops them", async () => {
    const { dom0 } = setup();
    const seen: string[] = [];
    const w = unwrap(await dom0.watch("/be", (p, t) => seen.push(`${p}|${t}`), "tok"));
    await dom0.write("/be/vif/1/0/state", "2");
    await dom0.write("/elsewhere", "1");
    await dom0.read("/be/vif/1/0/state");
    expect(seen).toEqual(["/be|tok", "/be/vif/1/0/state|tok"]);
    expect(await w.unwatch()).toEqual(ok(undefined));
    await dom0.write("/be/x", "1");
    await dom0.read("/be/x");
    expect(seen.length).toBe(2);
    expect(await dom0.watch("/a", () => {}, "tok2").then((r) => r.ok)).toBe(true);
    expect(await dom0.watch("/b", () => {}, "tok2")).toEqual(err("EEXIST"));
  });

  it("transaction() retries the body when the commit gets EAGAIN", async () => {
    const { server, dom0 } = setup();
    const other = createXenstoreClient(connectInProcess(server, 0));
    await dom0.write("/fe/state", "1");
    let attempts = 0;
    const r = await dom0.transaction(async (tx) => {
      attempts++;
      const s = await tx.read("/fe/state");
      if (!s.ok) return s;
      if (attempts === 1) await other.write("/fe/state", "3");
      const w = await tx.write("/fe/state", String(Number(s.value) + 1));
      return w.ok ? ok(Number(s.value) + 1) : w;
    });
    expect(r).toEqual(ok(4));
    expect(attempts).toBe(2);
    expect(await dom0.read("/fe/state")).toEqual(ok("4"));
  });

  it("transaction() aborts and returns the body's error, and gives up with EAGAIN after maxAttempts", async () => {
    const { server, dom0 } = setup();
    const other = createXenstoreClient(connectInProcess(server, 0));
    const r = await dom0.transaction(async (tx) => {
      await tx.write("/never", "x");
      return err("body-failed" as const);
    });
    expect(r).toEqual(err("body-failed"));
    expect(await dom0.exists("/never")).toEqual(ok(false));
    await dom0.write("/hot", "0");
    let n = 0;
    const busy = await dom0.transaction(
      async (tx) => {
        await tx.read("/hot");
        await other.write("/hot", String(++n));
        return ok(undefined);
      },
      { maxAttempts: 3 },
    );
    expect(busy).toEqual(err("EAGAIN"));
    expect(n).toBe(3);
    expect(server.stats().transactions).toBe(0);
  });

  it("transaction() aborts the transaction when the body throws, and rethrows", async () => {
    const { server, dom0 } = setup();
    await expect(
      dom0.transaction(async (tx) => {
        await tx.write("/thrown", "x");
        throw new Error("bug in body");
      }),
    ).rejects.toThrow("bug in body");
    expect(server.stats().transactions).toBe(0);
    expect(await dom0.exists("/thrown")).toEqual(ok(false));
  });

  it("directory() falls back to DIRECTORY_PART for lists longer than one message", async () => {
    const { dom0 } = setup();
    const names = Array.from({ length: 400 }, (_, i) => `backend-device-${i}`);
    await dom0.transaction(async (tx) => {
      for (const n of names) await tx.mkdir(`/big/${n}`);
      return ok(undefined);
    });
    expect(await dom0.directory("/big")).toEqual(ok(names));
  });

  it("domain control calls: introduce, is-introduced, set-target, release", async () => {
    const { server, dom0 } = setup();
    const events: string[] = [];
    await dom0.watch("@releaseDomain", (p) => events.push(p));
    expect(await dom0.isDomainIntroduced(3)).toEqual(ok(false));
    expect(await dom0.introduce(3, 0xfeffn, 1)).toEqual(ok(undefined));
    expect(await dom0.introduce(4, 0xfeff, 1)).toEqual(ok(undefined));
    expect(await dom0.isDomainIntroduced(3)).toEqual(ok(true));
    expect(await dom0.setTarget(3, 4)).toEqual(ok(undefined));
    expect(await dom0.release(3)).toEqual(ok(undefined));
    expect(server.isIntroduced(3)).toBe(false);
    expect(await dom0.resetWatches()).toEqual(ok(undefined));
    expect(events).toEqual(["@releaseDomain", "@releaseDomain"]);
  });

  it("a reply that does not match the request closes the client with 'protocol'; later calls get 'closed'", async () => {
    let handler: (b: Uint8Array) => void = () => {};
    const transport: XsByteTransport = {
      send() {
        queueMicrotask(() => handler(emitXsMessage(XS_READ, 999, 0, joinStrings(["x"]))));
      },
      onReceive(h) {
        handler = h;
      },
    };
    const c = createXenstoreClient(transport);
    expect(await c.read("/a")).toEqual(err("protocol"));
    expect(c.closed).toBe(true);
    expect(await c.read("/a")).toEqual(err("closed"));
  });

  it("a payload length over 4096 after a good reply in the same chunk fails the rest with 'protocol' and closes the transport", async () => {
    let handler: (b: Uint8Array) => void = () => {};
    let closes = 0;
    const transport: XsByteTransport = {
      send() {},
      onReceive(h) {
        handler = h;
      },
      close() {
        closes++;
      },
    };
    const c = createXenstoreClient(transport);
    const a = c.readBytes("/a"),
      b = c.readBytes("/b");
    const bad = emitXsMessage(XS_READ, 2, 0, new Uint8Array(0));
    new DataView(bad.buffer).setUint32(12, 5000, true);
    handler(Uint8Array.from([...emitXsMessage(XS_READ, 1, 0, Uint8Array.of(7)), ...bad]));
    expect(await a).toEqual(ok(Uint8Array.of(7)));
    expect(await b).toEqual(err("protocol"));
    expect(closes).toBe(1);
  });

  it("closing the transport fails pending calls with 'closed'", async () => {
    const { server } = setup();
    const t = connectInProcess(server, 0);
    const c = createXenstoreClient(t);
    const p = c.read("/x");
    c.close();
    expect(await p).toEqual(err("closed"));
  });
});
