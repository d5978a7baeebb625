// Fuzz target: the static-file handler (harness/http/static.ts) behind netlab's HTTP server,
// asked for arbitrary request targets with arbitrary Range / If-Range headers, serving a small
// file set in a temporary directory (with a symlink to a secret outside it). The input is
// "target\nrange\nif-range" (characters a request line or header value may not hold are dropped,
// so the request always parses).
// Oracles:
// - the server's output parses with the project's response parser as exactly one response;
// - nothing outside the set is ever served (the secret's bytes never appear), and a 200/206
//   serves exactly the file an independent resolution of the target names (percent-decoding,
//   '.'/'..'/'//' segments, backslashes and NUL refused), or no file at all;
// - for that file, the Range header parsed independently (RFC 9110 §14.1.2) decides: one
//   satisfiable range -> 206, Content-Range "bytes a-b/len" and the body equal to the file's
//   slice; unsatisfiable -> 416 with "bytes */len"; invalid -> 200 with the whole file;
//   several ranges -> 206 multipart or 200 whole.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStaticHandler } from "../../http/static.ts";
import { createHttpServer } from "../../../stack/app/http/server.ts";
import { createResponseParser, type HttpResponseHead } from "../../../stack/app/http/parser.ts";
import { createStreamPair } from "../../../stack/transport/stream-pair.ts";
import { createVirtualClock } from "../../../stack/time.ts";
import { fail, show } from "../oracles.ts";

const FILES: Readonly<Record<string, string>> = {
  "a.txt": "0123456789abcdefghijklmnopqrstuvwxyz",
  "empty.txt": "",
  "sub/index.html": "<p>index</p>",
  "sub/b c.bin": "bytes with a space in the name",
};
const SECRET = "SECRET-OUTSIDE-THE-ROOT";
let root: string | undefined;

function setUp(): string {
  if (root !== undefined) return root;
  const base = mkdtempSync(join(tmpdir(), "netlab-fuzz-static-"));
  const r = join(base, "root");
  mkdirSync(join(r, "sub"), { recursive: true });
  for (const [name, text] of Object.entries(FILES)) writeFileSync(join(r, name), text);
  writeFileSync(join(base, "secret.txt"), SECRET);
  mkdirSync(join(base, "root-evil"));
  writeFileSync(join(base, "root-evil", "x.txt"), SECRET);
  symlinkSync(join(base, "secret.txt"), join(r, "escape.txt"));
  process.once("exit", () => rmSync(base, { recursive: true, force: true }));
  return (root = r);
}

