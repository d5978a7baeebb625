// Fuzz target: the xenstore client library (xen-sim/xenstore/client.ts) fed hostile replies. Six
// requests are outstanding (READ, WRITE, GET_DOMAIN_PATH, WATCH, MKDIR, READ: req_ids 1..6);
// the input is the byte stream the "server" sends back (any type, req_id, tx_id, len, payload),
// delivered in pieces. Oracles:
// - a shadow model, framing the stream independently from the raw bytes (xs_wire.h: 16-byte
//   little-endian header, len <= 4096), says how every request must settle: the reply at the
//   head of the queue with its req_id and its type (or ERROR) settles it, anything else (a
//   foreign req_id, a wrong type, len > 4096) closes the connection and fails everything still
//   outstanding with "protocol"; the rest fail "closed" when the client is closed at the end;
//   the client's results must equal the model's, value by value;
// - every request settles (exactly once: each outcome is recorded by its own promise);
// - a protocol failure closes the transport;
// - watch callbacks fire exactly for the WATCH_EVENTs naming the registered token before the
//   connection failed;
// - the outcome is the same however the stream is chunked (whole, split, byte by byte).
import { createXenstoreClient } from "../../../xen-sim/xenstore/client.ts";
import type { XsByteTransport } from "../../../xen-sim/xenstore/types.ts";
import { chunks, fail, sameValue, show } from "../oracles.ts";

const T = { READ: 2, WATCH: 4, GET_DOMAIN_PATH: 10, WRITE: 11, MKDIR: 12, WATCH_EVENT: 15, ERROR: 16 } as const;
const ERRNOS = [
  "EINVAL",
  "EACCES",
  "EEXIST",
  "EISDIR",
  "ENOENT",
  "ENOMEM",
  "ENOSPC",
  "EIO",
  "ENOTEMPTY",
  "ENOSYS",
  "EROFS",
  "EBUSY",
  "EAGAIN",
  "EISCONN",
  "E2BIG",
  "EPERM",
];
const TOKEN = "tok";

/** What each outstanding request turns a good reply payload into. */
type Shape = "raw" | "unit" | "text" | "watch";
const REQUESTS: ReadonlyArray<{ type: number; shape: Shape }> = [
  { type: T.READ, shape: "raw" },
  { type: T.WRITE, shape: "unit" },
  { type: T.GET_DOMAIN_PATH, shape: "text" },
  { type: T.WATCH, shape: "watch" },
  { type: T.MKDIR, shape: "unit" },
  { type: T.READ, shape: "raw" },
];

type Outcome = { ok: true; value: unknown } | { ok: false; error: string };
interface Run {
  outcomes: Outcome[];
  events: string[];
  protocolClose: boolean;
  sent: number[][];
}

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
/** First NUL-terminated string of a payload (xs_wire strings), or undefined without a final NUL. */
const firstString = (p: Uint8Array): string | undefined => {
  if (p.length === 0 || p[p.length - 1] !== 0) return undefined;
  return latin1(p.subarray(0, p.indexOf(0)));
};

/** The independent expectation, from the raw stream. */
function model(bytes: Uint8Array): Run {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const outcomes: Outcome[] = [];
  const events: string[] = [];
  let protocolClose = false;
  let at = 0;
  const settleGood = (shape: Shape, p: Uint8Array): Outcome => {
    if (shape === "raw") return { ok: true, value: p.slice() };
    if (shape === "unit") return { ok: true, value: undefined };
    if (shape === "watch") return { ok: true, value: "watching" };
    const s = firstString(p);
    return s === undefined ? { ok: false, error: "protocol" } : { ok: true, value: s };
  };
  for (let pos = 0; pos + 16 <= bytes.length && !protocolClose; ) {
    const type = v.getUint32(pos, true),
      reqId = v.getUint32(pos + 4, true),
      len = v.getUint32(pos + 12, true);
    if (len > 4096) {
      protocolClose = true;
      break;
    }
    if (pos + 16 + len > bytes.length) break;
    const payload = bytes.subarray(pos + 16, pos + 16 + len);
    pos += 16 + len;
    if (type === T.WATCH_EVENT) {
      const nul1 = payload.indexOf(0),
        nul2 = nul1 < 0 ? -1 : payload.indexOf(0, nul1 + 1);
      if (payload.length > 0 && payload[payload.length - 1] === 0 && nul2 >= 0 && latin1(payload.subarray(nul1 + 1, nul2)) === TOKEN) {
        events.push(latin1(payload.subarray(0, nul1)));
      }
      continue;
    }
    const head = REQUESTS[at];
    if (head === undefined || reqId !== at + 1 || (type !== head.type && type !== T.ERROR)) {
      protocolClose = true;
      break;
    }
    if (type === T.ERROR) {
      const name = firstString(payload);
      outcomes.push({ ok: false, error: name !== undefined && ERRNOS.includes(name) ? name : "EIO" });
    } else outcomes.push(settleGood(head.shape, payload));
    at++;
  }
  while (outcomes.length < REQUESTS.length) outcomes.push({ ok: false, error: protocolClose ? "protocol" : "closed" });
  return { outcomes, events, protocolClose, sent: [] };
}

