import { describe, expect, it } from "vitest";
import { createVirtualClock } from "./time.ts";
import { settle } from "./settle.ts";

describe("settle()", () => {
  it("runs timers until the promise resolves and returns its value at that virtual time", async () => {
    const clock = createVirtualClock();
    const p = new Promise<number>((resolve) => clock.setTimer(250, () => resolve(clock.now())));
    clock.setTimer(10_000, () => {});
    await expect(settle(clock, p)).resolves.toBe(250);
    expect(clock.now()).toBe(250);
  });

  it("lets promise continuations run before time moves on", async () => {
    const clock = createVirtualClock();
    const seen: number[] = [];
    const work = async (): Promise<void> => {
      await new Promise<void>((r) => clock.setTimer(5, r));
      seen.push(clock.now());
      await Promise.resolve();
      await new Promise<void>((r) => clock.setTimer(clock.now() + 5, r));
      seen.push(clock.now());
    };
    clock.setTimer(7, () => seen.push(-clock.now()));
    await settle(clock, work);
    expect(seen).toEqual([5, -7, 10]);
  });

  it("rethrows a rejection", async () => {
    const clock = createVirtualClock();
    const p = new Promise((_, reject) => clock.setTimer(1, () => reject(new Error("boom"))));
    await expect(settle(clock, p)).rejects.toThrow("boom");
  });

  it("throws ERR_NETLAB_SETTLE when no timer is left or the time limit passes", async () => {
    const clock = createVirtualClock();
    await expect(settle(clock, new Promise(() => {}))).rejects.toMatchObject({ code: "ERR_NETLAB_SETTLE" });
    clock.setTimer(5_000, () => {});
    await expect(settle(clock, new Promise(() => {}), { maxVirtualMs: 1_000 })).rejects.toMatchObject({ code: "ERR_NETLAB_SETTLE" });
  });
});
