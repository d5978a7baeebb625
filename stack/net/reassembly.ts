// IPv4 fragment reassembly (RFC 791 §3.2, RFC 815) with explicit memory bounds; IPv6 uses it
// too (RFC 8200 §4.5), with its addresses as strings and protocol 0 (a v6 datagram is keyed by
// source, destination and identification only; the header kept is its unfragmentable part).
// Fragments are keyed by (src, dst, protocol, ident). Any overlap that is not an exact,
// byte-identical duplicate (the same M flag too) discards the whole datagram and every later fragment of it until
// the timeout (RFC 5722 applied to IPv4); identical duplicates are ignored. A completed
// datagram's key is remembered for the timeout too, so a late duplicate fragment cannot start a
// new datagram that completes with other bytes: RFC 791 §3.2 has senders keep an identifier
// unique for the datagram's lifetime, so such a fragment can only be a stale copy.
// createReassembler(deps, options) -> Reassembler.
import type { Clock, TimerId } from "../time.ts";
import type { Ipv4Address } from "../wire/address.ts";

/** An IPv4 address, or any string naming an address of another family (IPv6). */
export type ReassemblyAddress = Ipv4Address | string;
import { createCounters } from "./counters.ts";
import type { LayerCounters } from "./types.ts";

export interface ReassemblyOptions {
  /** Time a datagram may take to complete, from its first fragment (default 30 000 ms, RFC 791 suggests 15 s upwards). */
  readonly timeoutMs?: number;
  /** Datagrams under reassembly at once, including discarded ones awaiting timeout (default 64). */
  readonly maxDatagrams?: number;
  /** Payload bytes held in total (default 1 MiB); the oldest datagrams are evicted to make room. */
  readonly maxBytes?: number;
  /** Payload bytes held for one source address (default 256 KiB); beyond it the datagram is discarded. */
  readonly maxBytesPerSource?: number;
  /** Fragments of one datagram (default 64); beyond it the datagram is discarded. */
  readonly maxFragmentsPerDatagram?: number;
  /** Completed datagram keys remembered to drop late duplicates (default 1024, oldest forgotten first). */
  readonly maxCompletedRemembered?: number;
  /**
   * Largest header plus payload of a reassembled datagram (default 65535, IPv4's total length).
   * IPv6 passes 65535 + 40: its payload length counts extension headers but not the fixed header.
   */
  readonly maxDatagramLength?: number;
}

/** A reassembled datagram: the first fragment's header and the whole payload. */
export interface Reassembled {
  readonly header: Uint8Array;
  readonly payload: Uint8Array;
}

export interface Reassembler {
  /**
   * Adds one fragment (header bytes and payload of a datagram with MF set or a nonzero offset).
   * Returns the datagram when this fragment completed it. Bytes are copied; the caller keeps its buffers.
   */
  add(
    header: Uint8Array,
    src: ReassemblyAddress,
    dst: ReassemblyAddress,
    protocol: number,
    ident: number,
    offset: number,
    moreFragments: boolean,
    payload: Uint8Array,
  ): Reassembled | undefined;
  /** Datagrams currently held (complete-pending and discarded). */
  size(): number;
  /** Payload bytes currently held. */
  bytes(): number;
  counters(): LayerCounters;
}

export interface ReassemblyDeps {
  readonly clock: Clock;
  /** Called when a datagram whose first fragment arrived times out (for ICMP time exceeded, code 1). */
  readonly onTimeout?: (header: Uint8Array, firstPayload: Uint8Array) => void;
}

interface Fragment {
  readonly start: number;
  readonly end: number;
  readonly more: boolean;
  readonly data: Uint8Array;
}

interface Datagram {
  readonly key: string;
  readonly src: ReassemblyAddress;
  readonly frags: Fragment[];
  total: number;
  held: number;
  header: Uint8Array | undefined;
  discarded: boolean;
  timer: TimerId;
}