async function run(pieces: Uint8Array[]): Promise<Run> {
  let receive: (b: Uint8Array) => void = () => {};
  const sent: number[][] = [];
  let transportClosed = 0;
  const transport: XsByteTransport = {
    send(b) {
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      sent.push([v.getUint32(0, true), v.getUint32(4, true)]);
    },
    onReceive(h) {
      receive = h;
    },
    close() {
      transportClosed++;
    },
  };
  const client = createXenstoreClient(transport);
  const events: string[] = [];
  const calls: Array<Promise<{ ok: boolean; value?: unknown; error?: unknown }>> = [
    client.readBytes("/a"),
    client.write("/b", "v"),
    client.getDomainPath(3),
    client.watch("/w", (path, token) => events.push(`${token === TOKEN ? "" : `wrong token ${token}: `}${path}`), TOKEN),
    client.mkdir("/c"),
    client.readBytes("/d"),
  ];
  const settled = calls.map(() => 0);
  const outcomes: Outcome[] = new Array(calls.length);
  const done = calls.map((p, k) =>
    p.then((r) => {
      settled[k]!++;
      outcomes[k] = r.ok ? { ok: true, value: REQUESTS[k]!.shape === "watch" ? "watching" : r.value } : { ok: false, error: String(r.error) };
    }),
  );
  // Copies: a client must not depend on the sender keeping its buffer.
  for (const p of pieces) receive(p.slice());
  const protocolClose = client.closed;
  if (protocolClose && transportClosed === 0) fail("close", "the client failed the connection without closing its transport");
  client.close();
  await Promise.all(done);
  settled.forEach((n, k) => {
    if (n !== 1) fail("settle", `request ${k + 1} settled ${n} times`);
  });
  return { outcomes, events, protocolClose, sent };
}

export async function fuzz(data: Buffer): Promise<void> {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const expected = model(bytes);
  const whole = await run([bytes]);
  const sentReqIds = whole.sent.map((s) => s[1]);
  if (
    !sameValue(
      whole.sent,
      REQUESTS.map((r, k) => [r.type, k + 1]),
    )
  )
    fail("setup", `the client sent ${show(whole.sent)}`);
  if (!sameValue({ ...whole, sent: [] }, expected)) {
    fail(
      "model",
      `client and shadow model disagree (requests ${sentReqIds.join(",")})\n  client: ${show({ ...whole, sent: undefined })}\n  model:  ${show(expected)}`,
      bytes,
    );
  }
  const seed = bytes.length === 0 ? 1 : bytes[0]! * 131 + bytes[bytes.length - 1]!;
  const splits: Uint8Array[][] = [chunks(bytes, seed)];
  if (bytes.length <= 512) splits.push(Array.from(bytes, (_, i) => bytes.subarray(i, i + 1)));
  for (const pieces of splits) {
    const other = await run(pieces);
    if (!sameValue(other, whole)) {
      fail(
        "chunking",
        `fed in ${pieces.length} pieces (${pieces.map((p) => p.length).join("+")}) the result differs\n  whole: ${show(whole)}\n  split: ${show(other)}`,
        bytes,
      );
    }
  }
}

function msg(type: number, reqId: number, payload: string | Uint8Array, txId = 0, len?: number): Uint8Array {
  const p = typeof payload === "string" ? Buffer.from(payload, "latin1") : payload;
  const out = new Uint8Array(16 + p.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, reqId, true);
  v.setUint32(8, txId, true);
  v.setUint32(12, len ?? p.length, true);
  out.set(p, 16);
  return out;
}
const cat = (...m: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(m));

/** Seeds: good replies to all six, errors, watch events, a foreign req_id, a wrong type, len > 4096, a cut reply. */
export function seeds(): Uint8Array[] {
  const good = [
    msg(T.READ, 1, "value"),
    msg(T.WRITE, 2, "OK\0"),
    msg(T.GET_DOMAIN_PATH, 3, "/local/domain/3\0"),
    msg(T.WATCH, 4, "OK\0"),
    msg(T.MKDIR, 5, "OK\0"),
    msg(T.READ, 6, ""),
  ];
  const event = msg(T.WATCH_EVENT, 0, `/w/x\0${TOKEN}\0`);
  return [
    cat(...good),
    cat(good[0]!, event, msg(T.ERROR, 2, "EACCES\0"), msg(T.ERROR, 3, "EWHAT\0"), good[3]!, event, good[4]!, msg(T.ERROR, 6, "ENOENT")),
    cat(good[0]!, msg(T.READ, 7, "x")),
    cat(good[0]!, good[2]!),
    cat(good[0]!, msg(T.WATCH_EVENT, 0, "/w\0other\0"), msg(T.WRITE, 2, "OK\0", 5), msg(T.GET_DOMAIN_PATH, 3, "no-nul")),
    cat(good[0]!, msg(T.WRITE, 2, "", 0, 5000), good[2]!),
    cat(...good.slice(0, 3), good[3]!.subarray(0, 20)),
  ];
}
