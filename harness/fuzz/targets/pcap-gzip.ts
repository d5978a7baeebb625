// Fuzz target: gzip-compressed captures as replay reads them (harness/pcap/files.ts
// parseCaptureBytes, which readCaptureFile and the replay use). The input is [mode, p0, p1,
// ...capture bytes]; node:zlib makes the gzip side from the capture bytes:
//   0 one member          the gzip'd file parses exactly as the plain bytes do (packets, offsets, errors)
//   1 two members         cut at p, each half its own member (RFC 1952 §2.2): the same
//   2 truncated           the member cut short: an error result ("bad-gzip"), never a parse
//   3 corrupted           one byte past the header flipped: exactly what zlib inflates (with the
//                         same limit) parses to, or an error result when zlib refuses it
//   4 bomb                the capture followed by p*16 zero bytes: above the limit (64 KiB here)
//                         "decompressed-too-large", not an allocation; below it the plain parse
//   5 trailing garbage    bytes that are no gzip member after the member: an error or the plain parse
//   6 raw deflate data    the capture bytes behind a gzip magic: what zlib says, as in 3
// Every outcome is a result (an exception is a finding); the plain side is parsed through a
// guarded view, and an error's offset lies inside the decompressed bytes.
import { gunzipSync, gzipSync } from "node:zlib";
import { parseCaptureBytes } from "../../pcap/files.ts";
import {
  createByteCollector,
  createPcapngWriter,
  createPcapWriter,
  parseCapture,
  type PcapResult,
  type ParsedCapture,
} from "../../../stack/link/pcap/index.ts";
import { sampleFrames } from "../samples.ts";
import { fail, guarded, sameValue, show } from "../oracles.ts";

const LIMIT = 64 * 1024;

const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const project = (r: PcapResult<ParsedCapture>): unknown => (r.ok ? r.value : { error: r.error, offset: r.offset });

/** The parse of plain capture bytes (through a guarded view) or of what zlib inflated. */
function plainParse(raw: Uint8Array): PcapResult<ParsedCapture> {
  const r = parseCapture(guarded(raw, "capture"));
  if (!r.ok && !(r.offset >= 0 && r.offset <= raw.length)) fail("offset", `error offset ${r.offset} outside ${raw.length} decompressed bytes`, raw);
  return r;
}

/** What zlib alone makes of a gzip stream under the limit: the plain parse, or the error code it must give. */
function reference(gz: Uint8Array): PcapResult<ParsedCapture> | "bad-gzip" | "decompressed-too-large" {
  try {
    return plainParse(u8(gunzipSync(gz, { maxOutputLength: LIMIT })));
  } catch (e) {
    return (e as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE" ? "decompressed-too-large" : "bad-gzip";
  }
}

function expectSame(what: string, input: Uint8Array, got: PcapResult<ParsedCapture>, want: PcapResult<ParsedCapture> | string, alsoAllow?: string): void {
  if (typeof want === "string") {
    if (got.ok || got.error !== want) fail("gzip", `${what}: expected error ${want}, got ${show(project(got)).slice(0, 300)}`, input);
    return;
  }
  if (sameValue(project(got), project(want))) return;
  if (alsoAllow !== undefined && !got.ok && got.error === alsoAllow) return;
  fail(
    "gzip",
    `${what}: the gzip'd capture parses differently from the plain one\n  gzip:  ${show(project(got)).slice(0, 400)}\n  plain: ${show(project(want)).slice(0, 400)}`,
    input,
  );
}

export function fuzz(data: Buffer): void {
  const input = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (input.length < 3) return;
  const mode = input[0]! % 7,
    p = input[1]! | (input[2]! << 8);
  const raw = input.slice(3);
  const parse = (gz: Uint8Array): PcapResult<ParsedCapture> => parseCaptureBytes(gz, { maxDecompressedBytes: LIMIT });
  switch (mode) {
    case 0:
      expectSame("one member", input, parse(u8(gzipSync(raw))), plainParse(raw));
      break;
    case 1: {
      const cut = p % (raw.length + 1);
      const gz = Buffer.concat([gzipSync(raw.subarray(0, cut)), gzipSync(raw.subarray(cut))]);
      expectSame(`two members cut at ${cut}`, input, parse(u8(gz)), plainParse(raw));
      break;
    }
    case 2: {
      const gz = u8(gzipSync(raw));
      const cut = 2 + (p % (gz.length - 2));
      expectSame(`member cut to ${cut} of ${gz.length} bytes`, input, parse(gz.slice(0, cut)), "bad-gzip");
      break;
    }
    case 3: {
      const gz = u8(gzipSync(raw)).slice();
      const at = 10 + (p % (gz.length - 10));
      gz[at] = gz[at]! ^ (input[2]! | 1);
      expectSame(`byte ${at} flipped`, input, parse(gz), reference(gz));
      break;
    }
    case 4: {
      const total = raw.length + p * 16;
      const big = new Uint8Array(total);
      big.set(raw);
      const got = parse(u8(gzipSync(big)));
      expectSame(`${total} bytes inflated under a ${LIMIT}-byte limit`, input, got, total > LIMIT ? "decompressed-too-large" : plainParse(big));
      break;
    }
    case 5: {
      const garbage = raw.slice(0, 1 + (p % 8));
      if (garbage.length > 0 && garbage[0] === 0x1f) garbage[0] = 0x1e;
      const gz = Buffer.concat([gzipSync(raw), garbage]);
      expectSame("trailing garbage", input, parse(u8(gz)), plainParse(raw), "bad-gzip");
      break;
    }
    default: {
      const gz = new Uint8Array(raw.length + 2);
      gz.set([0x1f, 0x8b]);
      gz.set(raw, 2);
      expectSame("raw gzip bytes", input, parse(gz), reference(gz));
    }
  }
}

/** Seeds: a classic pcap and a pcapng with sample frames, under every mode. */
export function seeds(): Uint8Array[] {
  const frames = sampleFrames();
  const c1 = createByteCollector();
  const w1 = createPcapWriter(c1.write, {});
  const id = w1.addInterface({});
  frames.forEach((data, k) => w1.record({ interfaceId: id, timestampMs: 1000 + k, data }));
  const c2 = createByteCollector();
  const w2 = createPcapngWriter(c2.write);
  const a = w2.addInterface({ name: "h1" });
  frames.slice(0, 3).forEach((data, k) => w2.record({ interfaceId: a, timestampMs: k, data, comment: `f${k}` }));
  const out: Uint8Array[] = [];
  for (const cap of [c1.bytes(), c2.bytes()]) {
    for (let mode = 0; mode < 7; mode++) {
      const p = mode === 4 ? 4500 : mode === 1 ? 100 : 37;
      const raw = mode === 6 ? gzipSync(cap).subarray(2) : cap;
      out.push(Uint8Array.from([mode, p & 0xff, p >> 8, ...raw]));
    }
  }
  return out;
}