/** The file of the set a target names (independent resolution), "refused", or "none". */
function resolveIndependently(target: string): string | "refused" | "none" | "unchecked" {
  // RFC 9112 §3.2 / RFC 3986: a request-target holds only these (no fragment); the parser may refuse the rest.
  // Such targets, and absolute-form ones (the server also checks their authority), are only held to the secret check.
  if (/[^A-Za-z0-9\-._~%!$&'()*+,;=:@/?]/.test(target) || !target.startsWith("/")) return "unchecked";
  let path = target.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/, "");
  if (path === "") path = "/";
  path = path.split(/[?#]/)[0]!;
  if (!path.startsWith("/")) return "refused";
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return "refused";
  }
  if (decoded.includes("\0") || decoded.includes("\\")) return "refused";
  const segs = decoded.split("/").filter((s) => s !== "" && s !== ".");
  if (segs.includes("..")) return "refused";
  const name = segs.join("/");
  if (Object.hasOwn(FILES, name)) return name;
  if (name === "sub") return "sub/index.html";
  return "none";
}

type Want = { kind: "whole" } | { kind: "range"; start: number; end: number } | { kind: "unsatisfiable" } | { kind: "several" };
/** RFC 9110 §14.1.2 ranges-specifier against a representation of `size` bytes. */
function rangeIndependently(value: string, size: number): Want {
  // "bytes" "=" range-set; netlab also allows blanks around "=" (a harmless leniency).
  const m = /^bytes[ \t]*=[ \t]*(.*)$/i.exec(value);
  if (!m) return { kind: "whole" };
  const specs = m[1]!
    .split(",")
    .map((s) => s.replace(/^[ \t]+|[ \t]+$/g, ""))
    .filter((s) => s !== "");
  if (specs.length === 0) return { kind: "whole" };
  const sat: Array<[number, number]> = [];
  for (const s of specs) {
    const r = /^([0-9]*)-([0-9]*)$/.exec(s);
    if (!r || (r[1] === "" && r[2] === "")) return { kind: "whole" };
    if (r[1] === "") {
      const n = BigInt(r[2]!);
      if (n > 0n && size > 0) sat.push([n >= BigInt(size) ? 0 : size - Number(n), size - 1]);
      continue;
    }
    const first = BigInt(r[1]!);
    if (r[2] !== "" && BigInt(r[2]!) < first) return { kind: "whole" };
    if (first < BigInt(size)) sat.push([Number(first), r[2] === "" || BigInt(r[2]!) >= BigInt(size) ? size - 1 : Number(r[2])]);
  }
  if (sat.length === 0) return { kind: "unsatisfiable" };
  return sat.length === 1 ? { kind: "range", start: sat[0]![0], end: sat[0]![1] } : { kind: "several" };
}

/** What a header value may hold (RFC 9110 §5.5: visible characters, space, tab); the rest is dropped. */
const clean = (s: string): string => s.replace(/[^\t\x20-\x7e]/g, "");
/** RFC 9110 §5.5: the value a recipient sees, without the optional whitespace around it (the request carries it). */
const fieldValue = (s: string): string => clean(s).replace(/^[ \t]+|[ \t]+$/g, "");

export async function fuzz(data: Buffer): Promise<void> {
  const dir = setUp();
  const [targetRaw = "/", range, ifRange] = data.toString("latin1").split("\n");
  const target = targetRaw.replace(/[^\x21-\x7e]/g, "") || "/";
  const headers = `Host: h\r\n${range !== undefined ? `Range: ${clean(range)}\r\n` : ""}${ifRange !== undefined ? `If-Range: ${clean(ifRange)}\r\n` : ""}`;
  const request = Buffer.from(`GET ${target} HTTP/1.1\r\n${headers}Connection: close\r\n\r\n`, "latin1");

  const clock = createVirtualClock();
  const server = createHttpServer({ clock }, createStaticHandler({ root: dir, chunkSize: 16 }), { date: false });
  const [client, srv] = createStreamPair(clock);
  server.handleConnection(srv);
  const out: Buffer[] = [];
  let ended = false;
  client.onData((d) => out.push(Buffer.from(d)));
  client.onEnd(() => {
    ended = true;
  });
  client.write(request);
  client.end();
  // The handler waits on the real file system: first let real I/O finish without moving virtual
  // time (so no server timeout fires just because the machine is slow), bounded in real time;
  // then let virtual time run, for answers that do wait on the server's timers.
  for (const started = Date.now(); !ended && Date.now() - started < 2_000; ) {
    clock.run(clock.now());
    await new Promise<void>((r) => setImmediate(r));
  }
  for (let i = 0; i < 20000 && !ended; i++) {
    clock.run(clock.now() + 5);
    await new Promise<void>((r) => setImmediate(r));
  }
  const input = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (!ended) fail("http-static", "the connection did not close", input);
  const raw = Buffer.concat(out);
  if (raw.includes(SECRET)) fail("traversal", `served the secret for ${JSON.stringify(target)}`, input);

  const heads: HttpResponseHead[] = [];
  const bodies: Buffer[] = [];
  const rp = createResponseParser({
    onHead: (h) => {
      heads.push(h);
      bodies.push(Buffer.alloc(0));
    },
    onBody: (d) => {
      bodies[bodies.length - 1] = Buffer.concat([bodies[bodies.length - 1]!, d]);
    },
    onComplete: () => {},
  });
  const parsed = rp.push(raw);
  const fin = parsed.ok ? rp.finish() : parsed;
  if (!fin.ok || heads.length !== 1)
    fail(
      "response",
      `the output does not parse as one response (${fin.ok ? `${heads.length} responses` : fin.error}): ${show(raw.toString("latin1").slice(0, 200))}`,
      input,
    );
  const head = heads[0]!,
    body = bodies[0]!,
    status = head.status;
  if (status >= 500) fail("http-static", `status ${status}`, input);

  const file = resolveIndependently(target);
  if (file === "unchecked") return;
  if (file === "refused" || file === "none") {
    if (status === 200 || status === 206 || status === 416)
      fail("traversal", `answered ${status} for ${JSON.stringify(target)}, which names no file of the set (${file})`, input);
    return;
  }
  const content = Buffer.from(FILES[file]!, "latin1");
  // A target naming a file through a symlink or directory the server resolves differently is not ours to judge; a found file is.
  if (status === 404 || status === 403 || status === 400) fail("resolve", `answered ${status} for ${JSON.stringify(target)}, which names ${file}`, input);
  const ifRangeHonoured = ifRange === undefined;
  const want = range === undefined || !ifRangeHonoured ? { kind: "whole" as const } : rangeIndependently(fieldValue(range), content.length);
  const cr = head.headers.get("content-range");
  const problem = (what: string): never =>
    fail(
      "range",
      `${what}; target ${JSON.stringify(target)} (${file}, ${content.length} bytes), Range ${JSON.stringify(range)} → ${show(want)}; got ${status} ${cr ?? ""} ${show(body.toString("latin1").slice(0, 80))}`,
      input,
    );
  if (ifRange !== undefined) {
    if (status !== 200 && status !== 206 && status !== 416) problem("unexpected status with If-Range");
    if (status === 200 && !body.equals(content)) problem("200 with a body other than the file");
    return;
  }
  switch (want.kind) {
    case "whole":
      if (status !== 200 || !body.equals(content) || cr !== undefined) problem("expected the whole file with 200");
      break;
    case "unsatisfiable":
      if (status !== 416 || cr !== `bytes */${content.length}`) problem("expected 416 with bytes */len");
      break;
    case "range":
      if (status !== 206 || cr !== `bytes ${want.start}-${want.end}/${content.length}` || !body.equals(content.subarray(want.start, want.end + 1)))
        problem("expected the independent slice with 206");
      break;
    case "several":
      if (!(status === 206 && /^multipart\/byteranges/.test(head.headers.get("content-type") ?? "")) && !(status === 200 && body.equals(content)))
        problem("expected multipart 206 or the whole file");
      break;
  }
}

/** Seeds: plain files, a directory, traversal shapes, and the Range forms of RFC 9110 §14.1.2. */
export function seeds(): Uint8Array[] {
  const s = (t: string): Uint8Array => Uint8Array.from(Buffer.from(t, "latin1"));
  return [
    s("/a.txt"),
    s("/a.txt\nbytes=10-15"),
    s("/a.txt\nbytes=-4"),
    s("/a.txt\nbytes=30-"),
    s("/a.txt\nbytes=36-40"),
    s("/a.txt\nbytes=5-2"),
    s("/a.txt\nbytes=0-1,10-12,-2"),
    s("/a.txt\nbytes=0-5,3-8"),
    s("/empty.txt\nbytes=0-0"),
    s("/sub/\nbytes=0-2"),
    s("/sub/b%20c.bin?x=1\nBYTES = 3-"),
    s("/%2e%2e/secret.txt"),
    s("/..%2fsecret.txt"),
    s("//a.txt"),
    s("/sub/..\\a.txt"),
    s("/a.txt%00.html"),
    s("/escape.txt"),
    s("/../root-evil/x.txt"),
    s('http://h/a.txt\nbytes=0-0\n"nope"'),
    s("/a.txt\nbytes=99999999999999999999-"),
  ];
}