/** Creates a reassembler. */
export function createReassembler(deps: ReassemblyDeps, options: ReassemblyOptions = {}): Reassembler {
  const { clock } = deps;
  const timeout = options.timeoutMs ?? 30_000;
  const maxDatagrams = options.maxDatagrams ?? 64;
  const maxBytes = options.maxBytes ?? 1 << 20;
  const maxPerSource = options.maxBytesPerSource ?? 256 * 1024;
  const maxFrags = options.maxFragmentsPerDatagram ?? 64;
  const maxCompleted = options.maxCompletedRemembered ?? 1024;
  const maxLength = options.maxDatagramLength ?? 65535;
  const table = new Map<string, Datagram>();
  const completed = new Map<string, number>();
  const perSource = new Map<ReassemblyAddress, number>();
  let held = 0;
  const counters = createCounters(["fragments", "reassembled", "duplicates", "timeouts", "evicted", "discarded"] as const);
  const c = counters.c;

  const release = (d: Datagram): void => {
    if (d.held === 0) return;
    held -= d.held;
    const s = (perSource.get(d.src) ?? 0) - d.held;
    if (s <= 0) perSource.delete(d.src);
    else perSource.set(d.src, s);
    d.held = 0;
    d.frags.length = 0;
  };

  const remove = (d: Datagram): void => {
    release(d);
    clock.cancel(d.timer);
    table.delete(d.key);
  };

  /** Frees the fragments but keeps a tombstone so later fragments are dropped too. */
  const discard = (d: Datagram, reason: string): undefined => {
    if (!d.discarded) {
      d.discarded = true;
      c.discarded++;
      counters.drop(reason);
    }
    release(d);
    d.header = undefined;
    return undefined;
  };

  const expire = (d: Datagram): void => {
    table.delete(d.key);
    if (d.discarded) return;
    c.timeouts++;
    const first = d.frags[0];
    const header = d.header;
    release(d);
    if (header !== undefined && first !== undefined && first.start === 0) deps.onTimeout?.(header, first.data);
  };

  const evictOldest = (except: Datagram | undefined): boolean => {
    for (const d of table.values()) {
      if (d === except) continue;
      remove(d);
      c.evicted++;
      return true;
    }
    return false;
  };

  return {
    add(header, src, dst, protocol, ident, offset, moreFragments, payload) {
      c.fragments++;
      const len = payload.length;
      const end = offset + len;
      const key = `${src}/${dst}/${protocol}/${ident}`;
      const doneUntil = completed.get(key);
      if (doneUntil !== undefined) {
        if (doneUntil > clock.now()) {
          counters.drop("late-fragment");
          return undefined;
        }
        completed.delete(key);
      }
      let d = table.get(key);
      if (d === undefined) {
        while (table.size >= maxDatagrams) if (!evictOldest(undefined)) break;
        const nd: Datagram = { key, src, frags: [], total: -1, held: 0, header: undefined, discarded: false, timer: 0 };
        nd.timer = clock.setTimer(clock.now() + timeout, () => expire(nd));
        table.set(key, nd);
        d = nd;
      }
      if (d.discarded) {
        counters.drop("discarded-datagram");
        return undefined;
      }
      // RFC 791 §3.2: all fragments but the last carry a multiple of 8 bytes.
      if (moreFragments && (len === 0 || (len & 7) !== 0)) return discard(d, "bad-fragment-length");
      // An exact duplicate (same range, same M flag, same bytes) is ignored before anything else;
      // one with the other M flag is not exact: it is an overlap.
      for (const f of d.frags) {
        if (f.start === offset && f.end === end && f.more === moreFragments && equalBytes(f.data, payload)) {
          c.duplicates++;
          return undefined;
        }
      }
      if (end + header.length > maxLength) return discard(d, "too-long");
      if (!moreFragments) {
        if (d.total >= 0 && d.total !== end) return discard(d, "inconsistent-length");
        d.total = end;
        for (const f of d.frags) if (f.end > end) return discard(d, "beyond-end");
      } else if (d.total >= 0 && end > d.total) {
        return discard(d, "beyond-end");
      }
      const frags = d.frags;
      let at = frags.length;
      for (let i = 0; i < frags.length; i++) {
        const f = frags[i]!;
        if (f.start < end && offset < f.end) return discard(d, "overlap");
        if (f.start >= end) {
          at = i;
          break;
        }
      }
      if (frags.length >= maxFrags) return discard(d, "too-many-fragments");
      const src0 = perSource.get(src) ?? 0;
      if (src0 + len > maxPerSource) return discard(d, "source-limit");
      while (held + len > maxBytes) if (!evictOldest(d)) return discard(d, "memory-limit");
      frags.splice(at, 0, { start: offset, end, more: moreFragments, data: payload.slice() });
      d.held += len;
      held += len;
      perSource.set(src, (perSource.get(src) ?? 0) + len);
      if (offset === 0) d.header = header.slice();
      if (d.total < 0 || d.header === undefined) return undefined;
      let covered = 0;
      for (const f of frags) covered += f.end - f.start;
      if (covered !== d.total) return undefined;
      const out = new Uint8Array(d.total);
      for (const f of frags) out.set(f.data, f.start);
      const h = d.header;
      remove(d);
      completed.set(key, clock.now() + timeout);
      if (completed.size > maxCompleted) {
        const oldest = completed.keys().next();
        if (!oldest.done) completed.delete(oldest.value);
      }
      c.reassembled++;
      return { header: h, payload: out };
    },
    size: () => table.size,
    bytes: () => held,
    counters: () => counters.snapshot(),
  };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
