import { describe, expect, it } from "vitest";
import { SackScoreboard } from "./scoreboard.ts";

const MSS = 1000;

describe("SackScoreboard (RFC 6675)", () => {
  it("merges blocks, clips them to (SND.UNA, SND.MAX] and counts SACKed bytes", () => {
    const sb = new SackScoreboard();
    expect(sb.add(2000, 3000, 0, 10_000)).toBe(true);
    expect(sb.add(2500, 4000, 0, 10_000)).toBe(true);
    expect(sb.add(2500, 3500, 0, 10_000)).toBe(false);
    expect(sb.add(9000, 11_000, 0, 10_000)).toBe(false);
    expect(sb.blocks).toEqual([{ left: 2000, right: 4000 }]);
    expect(sb.sacked).toBe(2000);
    sb.ackedTo(3000);
    expect(sb.blocks).toEqual([{ left: 3000, right: 4000 }]);
    expect(sb.sacked).toBe(1000);
  });

  it("a hole is lost once more than 2·MSS bytes or 3 blocks are SACKed above it", () => {
    const sb = new SackScoreboard();
    sb.add(1000, 3000, 0, 10_000);
    expect(sb.unaLost(0, MSS)).toBe(false);
    sb.add(3000, 3001, 0, 10_000);
    expect(sb.unaLost(0, MSS)).toBe(true);
    const sb2 = new SackScoreboard();
    sb2.add(1000, 1100, 0, 10_000);
    sb2.add(2000, 2100, 0, 10_000);
    sb2.add(3000, 3100, 0, 10_000);
    expect(sb2.unaLost(0, MSS)).toBe(true);
    expect(sb2.nextLostHole(0, 0, MSS)).toEqual({ left: 0, right: 1000 });
    expect(sb2.nextLostHole(1000, 0, MSS)).toBeUndefined();
    expect(sb2.lostBytesFrom(500, 0, MSS)).toBe(500);
  });
});
