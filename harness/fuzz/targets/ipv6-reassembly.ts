// Fuzz target: IPv6 reassembly (RFC 8200 §4.5) in a netlab host fed fragments of four known UDP
// datagrams (two identifications from each of two sources). Each 5-byte record:
//   [offset/8 u16 BE (13 bits)][length/8 u8 (0 = 1)][flags u8][wait u8]
// flags: bit 0 M set, bit 1 the second identification, bit 2 corrupt a byte, bit 3 M clear even
// before the end, bit 4 from the second source, bit 5 this fragment header names No Next Header
// (59) instead of UDP. Then wait * 256 ms of virtual time pass (past the 60 s timeout in a few).
// A fragment at offset 0 without M is an atomic fragment (RFC 6946).
// Oracles, against a shadow model written from the RFCs: the UDP socket receives, at each fragment,
// exactly the datagram the shadow completes (bytes equal to the one sent; none after an overlap
// that is not an exact duplicate, RFC 5722; none with a corrupted byte or a first fragment that
// did not name UDP; an atomic fragment at once, whatever else is pending with its identification);
// the reassembler holds exactly the payload bytes the shadow holds (memory accounted, freed on
// completion, overlap and timeout) and never more than its bound; the timeouts it counts are the
// shadow's (datagrams not discarded, 60 s after their first fragment).
import { createStack } from "../../../stack/index.ts";
import type { Frame, NetDevice } from "../../../stack/link/types.ts";
import { NO_OFFLOADS } from "../../../stack/link/types.ts";
import { createRng, createVirtualClock } from "../../../stack/time.ts";
import { emitEthernet, ETHERTYPE_IPV6 } from "../../../stack/wire/ethernet.ts";
import { ipv6, linkLocalFromMac } from "../../../stack/wire/ipv6-address.ts";
import { emitIpv6, IPV6_HEADER_LEN, IPV6_NEXT_HEADER_FRAGMENT, IPV6_NEXT_HEADER_NONE, IPV6_NEXT_HEADER_UDP } from "../../../stack/wire/ipv6.ts";
import { emitIpv6Fragment, IPV6_FRAGMENT_HEADER_LEN } from "../../../stack/wire/ipv6-ext.ts";
import { emitUdp6 } from "../../../stack/wire/udp6.ts";
import { fail } from "../oracles.ts";

const MAC = 0x020000000002;
const PEER_MAC = 0x020000000001;
const DST = ipv6("2001:db8::2");
const SOURCES = [ipv6("2001:db8::1"), linkLocalFromMac(PEER_MAC)];
const IDENTS = [0x8000_0001, 0x8000_0002];
const PORT = 9999;
const TIMEOUT_MS = 60_000;
const MAX_BYTES = 64 * 1024;
const RECORD = 5;
const MAX_RECORDS = 48;

/** The UDP datagram (header and payload) that source s sends with identification i. */
function original(s: number, i: number): Uint8Array {
  const payload = new Uint8Array(1992);
  for (let k = 0; k < payload.length; k++) payload[k] = (k * 31 + 7 * s + i) & 0xff;
  const dgram = new Uint8Array(8 + payload.length);
  emitUdp6({ srcPort: 5000 + s, dstPort: PORT, payload }, dgram, 0, SOURCES[s]!, DST);
  return dgram;
}
const DATAGRAMS = [0, 1].map((s) => [0, 1].map((i) => original(s, i)));

interface ShadowFragment {
  readonly start: number;
  readonly end: number;
  readonly bytes: Uint8Array;
  readonly more: boolean;
  readonly corrupt: boolean;
  readonly nextHeader: number;
}

/** RFC 8200 §4.5 with RFC 5722 for one (source, destination, identification). */
interface ShadowDatagram {
  frags: ShadowFragment[];
  total: number;
  condemned: boolean;
  /** Virtual time of the first fragment (the timeout runs from it); -1 when idle. */
  firstAt: number;
  /** Until when a completed datagram's late fragments are dropped. */
  completedUntil: number;
}

const idle = (): ShadowDatagram => ({ frags: [], total: -1, condemned: false, firstAt: -1, completedUntil: -1 });

/** The last input's outcome (datagrams delivered, reassembly counters), for the determinism test. */
let lastOutcome = "";

/** The last input's observable outcome, as text. */
export function lastOutcomeForTest(): string {
  return lastOutcome;
}

