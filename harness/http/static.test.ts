import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, mkdir, open, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStaticHandler, parseRange } from "./static.ts";
import { createHttpPair, settle } from "./testing.ts";
import type { HttpRequestOptions } from "../../stack/app/http/client.ts";
import { utf8Decode } from "../../stack/app/http/utf8.ts";

const HOST = 0x0a000002;
let dir = "";
let outside = "";
const MTIME = Date.UTC(2024, 0, 2, 3, 4, 5) / 1000;
const LAST_MODIFIED = "Tue, 02 Jan 2024 03:04:05 GMT";
const TEXT = "0123456789abcdefghijklmnopqrstuvwxyz";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "netlab-static-"));
  outside = await mkdtemp(join(tmpdir(), "netlab-outside-"));
  await writeFile(join(dir, "a.txt"), TEXT);
  await utimes(join(dir, "a.txt"), MTIME, MTIME);
  await mkdir(join(dir, "sub"));
  await writeFile(join(dir, "sub", "index.html"), "<p>index</p>");
  await writeFile(join(outside, "secret.txt"), "secret");
  await symlink(join(outside, "secret.txt"), join(dir, "escape.txt"));
  const big = await open(join(dir, "big.bin"), "w");
  await big.truncate(100 * 1024 * 1024);
  await big.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

async function get(o: Partial<HttpRequestOptions> & { path: string }) {
  const pair = createHttpPair(createStaticHandler({ root: dir }), { date: false });
  const res = await settle(pair.clock, pair.client.request({ host: HOST, ...o }));
  const body = utf8Decode(await settle(pair.clock, res.body.bytes(1 << 20)));
  return { status: res.status, headers: res.headers.toObject(), body };
}

