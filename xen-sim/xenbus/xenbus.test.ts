import { describe, expect, it } from "vitest";
import { err, ok, unwrap } from "../../stack/result.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { createToolstack } from "../toolstack/toolstack.ts";
import { pumpUntil, settleByPumping as settle } from "../../stack/settle.ts";
import { XenbusState, type XenbusStateValue } from "./types.ts";
import { parseState, readKeys, stateName, switchState, waitForState, watchState, writeKeys } from "./xenbus.ts";

async function world() {
  const clock = createVirtualClock();
  const ts = createToolstack({ clock, rng: createRng(3) });
  const g = unwrap(await settle(clock, ts.createDomain()));
  const dev = unwrap(await settle(clock, ts.addVif(g.id, { mac: 0x00163e000002 })));
  return { clock, ts, g, dev };
}

describe("xenbus helpers", () => {
  it("parseState reads decimal text and maps anything else to Unknown", () => {
    expect(parseState("4")).toBe(XenbusState.Connected);
    expect(parseState("8")).toBe(XenbusState.Reconfigured);
    expect(parseState("9")).toBe(XenbusState.Unknown);
    expect(parseState("4 ")).toBe(XenbusState.Unknown);
    expect(parseState(undefined)).toBe(XenbusState.Unknown);
    expect(stateName(2)).toBe("InitWait");
  });

  it("switchState writes the decimal state in its own transaction and refuses a removed device", async () => {
    const { clock, ts, g, dev } = await world();
    expect(await settle(clock, switchState(g.xs, "device/vif/0", XenbusState.Connected))).toEqual(ok(undefined));
    expect(ts.daemon.server.peek(`${dev.frontendPath}/state`)).toEqual(new TextEncoder().encode("4"));
    await settle(clock, ts.removeDevice(dev));
    expect(await settle(clock, switchState(g.xs, "device/vif/0", XenbusState.Closed))).toEqual(err("ENOENT"));
    expect(ts.daemon.server.peek(`${dev.frontendPath}/state`)).toBeUndefined();
  });

  it("switchState retries when a concurrent write makes the commit fail with EAGAIN", async () => {
    const { clock, ts, dev } = await world();
    let attempts = 0;
    const raced = ts.xs.transaction(async (tx) => {
      attempts++;
      const r = await tx.read(`${dev.backendPath}/state`);
      if (attempts === 1) await ts.xs.write(`${dev.backendPath}/state`, "3");
      if (!r.ok) return r;
      return tx.write(`${dev.backendPath}/state`, String(XenbusState.InitWait));
    });
    expect(await settle(clock, raced)).toEqual(ok(undefined));
    expect(attempts).toBe(2);
    expect(await settle(clock, switchState(ts.xs, dev.backendPath, XenbusState.Connected))).toEqual(ok(undefined));
    expect(await settle(clock, ts.xs.read(`${dev.backendPath}/state`))).toEqual(ok("4"));
  });

  it("readKeys and writeKeys move a set of keys in one transaction; missing keys read undefined", async () => {
    const { clock, g } = await world();
    expect(await settle(clock, writeKeys(g.xs, "device/vif/0", { "tx-ring-ref": 9, "event-channel": "5" }))).toEqual(ok(undefined));
    expect(await settle(clock, readKeys(g.xs, "device/vif/0", ["tx-ring-ref", "event-channel", "absent"]))).toEqual(
      ok({ "tx-ring-ref": "9", "event-channel": "5", absent: undefined }),
    );
  });

  it("watchState reports the peer's states in order, starting with the current one, and stops when cancelled", async () => {
    const { clock, ts, g, dev } = await world();
    const seen: XenbusStateValue[] = [];
    const w = watchState(g.xs, dev.backendPath, (s) => seen.push(s));
    await pumpUntil(clock, () => seen.length >= 1);
    for (const s of [XenbusState.InitWait, XenbusState.Connected, XenbusState.Closing]) {
      await settle(clock, switchState(ts.xs, dev.backendPath, s));
      await pumpUntil(clock, () => seen.at(-1) === s);
    }
    expect(seen).toEqual([1, 2, 4, 5]);
    w.cancel();
    await settle(clock, switchState(ts.xs, dev.backendPath, XenbusState.Closed));
    await pumpUntil(clock, () => false, { maxIterations: 20 });
    expect(seen).toEqual([1, 2, 4, 5]);
  });

  it("waitForState resolves on the accepted state, or times out on the Clock", async () => {
    const { clock, ts, g, dev } = await world();
    const got: unknown[] = [];
    waitForState(
      { xs: g.xs, clock },
      dev.backendPath,
      (s) => s === XenbusState.InitWait,
      (r) => got.push(r),
    );
    await settle(clock, switchState(ts.xs, dev.backendPath, XenbusState.InitWait));
    await pumpUntil(clock, () => got.length > 0);
    expect(got).toEqual([ok(XenbusState.InitWait)]);
    const late: unknown[] = [];
    const t0 = clock.now();
    waitForState(
      { xs: g.xs, clock },
      dev.backendPath,
      (s) => s === XenbusState.Connected,
      (r) => late.push(r),
      { timeoutMs: 5000 },
    );
    await pumpUntil(clock, () => late.length > 0);
    expect(late).toEqual([err("timeout")]);
    expect(clock.now() - t0).toBe(5000);
  });
});
