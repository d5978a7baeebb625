import { describe, expect, it } from "vitest";
import { createSerialTask } from "./serial-task.ts";

/** A promise the test settles by hand. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => {};
  const promise = new Promise<void>((r) => {
    open = r;
  });
  return { promise, open };
}

describe("createSerialTask (every split driver's xenbus work)", () => {
  it("triggers during a run bring exactly one more run, and the step never overlaps itself", async () => {
    const log: string[] = [];
    let active = 0;
    const gates = [gate(), gate()];
    let runs = 0;
    const task = createSerialTask(
      async () => {
        const n = runs++;
        active++;
        log.push(`start ${n} (active ${active})`);
        await gates[n]?.promise;
        active--;
        log.push(`end ${n}`);
      },
      (e) => log.push(`error ${String(e)}`),
    );
    task.trigger();
    task.trigger();
    task.trigger();
    gates[0]!.open();
    gates[1]!.open();
    await task.idle();
    expect(log).toEqual(["start 0 (active 1)", "end 0", "start 1 (active 1)", "end 1"]);
  });

  it("actions and steps run one at a time in the order asked; run() resolves once its action has run", async () => {
    const log: string[] = [];
    const first = gate();
    const task = createSerialTask(
      async () => {
        log.push("step");
      },
      () => {},
    );
    const a = task.run(async () => {
      log.push("a start");
      await first.promise;
      log.push("a end");
    });
    task.trigger();
    const b = task.run(async () => {
      log.push("b");
    });
    task.trigger(); // a step is already queued (not started): coalesces with it
    expect(log).toEqual(["a start"]);
    first.open();
    await a;
    await b;
    await task.idle();
    expect(log).toEqual(["a start", "a end", "step", "b"]);
  });

  it("hands what a piece throws to onError and goes on; after stop() nothing queued or asked for runs", async () => {
    const errors: unknown[] = [];
    const log: string[] = [];
    const hold = gate();
    const task = createSerialTask(
      async () => {
        log.push("step");
        throw new Error("boom");
      },
      (e) => errors.push(e),
    );
    task.trigger();
    const started = gate();
    const held = task.run(async () => {
      started.open();
      await hold.promise;
      log.push("held");
    });
    const dropped = task.run(async () => {
      log.push("dropped");
    });
    await started.promise;
    task.stop();
    hold.open();
    await held;
    await dropped;
    await task.run(async () => {
      log.push("after stop");
    });
    task.trigger();
    await task.idle();
    expect(log).toEqual(["step", "held"]);
    expect(errors.map((e) => (e as Error).message)).toEqual(["boom"]);
  });
});
