import { describe, expect, it } from "vitest";
import { createBufferRecycler } from "./recycler.ts";
import { withoutRelease } from "./types.ts";

describe("buffer recycler", () => {
  it("lends a released buffer again, and a new one while every buffer is out", () => {
    const r = createBufferRecycler({ capacity: 1024 });
    const a = r.take(100)!;
    expect(a.data.length).toBe(100);
    expect(a.reused).toBe(false);
    const b = r.take(1024)!;
    expect(b.data.buffer).not.toBe(a.data.buffer);
    a.release();
    const c = r.take(10)!;
    expect(c.reused).toBe(true);
    expect(c.data.buffer).toBe(a.data.buffer);
    expect(r.stats).toEqual({ reused: 1, allocated: 2, released: 1, staleReleases: 0 });
  });

  it("ignores a second release and a stale one: the buffer lent again stays with its new owner", () => {
    const r = createBufferRecycler({ capacity: 64 });
    const a = r.take(64)!;
    a.release();
    a.release();
    const b = r.take(64)!;
    expect(b.data.buffer).toBe(a.data.buffer);
    a.release(); // stale: must not free b's buffer
    const c = r.take(64)!;
    expect(c.data.buffer).not.toBe(b.data.buffer);
    expect(r.stats.staleReleases).toBe(2);
  });

  it("poisons released buffers when asked, keeps at most `keep`, refuses sizes beyond capacity", () => {
    const r = createBufferRecycler({ capacity: 16, keep: 1, poison: true });
    const a = r.take(16)!,
      b = r.take(16)!;
    a.data.fill(7);
    a.release();
    b.release(); // beyond keep: left to the GC
    expect([...a.data]).toEqual(new Array(16).fill(0xa5));
    expect(r.take(16)!.data.buffer).toBe(a.data.buffer);
    expect(r.take(16)!.reused).toBe(false);
    expect(r.take(17)).toBeUndefined();
    expect(r.take(-1)).toBeUndefined();
    expect(() => createBufferRecycler({ capacity: 0 })).toThrow(expect.objectContaining({ code: "ERR_NETLAB_RECYCLER_ARGS" }));
  });

  it("withoutRelease keeps data and offload and drops only release", () => {
    const data = new Uint8Array(20);
    const f = { data, offload: { csumBlank: true }, release: () => {} };
    expect(withoutRelease(f)).toEqual({ data, offload: { csumBlank: true } });
    const plain = { data };
    expect(withoutRelease(plain)).toBe(plain);
  });
});
