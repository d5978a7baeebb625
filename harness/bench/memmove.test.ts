import { describe, expect, it } from "vitest";
import { memmoveTunablesEnv, probeMemmove, REP_MOVSB_THRESHOLD } from "./memmove.ts";

describe("memmove short-distance probe", () => {
  it("adds the rep movsb threshold to GLIBC_TUNABLES once, keeping what is there", () => {
    const add = `glibc.cpu.x86_rep_movsb_threshold=${REP_MOVSB_THRESHOLD}`;
    expect(memmoveTunablesEnv(undefined)).toBe(add);
    expect(memmoveTunablesEnv("")).toBe(add);
    expect(memmoveTunablesEnv("glibc.malloc.arena_max=2")).toBe(`glibc.malloc.arena_max=2:${add}`);
    expect(memmoveTunablesEnv("glibc.cpu.x86_rep_movsb_threshold=9999")).toBeUndefined();
    expect(memmoveTunablesEnv("glibc.malloc.arena_max=2:glibc.cpu.x86_rep_movsb_threshold=9999")).toBeUndefined();
  });

  it("measures both distances and their ratio", () => {
    const p = probeMemmove();
    expect(p.alignedGBps).toBeGreaterThan(0);
    expect(p.shortDistanceGBps).toBeGreaterThan(0);
    expect(p.penalty).toBeCloseTo(p.alignedGBps / p.shortDistanceGBps, 0);
  });
});
