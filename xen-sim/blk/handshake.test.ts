import { describe, expect, it } from "vitest";
import { unwrap } from "../../stack/result.ts";
import { XenbusState } from "../xenbus/types.ts";
import { switchState } from "../xenbus/xenbus.ts";
import { createMemoryStorage } from "./memory-storage.ts";
import { createBlkWorld } from "./sim-world.ts";
import { recordCommits } from "./test-support.ts";

const rel = (w: { frontendPath: string; backendPath: string }, s: string): string => s.replace(w.frontendPath, "FE").replace(w.backendPath, "BE");

describe("vbd handshake", () => {
  it("writes Linux's keys and states in Linux's order, each group in one transaction", async () => {
    const rec = recordCommits();
    const w = await createBlkWorld(createMemoryStorage({ sectors: 8192 }), { wrapXs: rec.wrap });
    rec.groups.length = 0;
    await w.connect();
    const groups = rec.groups.map((g) => ({ domid: g.domid, writes: g.writes.map((x) => rel(w, x)) }));
    const ref = unwrap(await w.settle(w.dom0Xs.read(`${w.frontendPath}/ring-ref`)));
    const port = unwrap(await w.settle(w.dom0Xs.read(`${w.frontendPath}/event-channel`)));
    expect(groups).toEqual([
      { domid: 0, writes: ["BE/feature-max-indirect-segments=256", "BE/multi-queue-max-queues=1", "BE/max-ring-page-order=4"] },
      { domid: 0, writes: ["BE/state=2"] },
      { domid: w.guest.id, writes: [`FE/ring-ref=${ref}`, `FE/event-channel=${port}`, "FE/protocol=x86_64-abi", "FE/feature-persistent=1"] },
      { domid: w.guest.id, writes: ["FE/state=3"] },
      {
        domid: 0,
        writes: [
          "BE/feature-flush-cache=1",
          "BE/feature-discard=1",
          "BE/discard-granularity=4096",
          "BE/discard-alignment=0",
          "BE/discard-secure=0",
          "BE/feature-barrier=1",
          "BE/feature-persistent=1",
          "BE/sectors=8192",
          "BE/info=0",
          "BE/sector-size=512",
          "BE/physical-sector-size=4096",
        ],
      },
      { domid: 0, writes: ["BE/state=4"] },
      { domid: w.guest.id, writes: ["FE/state=4"] },
    ]);
    expect(Number(ref)).toBeGreaterThanOrEqual(8);
    expect(w.front.state).toBe("connected");
    expect(w.back.state).toBe("connected");
    expect(w.front.capacity).toBe(8192);
    expect(w.front.features).toMatchObject({ flush: true, barrier: true, discard: true, persistent: true, indirectSegments: 32, ringPageOrder: 0 });
  });

  it("a multi-page ring writes ring-page-order and ring-ref0..N and the backend maps every page", async () => {
    const rec = recordCommits();
    const w = await createBlkWorld(createMemoryStorage({ sectors: 8192 }), { wrapXs: rec.wrap, front: { ringPageOrder: 2 } });
    await w.connect();
    const fe = rec.groups.find((g) => g.writes.some((x) => x.includes("/protocol=")))!;
    expect(fe.writes.map((x) => rel(w, x).replace(/=\d+$/, "=N"))).toEqual([
      "FE/ring-page-order=N",
      "FE/ring-ref0=N",
      "FE/ring-ref1=N",
      "FE/ring-ref2=N",
      "FE/ring-ref3=N",
      "FE/event-channel=N",
      "FE/protocol=x86_64-abi",
      "FE/feature-persistent=N",
    ]);
    expect(unwrap(await w.settle(w.dom0Xs.read(`${w.frontendPath}/ring-page-order`)))).toBe("2");
    expect(w.front.features.ringPageOrder).toBe(2);
    // 128 slots: 100 concurrent single-page reads all go on the ring at once.
    const done = Array.from({ length: 100 }, (_, i) => w.front.read(i * 8, 8));
    expect(w.front.inFlight).toBe(100);
    const results = await w.settle(Promise.all(done));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(w.front.stats.requests).toBe(100);
  });

  it("the ring-page-order is capped by the backend's max-ring-page-order", async () => {
    const w = await createBlkWorld(createMemoryStorage(), { front: { ringPageOrder: 3 }, back: { maxRingPageOrder: 1 } });
    await w.connect();
    expect(w.front.features.ringPageOrder).toBe(1);
    expect(unwrap(await w.settle(w.dom0Xs.read(`${w.frontendPath}/ring-ref1`)))).toMatch(/^\d+$/);
  });

  it("a backend Connected after connection means resize: the frontend re-reads sectors", async () => {
    const w = await createBlkWorld(createMemoryStorage({ sectors: 2048 }));
    await w.connect();
    const seen: number[] = [];
    w.front.onResize((n) => seen.push(n));
    unwrap(await w.settle(w.dom0Xs.write(`${w.backendPath}/sectors`, "4096")));
    unwrap(await w.settle(switchState(w.dom0Xs, w.backendPath, XenbusState.Connected)));
    for (let i = 0; i < 50 && seen.length === 0; i++) await w.settle(w.dom0Xs.read("/"));
    expect(seen).toEqual([4096]);
    expect(w.front.capacity).toBe(4096);
  });

  it("close() goes Closing, waits for the backend's Closing, then Closed; the backend follows to Closed", async () => {
    const w = await createBlkWorld(createMemoryStorage());
    await w.connect();
    await w.settle(w.front.close());
    expect(w.front.state).toBe("closed");
    for (let i = 0; i < 50 && w.back.state !== "closed"; i++) await w.settle(w.dom0Xs.read("/"));
    expect(unwrap(await w.settle(w.dom0Xs.read(`${w.frontendPath}/state`)))).toBe("6");
    expect(unwrap(await w.settle(w.dom0Xs.read(`${w.backendPath}/state`)))).toBe("6");
    expect(w.dom0.grants.mappingCount).toBe(0);
    expect(await w.settle(w.front.read(0, 1))).toEqual({ ok: false, error: "closed" });
  });
});
