// Static-file handler for the netlab HTTP server: serves a directory with ETag and
// Last-Modified validators, conditional requests (RFC 9110 §13: If-Match,
// If-Unmodified-Since, If-None-Match, If-Modified-Since -> 304/412), single byte ranges
// (RFC 9110 §14: 206 with Content-Range, 416 when unsatisfiable, If-Range; several disjoint
// ascending ranges as multipart/byteranges, others with the whole file), and refuses path traversal (".." -> 403, symlinks
// leaving the root -> 403). Files are streamed in chunks with backpressure, never buffered whole.
//
// createStaticHandler(options)  an HttpHandler serving options.root
import { randomBytes } from "node:crypto";
import { open, realpath, stat } from "node:fs/promises";
import { join, sep } from "node:path";
import { formatHttpDate, parseHttpDate } from "../../stack/app/http/date.ts";
import type { HttpHandler, HttpServerResponse } from "../../stack/app/http/server.ts";
import { utf8Encode } from "../../stack/app/http/utf8.ts";

export interface StaticOptions {
  /** Directory to serve. */
  readonly root: string;
  /** File served for a directory, or null to answer 404. */
  readonly index?: string | null;
  /** Bytes read from disk per write. */
  readonly chunkSize?: number;
  /** Cache-Control max-age in seconds, or null to omit. */
  readonly maxAgeSeconds?: number | null;
  /** Extra extension -> media type entries. */
  readonly contentTypes?: Readonly<Record<string, string>>;
  /** Most ranges answered as multipart/byteranges; more are answered with the whole file. */
  readonly maxRanges?: number;
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  json: "application/json",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  ico: "image/x-icon",
  wasm: "application/wasm",
  pdf: "application/pdf",
  pcap: "application/vnd.tcpdump.pcap",
};

interface FileInfo {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly etag: string;
  readonly lastModified: string;
}

type Range = { readonly start: number; readonly end: number };

/** Parses a Range header (RFC 9110 §14.1.1) against `size`: ranges, "unsatisfiable", or null to ignore. */
export function parseRange(value: string, size: number): Range[] | "unsatisfiable" | null {
  const m = /^bytes[ \t]*=[ \t]*(.+)$/i.exec(value);
  if (!m) return null;
  const out: Range[] = [];
  let syntaxOk = true;
  let specs = 0;
  for (const part of m[1]!.split(",")) {
    const spec = part.trim();
    if (spec === "") continue;
    specs++;
    const r = /^(\d*)-(\d*)$/.exec(spec);
    if (!r || (r[1] === "" && r[2] === "")) {
      syntaxOk = false;
      break;
    }
    if (r[1] === "") {
      const n = Number(r[2]);
      if (n > 0 && size > 0) out.push({ start: Math.max(0, size - n), end: size - 1 });
      continue;
    }
    const start = Number(r[1]);
    const end = r[2] === "" ? size - 1 : Math.min(Number(r[2]), size - 1);
    if (r[2] !== "" && Number(r[2]) < start) {
      syntaxOk = false;
      break;
    }
    if (start < size) out.push({ start, end });
  }
  // a range-set is 1#range-spec: one of empty list elements only ("bytes=,") is invalid, not unsatisfiable
  if (!syntaxOk || specs === 0) return null;
  return out.length === 0 ? "unsatisfiable" : out;
}

function disjointAscending(ranges: readonly Range[]): boolean {
  for (let i = 1; i < ranges.length; i++) if (ranges[i]!.start <= ranges[i - 1]!.end) return false;
  return true;
}

function etagMatches(header: string, etag: string, weak: boolean): boolean {
  if (header.trim() === "*") return true;
  const strip = (t: string): string => (weak && t.startsWith("W/") ? t.slice(2) : t);
  const list = header.match(/(?:W\/)?"[^"]*"/g) ?? [];
  for (const t of list) {
    if (!weak && t.startsWith("W/")) continue;
    if (strip(t) === strip(etag)) return true;
  }
  return false;
}

function plain(res: HttpServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  res.statusCode = status;
  res.setHeader("Content-Type", "text/plain; charset=utf-8");
  for (const [k, v] of Object.entries(extra)) res.setHeader(k, v);
  res.end(`${text}\n`);
}