describe("createStaticHandler()", () => {
  it("serves a file with validators, type and length", async () => {
    const r = await get({ path: "/a.txt" });
    expect(r).toEqual({
      status: 200,
      body: TEXT,
      headers: {
        "accept-ranges": "bytes",
        etag: `"24-${(MTIME * 1000).toString(16)}"`,
        "last-modified": LAST_MODIFIED,
        "content-type": "text/plain; charset=utf-8",
        "content-length": "36",
      },
    });
  });

  it("answers HEAD with the same headers and no body", async () => {
    const r = await get({ path: "/a.txt", method: "HEAD" });
    expect([r.status, r.headers["content-length"], r.body]).toEqual([200, "36", ""]);
  });

  it("serves a directory's index file", async () => {
    const r = await get({ path: "/sub/" });
    expect([r.status, r.headers["content-type"], r.body]).toEqual([200, "text/html; charset=utf-8", "<p>index</p>"]);
  });

  it("answers 304 to a matching If-None-Match and to a current If-Modified-Since", async () => {
    const etag = `"24-${(MTIME * 1000).toString(16)}"`;
    const a = await get({ path: "/a.txt", headers: { "If-None-Match": `"x", W/${etag}` } });
    expect([a.status, a.body, a.headers["etag"], a.headers["content-length"]]).toEqual([304, "", etag, undefined]);
    const b = await get({ path: "/a.txt", headers: { "If-Modified-Since": LAST_MODIFIED } });
    expect(b.status).toBe(304);
    const c = await get({ path: "/a.txt", headers: { "If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT" } });
    expect([c.status, c.body]).toEqual([200, TEXT]);
    const d = await get({ path: "/a.txt", headers: { "If-None-Match": '"other"', "If-Modified-Since": LAST_MODIFIED } });
    expect(d.status).toBe(200);
  });

  it("answers 412 when If-Match fails", async () => {
    expect((await get({ path: "/a.txt", headers: { "If-Match": '"nope"' } })).status).toBe(412);
  });

  it("answers a single range with 206 and Content-Range", async () => {
    const a = await get({ path: "/a.txt", headers: { Range: "bytes=10-15" } });
    expect([a.status, a.headers["content-range"], a.headers["content-length"], a.body]).toEqual([206, "bytes 10-15/36", "6", "abcdef"]);
    const b = await get({ path: "/a.txt", headers: { Range: "bytes=-4" } });
    expect([b.status, b.headers["content-range"], b.body]).toEqual([206, "bytes 32-35/36", "wxyz"]);
    const c = await get({ path: "/a.txt", headers: { Range: "bytes=30-" } });
    expect([c.status, c.body]).toEqual([206, "uvwxyz"]);
  });

  it("answers an unsatisfiable range with 416 and ignores malformed or overlapping ranges", async () => {
    const a = await get({ path: "/a.txt", headers: { Range: "bytes=36-40" } });
    expect([a.status, a.headers["content-range"]]).toEqual([416, "bytes */36"]);
    const b = await get({ path: "/a.txt", headers: { Range: "bytes=5-2" } });
    expect([b.status, b.body]).toEqual([200, TEXT]);
    const c = await get({ path: "/a.txt", headers: { Range: "bytes=0-5,3-8" } });
    expect([c.status, c.body]).toEqual([200, TEXT]);
  });

  it("answers several disjoint ranges as multipart/byteranges", async () => {
    const r = await get({ path: "/a.txt", headers: { Range: "bytes=0-1,10-12,-2" } });
    expect(r.status).toBe(206);
    const boundary = /^multipart\/byteranges; boundary=(netlab-[0-9a-f]{24})$/.exec(r.headers["content-type"]!)![1]!;
    const part = (range: string, data: string): string =>
      `\r\n--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes ${range}/36\r\n\r\n${data}`;
    expect(r.body).toBe(part("0-1", "01") + part("10-12", "abc") + part("34-35", "yz") + `\r\n--${boundary}--\r\n`);
    expect(Number(r.headers["content-length"])).toBe(r.body.length);
  });

  it("ignores Range when If-Range does not match", async () => {
    const a = await get({ path: "/a.txt", headers: { Range: "bytes=0-0", "If-Range": '"old"' } });
    expect([a.status, a.body]).toEqual([200, TEXT]);
    const b = await get({ path: "/a.txt", headers: { Range: "bytes=0-0", "If-Range": LAST_MODIFIED } });
    expect([b.status, b.body]).toEqual([206, "0"]);
  });

  it("refuses path traversal and symlinks leaving the root", async () => {
    expect((await get({ path: "/../etc/passwd" })).status).toBe(403);
    expect((await get({ path: "/sub/%2e%2e/%2e%2e/etc/passwd" })).status).toBe(403);
    expect((await get({ path: "/escape.txt" })).status).toBe(403);
    expect((await get({ path: "/%00" })).status).toBe(400);
    expect((await get({ path: "/%zz" })).status).toBe(400);
    expect((await get({ path: "/missing" })).status).toBe(404);
    expect((await get({ path: "/a.txt", method: "POST", body: "x" })).status).toBe(405);
  });

  it("streams a 100 MB file with bounded buffering", async () => {
    const pair = createHttpPair(createStaticHandler({ root: dir }), { date: false }, {}, { highWaterMark: 256 * 1024 });
    const res = await settle(pair.clock, pair.client.request({ host: HOST, path: "/big.bin" }));
    expect(res.headers.get("content-length")).toBe(String(100 * 1024 * 1024));
    let received = 0;
    let maxQueued = 0;
    const heapBefore = process.memoryUsage().heapUsed;
    res.body.onData((d) => {
      received += d.length;
      maxQueued = Math.max(maxQueued, pair.serverSides[0]!.bufferedAmount);
    });
    await settle(pair.clock, new Promise((r) => res.body.onEnd(r)));
    expect(received).toBe(100 * 1024 * 1024);
    expect(maxQueued).toBeLessThanOrEqual(256 * 1024 + 64 * 1024);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(50 * 1024 * 1024);
  });
});

describe("parseRange()", () => {
  it("parses the forms of RFC 9110 §14.1.1", () => {
    expect(parseRange("bytes=0-499", 1000)).toEqual([{ start: 0, end: 499 }]);
    expect(parseRange("bytes=500-", 1000)).toEqual([{ start: 500, end: 999 }]);
    expect(parseRange("bytes=-500", 1000)).toEqual([{ start: 500, end: 999 }]);
    expect(parseRange("bytes=900-2000", 1000)).toEqual([{ start: 900, end: 999 }]);
    expect(parseRange("bytes=0-0,-1", 1000)).toEqual([
      { start: 0, end: 0 },
      { start: 999, end: 999 },
    ]);
    expect(parseRange("bytes=1000-", 1000)).toBe("unsatisfiable");
    expect(parseRange("bytes=-0", 1000)).toBe("unsatisfiable");
    expect(parseRange("items=0-1", 1000)).toBeNull();
    expect(parseRange("bytes=a-b", 1000)).toBeNull();
  });

  it("ignores a range-set of empty list elements only (1#range-spec needs one): invalid, not unsatisfiable", () => {
    expect(parseRange("bytes=,", 1000)).toBeNull();
    expect(parseRange("bytes= , ,", 1000)).toBeNull();
    expect(parseRange("bytes=,0-1,", 1000)).toEqual([{ start: 0, end: 1 }]);
  });
});