export function fuzz(data: Buffer): void {
  lastOutcome = "";
  const input = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const clock = createVirtualClock();
  let receive: (f: Frame) => void = () => {};
  const device: NetDevice = {
    mac: MAC,
    mtu: 1500,
    offloads: NO_OFFLOADS,
    send: () => {},
    onReceive: (h) => {
      receive = h;
    },
  };
  const stack = createStack(
    { device, clock, rng: createRng(3) },
    { ipv6: { addresses: ["2001:db8::2/64"], dadTransmits: 0, reassembly: { maxBytes: MAX_BYTES } } },
  );
  const v6 = stack.ipv6!;
  const sock = stack.udp6!.bind(PORT);
  if (!sock.ok) throw new Error("bind failed");
  const got: Uint8Array[] = [];
  sock.value.onMessage((d) => got.push(d.payload.slice()));
  const shadow = [0, 1].map(() => [idle(), idle()]);
  let shadowTimeouts = 0;
  const held = (): number => shadow.flat().reduce((n, d) => n + (d.condemned ? 0 : d.frags.reduce((m, f) => m + f.end - f.start, 0)), 0);
  /** Datagrams whose timeout has passed are forgotten (counted when not discarded). */
  const expire = (): void => {
    for (const row of shadow)
      for (const [k, d] of row.entries()) {
        if (d.firstAt >= 0 && clock.now() >= d.firstAt + TIMEOUT_MS) {
          if (!d.condemned) shadowTimeouts++;
          row[k] = { ...idle(), completedUntil: d.completedUntil };
        }
      }
  };
  const run = (ms: number): void => {
    const fired = clock.run(clock.now() + ms, 20_000);
    if (fired >= 20_000) fail("hang", `${fired} timer events within ${ms} ms`, input);
    expire();
  };
  run(10);
  for (let r = 0, at = 0; r < MAX_RECORDS && at + RECORD <= input.length; r++, at += RECORD) {
    const offset = (((input[at]! << 8) | input[at + 1]!) & 0x1fff) * 8;
    const length = Math.max(1, input[at + 2]!) * 8;
    const flags = input[at + 3]!;
    const wait = input[at + 4]!;
    const s = (flags >> 4) & 1;
    const i = (flags >> 1) & 1;
    const whole = DATAGRAMS[s]![i]!;
    const body = whole.slice(Math.min(offset, whole.length), Math.min(offset + length, whole.length));
    const more = (flags & 1) === 1 || (offset + body.length < whole.length && (flags & 8) === 0);
    const corrupt = (flags & 4) !== 0 && body.length > 0;
    if (corrupt) {
      const k = flags % body.length;
      body[k] = body[k]! ^ 0x5a;
    }
    const nextHeader = (flags & 32) !== 0 ? IPV6_NEXT_HEADER_NONE : IPV6_NEXT_HEADER_UDP;
    const frame = new Uint8Array(14 + IPV6_HEADER_LEN + IPV6_FRAGMENT_HEADER_LEN + body.length);
    emitEthernet({ dst: MAC, src: PEER_MAC, ethertype: ETHERTYPE_IPV6 }, frame, 0);
    emitIpv6(
      {
        src: SOURCES[s]!,
        dst: DST,
        nextHeader: IPV6_NEXT_HEADER_FRAGMENT,
        hopLimit: 64,
        trafficClass: 0,
        flowLabel: 0,
        payloadLength: IPV6_FRAGMENT_HEADER_LEN + body.length,
      },
      frame,
      14,
    );
    emitIpv6Fragment({ nextHeader, fragmentOffset: offset, moreFragments: more, ident: IDENTS[i]! }, frame, 14 + IPV6_HEADER_LEN);
    frame.set(body, 14 + IPV6_HEADER_LEN + IPV6_FRAGMENT_HEADER_LEN);

    // What the shadow expects from this fragment: undefined (nothing delivered) or the datagram.
    let expect: Uint8Array | "broken" | undefined;
    const end = offset + body.length;
    const d = shadow[s]![i]!;
    if (offset === 0 && !more) {
      // RFC 6946 §4: an atomic fragment is processed on its own, whatever is pending.
      expect = !corrupt && nextHeader === IPV6_NEXT_HEADER_UDP && body.length === whole.length ? whole : undefined;
    } else if ((more && (body.length === 0 || body.length % 8 !== 0)) || end > 65535) {
      // §4.5: a non-final fragment not a multiple of 8 bytes, or past 65535: dropped (Parameter Problem).
    } else if (clock.now() < d.completedUntil) {
      // A late copy of a fragment of a datagram already delivered.
    } else {
      if (d.firstAt < 0) d.firstAt = clock.now();
      if (!d.condemned) {
        const duplicate = d.frags.some((f) => f.start === offset && f.end === end && f.more === more && f.bytes.every((x, k) => x === body[k]));
        const overlaps = d.frags.some((f) => f.start < end && offset < f.end);
        const beyond = (!more && ((d.total >= 0 && d.total !== end) || d.frags.some((f) => f.end > end))) || (more && d.total >= 0 && end > d.total);
        if (duplicate) {
          /* RFC 5722: an exact duplicate is ignored */
        } else if (overlaps || beyond) {
          d.condemned = true;
          d.frags = [];
        } else {
          if (!more) d.total = end;
          d.frags.push({ start: offset, end, bytes: body, more, corrupt, nextHeader });
          const covered = d.frags.reduce((n, f) => n + f.end - f.start, 0);
          const first = d.frags.find((f) => f.start === 0);
          if (d.total >= 0 && covered === d.total && first !== undefined) {
            // §4.5: the Next Header of the reassembled datagram is the offset-0 fragment's.
            const ok = d.total === whole.length && !d.frags.some((f) => f.corrupt) && first.nextHeader === IPV6_NEXT_HEADER_UDP;
            expect = ok ? whole : "broken";
            shadow[s]![i] = { ...idle(), completedUntil: clock.now() + TIMEOUT_MS };
          }
        }
      }
    }
    const before = got.length;
    receive({ data: frame });
    const delivered = got.slice(before);
    const wanted = expect instanceof Uint8Array ? 1 : 0;
    if (delivered.length !== wanted) {
      fail(
        "shadow",
        `record ${r} (source ${s}, ident ${i}, offset ${offset}, ${body.length} bytes, M ${more}): ${delivered.length} datagram(s) delivered, the shadow completes ${wanted}`,
        input,
      );
    }
    if (expect instanceof Uint8Array) {
      const p = delivered[0]!;
      const want = expect.subarray(8);
      if (p.length !== want.length || !p.every((x, k) => x === want[k])) fail("shadow", `record ${r}: the delivered datagram differs from the one sent`, input);
    }
    const usage = v6.reassemblyUsage();
    if (usage.bytes !== held()) fail("memory", `record ${r}: the reassembler holds ${usage.bytes} bytes, the shadow ${held()}`, input);
    if (usage.bytes > MAX_BYTES) fail("memory", `${usage.bytes} bytes held over the bound ${MAX_BYTES}`, input);
    run(wait * 256);
  }
  run(2 * TIMEOUT_MS);
  const timeouts = v6.reassemblyCounters()["timeouts"];
  if (timeouts !== shadowTimeouts) fail("timeouts", `the reassembler counted ${timeouts} timeouts, the shadow ${shadowTimeouts}`, input);
  if (v6.reassemblyUsage().datagrams !== 0 || v6.reassemblyUsage().bytes !== 0) fail("memory", "fragments still held after every timeout", input);
  lastOutcome = JSON.stringify({ delivered: got.length, reassembly: v6.reassemblyCounters(), ipv6: v6.counters() });
}

