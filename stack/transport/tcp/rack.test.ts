// RackState.reset: a connection reuses its idle RACK state (rack.ts rackState) instead of
// allocating one per reply, so a reset state must be a fresh one in every field, including
// fields added later.
import { describe, expect, it } from "vitest";
import { RackState } from "./rack.ts";

/** Every own enumerable field but the log, whose contents are compared through its methods. */
function fields(r: RackState): Record<string, unknown> {
  const { log: _, ...rest } = r as unknown as Record<string, unknown>;
  return rest;
}

describe("RackState.reset", () => {
  it("gives exactly the state of a new RackState, whatever the fields held", () => {
    const r = new RackState(100);
    r.log.push(200, 1);
    r.log.push(300, 2);
    for (const k of Object.keys(fields(r))) {
      const v = (r as unknown as Record<string, unknown>)[k];
      (r as unknown as Record<string, unknown>)[k] = typeof v === "boolean" ? !v : typeof v === "number" ? v + 12345 : v;
    }
    expect(fields(r)).not.toEqual(fields(new RackState(7)));
    r.reset(7);
    expect(fields(r)).toEqual(fields(new RackState(7)));
    expect(r.log.empty).toBe(true);
    expect(r.idle).toBe(true);
  });
});
