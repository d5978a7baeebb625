import { describe, expect, it } from "vitest";
import { unwrap } from "../../stack/result.ts";
import { createDomainMemory } from "./memory.ts";

describe("domain memory", () => {
  it("hands out zeroed 4096-byte pages, each backed by its own SharedArrayBuffer, frames from 0", () => {
    const m = createDomainMemory({ domid: 3 });
    const a = unwrap(m.allocPage());
    const b = unwrap(m.allocPage());
    expect([a, b]).toEqual([0, 1]);
    const pa = unwrap(m.page(a));
    expect(pa.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(pa.length).toBe(4096);
    expect(pa.buffer).not.toBe(unwrap(m.page(b)).buffer);
    expect(m.domid).toBe(3);
  });

  it("enforces maxPages, reuses freed frames with zeroed pages", () => {
    const m = createDomainMemory({ domid: 1 }, { maxPages: 2 });
    const a = unwrap(m.allocPage());
    unwrap(m.allocPage());
    expect(m.allocPage()).toEqual({ ok: false, error: "out-of-memory" });
    unwrap(m.page(a))[7] = 9;
    unwrap(m.freePage(a));
    expect(m.pageCount).toBe(1);
    const again = unwrap(m.allocPage());
    expect(again).toBe(a);
    expect(unwrap(m.page(again))[7]).toBe(0);
  });

  it("refuses and reports frames it does not own, and freeing a page another domain maps", () => {
    const refused: string[] = [];
    const m = createDomainMemory({ domid: 1, onRefused: (f, r) => refused.push(`${f}:${r}`) });
    const a = unwrap(m.allocPage());
    expect(m.page(5)).toEqual({ ok: false, error: "bad-frame" });
    expect(m.page(-1)).toEqual({ ok: false, error: "bad-frame" });
    expect(m.page(0.5)).toEqual({ ok: false, error: "bad-frame" });
    expect(m.freePage(5)).toEqual({ ok: false, error: "bad-frame" });
    m.pin(a);
    expect(m.freePage(a)).toEqual({ ok: false, error: "page-in-use" });
    m.unpin(a);
    unwrap(m.freePage(a));
    expect(m.page(a)).toEqual({ ok: false, error: "bad-frame" });
    expect(refused).toEqual(["5:bad-frame", "-1:bad-frame", "0.5:bad-frame", "5:bad-frame", "0:page-in-use", "0:bad-frame"]);
  });
});