/** Seeds: in order, reversed, an overlap, an exact duplicate, an atomic fragment amid a pending datagram, two sources interleaved, a timeout. */
export function seeds(): Uint8Array[] {
  const rec = (off8: number, len8: number, flags: number, wait: number): number[] => [off8 >> 8, off8 & 0xff, len8, flags, wait];
  const inOrder = [...rec(0, 100, 0, 1), ...rec(100, 100, 0, 1), ...rec(200, 50, 0, 1)];
  const reversed = [...rec(200, 50, 0, 1), ...rec(100, 100, 0, 1), ...rec(0, 100, 0, 1)];
  const overlap = [...rec(0, 100, 0, 1), ...rec(60, 100, 0, 1), ...rec(160, 90, 0, 1)];
  const duplicate = [...rec(0, 100, 0, 1), ...rec(100, 100, 0, 1), ...rec(100, 100, 0, 1), ...rec(200, 50, 0, 1), ...rec(200, 50, 0, 1)];
  const atomic = [...rec(0, 100, 2, 1), ...rec(0, 250, 2, 1), ...rec(100, 150, 2, 1)];
  const sources = [...rec(0, 100, 0, 1), ...rec(0, 100, 16, 1), ...rec(100, 150, 16, 1), ...rec(100, 150, 0, 1)];
  const timeout = [...rec(0, 100, 0, 200), ...rec(100, 100, 0, 100), ...rec(200, 50, 0, 1), ...rec(0, 100, 0, 1)];
  const nextHeader = [...rec(100, 150, 32, 1), ...rec(0, 100, 0, 1), ...rec(100, 150, 2, 1), ...rec(0, 100, 32 | 2, 1)];
  // The last fragment again with M set: not an exact duplicate, an overlap.
  const flag = [...rec(200, 50, 0, 1), ...rec(200, 50, 1, 1), ...rec(0, 200, 0, 1)];
  return [inOrder, reversed, overlap, duplicate, atomic, sources, timeout, nextHeader, flag].map((x) => Uint8Array.from(x));
}