/** Creates a handler that serves files under `options.root`. */
export function createStaticHandler(options: StaticOptions): HttpHandler {
  const chunkSize = options.chunkSize ?? 64 * 1024;
  const maxRanges = options.maxRanges ?? 16;
  const index = options.index === undefined ? "index.html" : options.index;
  const types = { ...TYPES, ...(options.contentTypes ?? {}) };
  let rootReal: Promise<string> | null = null;

  /** Maps a request-target to a regular file inside the root, or a status to answer with. */
  const resolve = async (target: string): Promise<FileInfo | 400 | 403 | 404> => {
    let path = target;
    const abs = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/.exec(path);
    if (abs) path = path.slice(abs[0].length) || "/";
    path = path.split("?")[0]!.split("#")[0]!;
    if (!path.startsWith("/")) return 400;
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      return 400;
    }
    if (decoded.includes("\0")) return 400;
    const segments = decoded.split("/").filter((s) => s !== "" && s !== ".");
    if (segments.some((s) => s === ".." || s.includes("\\"))) return 403;
    rootReal ??= realpath(options.root);
    const root = await rootReal;
    let real: string;
    try {
      real = await realpath(join(root, ...segments));
    } catch {
      return 404;
    }
    if (real !== root && !real.startsWith(root + sep)) return 403;
    let st = await stat(real).catch(() => null);
    if (st?.isDirectory()) {
      if (index === null) return 404;
      try {
        real = await realpath(join(real, index));
      } catch {
        return 404;
      }
      if (!real.startsWith(root + sep)) return 403;
      st = await stat(real).catch(() => null);
    }
    if (!st || !st.isFile()) return 404;
    const mtimeMs = Math.floor(st.mtimeMs);
    return {
      path: real,
      size: st.size,
      mtimeMs,
      etag: `"${st.size.toString(16)}-${mtimeMs.toString(16)}"`,
      lastModified: formatHttpDate(mtimeMs),
    };
  };

  return async (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      plain(res, 405, "method not allowed", { Allow: "GET, HEAD" });
      return;
    }
    const found = await resolve(req.target);
    if (typeof found === "number") {
      plain(res, found, found === 403 ? "forbidden" : found === 404 ? "not found" : "bad request");
      return;
    }
    const f = found;
    const h = req.headers;
    const validators = (): void => {
      res.setHeader("ETag", f.etag);
      res.setHeader("Last-Modified", f.lastModified);
      if (options.maxAgeSeconds != null) res.setHeader("Cache-Control", `max-age=${options.maxAgeSeconds}`);
    };
    const lastModSec = Math.floor(f.mtimeMs / 1000);
    // RFC 9110 §13.2.2: evaluate preconditions in this order.
    const ifMatch = h.get("if-match");
    if (
      ifMatch !== undefined
        ? !etagMatches(ifMatch, f.etag, false)
        : (() => {
            const ius = h.get("if-unmodified-since");
            const t = ius === undefined ? null : parseHttpDate(ius);
            return t !== null && lastModSec > t / 1000;
          })()
    ) {
      plain(res, 412, "precondition failed");
      return;
    }
    const inm = h.get("if-none-match");
    let notModified = false;
    if (inm !== undefined) notModified = etagMatches(inm, f.etag, true);
    else {
      const ims = h.get("if-modified-since");
      const t = ims === undefined ? null : parseHttpDate(ims);
      notModified = t !== null && lastModSec <= t / 1000;
    }
    if (notModified) {
      res.statusCode = 304;
      validators();
      res.end();
      return;
    }

    let parts: Range[] = [{ start: 0, end: f.size - 1 }];
    let multipart = false;
    const type = types[f.path.slice(f.path.lastIndexOf(".") + 1).toLowerCase()] ?? "application/octet-stream";
    res.setHeader("Accept-Ranges", "bytes");
    const rangeHeader = req.method === "GET" ? h.get("range") : undefined;
    if (rangeHeader !== undefined) {
      const ifRange = h.get("if-range");
      let honour = true;
      if (ifRange !== undefined) {
        // RFC 9110 §13.1.5: a strong ETag match, or an exact Last-Modified date.
        honour = ifRange.trim().startsWith('"') || ifRange.trim().startsWith("W/") ? etagMatches(ifRange, f.etag, false) : ifRange.trim() === f.lastModified;
      }
      const ranges = honour ? parseRange(rangeHeader, f.size) : null;
      if (ranges === "unsatisfiable") {
        validators();
        plain(res, 416, "range not satisfiable", { "Content-Range": `bytes */${f.size}` });
        return;
      }
      if (ranges !== null && ranges.length === 1) {
        parts = ranges;
        res.statusCode = 206;
        res.setHeader("Content-Range", `bytes ${ranges[0]!.start}-${ranges[0]!.end}/${f.size}`);
      } else if (ranges !== null && ranges.length <= maxRanges && disjointAscending(ranges)) {
        // RFC 9110 §14.6: several ranges as multipart/byteranges. Overlapping, unordered or too
        // many ranges are answered with the whole file instead (§14.2 allows ignoring Range).
        parts = ranges;
        multipart = true;
        res.statusCode = 206;
      }
    }
    validators();
    const boundary = multipart ? `netlab-${randomBytes(12).toString("hex")}` : "";
    const partHead = (r: Range): Uint8Array =>
      utf8Encode(`\r\n--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: bytes ${r.start}-${r.end}/${f.size}\r\n\r\n`);
    const closing = multipart ? utf8Encode(`\r\n--${boundary}--\r\n`) : new Uint8Array(0);
    let length = closing.length;
    for (const r of parts) length += r.end - r.start + 1 + (multipart ? partHead(r).length : 0);
    res.setHeader("Content-Type", multipart ? `multipart/byteranges; boundary=${boundary}` : type);
    res.setHeader("Content-Length", length);
    if (req.method === "HEAD" || length === 0) {
      res.end();
      return;
    }
    const fh = await open(f.path, "r");
    let aborted = false;
    let wake: (() => void) | null = null;
    res.onAbort(() => {
      aborted = true;
      wake?.();
    });
    const send = async (bytes: Uint8Array): Promise<void> => {
      if (!res.write(bytes) && !aborted) {
        await new Promise<void>((r) => {
          wake = r;
          res.onDrain(r);
        });
        wake = null;
      }
    };
    try {
      for (const r of parts) {
        if (multipart) await send(partHead(r));
        let pos = r.start;
        while (pos <= r.end && !aborted) {
          const want = Math.min(chunkSize, r.end - pos + 1);
          const buf = new Uint8Array(want);
          const { bytesRead } = await fh.read(buf, 0, want, pos);
          // A file that shrank under us leaves the body short; end() then closes the connection.
          if (bytesRead === 0) break;
          pos += bytesRead;
          await send(bytesRead === want ? buf : buf.subarray(0, bytesRead));
        }
        if (aborted) break;
      }
      if (!aborted) res.end(closing);
    } finally {
      await fh.close();
    }
  };
}
