// SYN cookies: when a listener's SYN queue is full the SYN-ACK's ISN encodes what the
// connection needs (RFC 4987 §3.6), so no state is kept until the final ACK proves the
// client real. Layout of the cookie: time slot (5 bits) | MSS index (3) | keyed hash (24).
// The peer's window scale and SACK-permitted travel in the low 6 bits of our TSval and
// come back in its TSecr (as Linux does); without timestamps they are not negotiated.
// encodeSynCookie/decodeSynCookie: the ISN; encodeCookieOptions/decodeCookieOptions: the TS bits;
// cookieTimestamp: the SYN-ACK's TSval carrying them.
import { halfSipHash, type TcpSecrets } from "./isn.ts";

/** MSS values a cookie can carry (the largest not above the peer's is chosen). */
export const COOKIE_MSS_TABLE: readonly number[] = [216, 536, 1200, 1300, 1400, 1440, 1460, 8960];
/** A cookie is valid for this many time slots of COOKIE_SLOT_MS after the one it was made in. */
export const COOKIE_MAX_AGE_SLOTS = 1;
export const COOKIE_SLOT_MS = 64_000;

/** The 4-tuple a cookie is bound to. */
export interface CookieTuple {
  readonly localAddr: number;
  readonly localPort: number;
  readonly remoteAddr: number;
  readonly remotePort: number;
}

function cookieHash(s: TcpSecrets, t: CookieTuple, peerIsn: number, slot: number): number {
  return (
    halfSipHash(s.cookieKey[0], s.cookieKey[1], [
      t.localAddr >>> 0,
      t.remoteAddr >>> 0,
      ((t.localPort << 16) | t.remotePort) >>> 0,
      peerIsn >>> 0,
      slot >>> 0,
    ]) & 0xffffff
  );
}

/** The ISN to put in a SYN-ACK for a SYN from `t` with sequence `peerIsn` and MSS `mss`. */
export function encodeSynCookie(s: TcpSecrets, nowMs: number, t: CookieTuple, peerIsn: number, mss: number): number {
  const slot = Math.floor(nowMs / COOKIE_SLOT_MS);
  let idx = 0;
  for (let i = 0; i < COOKIE_MSS_TABLE.length; i++) if (COOKIE_MSS_TABLE[i]! <= mss) idx = i;
  return (((slot & 31) << 27) | (idx << 24) | cookieHash(s, t, peerIsn, slot)) >>> 0;
}

/** Validates the cookie echoed in an ACK (ack - 1); returns the MSS it encodes, or undefined. */
export function decodeSynCookie(s: TcpSecrets, nowMs: number, t: CookieTuple, peerIsn: number, cookie: number): number | undefined {
  const nowSlot = Math.floor(nowMs / COOKIE_SLOT_MS);
  for (let age = 0; age <= COOKIE_MAX_AGE_SLOTS; age++) {
    const slot = nowSlot - age;
    if ((slot & 31) !== cookie >>> 27) continue;
    if (cookieHash(s, t, peerIsn, slot) === (cookie & 0xffffff)) return COOKIE_MSS_TABLE[(cookie >>> 24) & 7];
  }
  return undefined;
}

/** Low 6 TSval bits carrying the peer's window scale (15 = none) and SACK-permitted. */
export function encodeCookieOptions(peerWindowScale: number | undefined, sackPermitted: boolean): number {
  return (peerWindowScale === undefined ? 15 : Math.min(peerWindowScale, 14)) | (sackPermitted ? 16 : 0) | 32;
}

/** Inverse of encodeCookieOptions on an echoed TSecr. */
export function decodeCookieOptions(tsEcr: number): { windowScale: number | undefined; sackPermitted: boolean } | undefined {
  if ((tsEcr & 32) === 0) return undefined;
  const ws = tsEcr & 15;
  return { windowScale: ws === 15 ? undefined : ws, sackPermitted: (tsEcr & 16) !== 0 };
}

/**
 * The TSval of a cookie SYN-ACK: the clock `now` (already offset) with its low 6 bits replaced by
 * `bits`, moved back one 64-tick step when that lands ahead of `now` (Linux's cookie_init_timestamp):
 * a TSval from the future becomes the peer's TS.Recent, and our next segments, stamped from the
 * clock, would then be PAWS-old to it (RFC 7323 §5).
 */
export function cookieTimestamp(now: number, bits: number): number {
  const ts = ((now & ~63) | bits) >>> 0;
  return ts > now >>> 0 ? (ts - 64) >>> 0 : ts;
}
