// Keyed hashing for initial sequence numbers (RFC 6528) and SYN cookies: HalfSipHash-2-4
// (32-bit SipHash variant) keyed from the injected Rng, so a stack's ISNs are unguessable
// to peers yet reproducible from a seed.
// halfSipHash: the PRF; createIsnGenerator: ISN = M + F(4-tuple, key) with M a 4 µs clock.
import type { Rng } from "../../time.ts";

function rotl(x: number, b: number): number {
  return ((x << b) | (x >>> (32 - b))) >>> 0;
}

/** HalfSipHash-2-4 of 32-bit words `m` under the 64-bit key (k0, k1); 32-bit result. */
export function halfSipHash(k0: number, k1: number, m: readonly number[]): number {
  let v0 = k0 >>> 0,
    v1 = k1 >>> 0,
    v2 = (0x6c796765 ^ k0) >>> 0,
    v3 = (0x74656462 ^ k1) >>> 0;
  const round = (): void => {
    v0 = (v0 + v1) >>> 0;
    v1 = rotl(v1, 5);
    v1 = (v1 ^ v0) >>> 0;
    v0 = rotl(v0, 16);
    v2 = (v2 + v3) >>> 0;
    v3 = rotl(v3, 8);
    v3 = (v3 ^ v2) >>> 0;
    v0 = (v0 + v3) >>> 0;
    v3 = rotl(v3, 7);
    v3 = (v3 ^ v0) >>> 0;
    v2 = (v2 + v1) >>> 0;
    v1 = rotl(v1, 13);
    v1 = (v1 ^ v2) >>> 0;
    v2 = rotl(v2, 16);
  };
  for (const w of m) {
    v3 = (v3 ^ w) >>> 0;
    round();
    round();
    v0 = (v0 ^ w) >>> 0;
  }
  const b = ((m.length * 4) << 24) >>> 0;
  v3 = (v3 ^ b) >>> 0;
  round();
  round();
  v0 = (v0 ^ b) >>> 0;
  v2 = (v2 ^ 0xff) >>> 0;
  round();
  round();
  round();
  round();
  return (v1 ^ v3) >>> 0;
}

/** Secret keys of one stack, drawn once from its Rng. */
export interface TcpSecrets {
  readonly isnKey: readonly [number, number];
  readonly cookieKey: readonly [number, number];
}

/** Draws fresh secrets. */
export function createTcpSecrets(rng: Rng): TcpSecrets {
  return { isnKey: [rng.nextU32(), rng.nextU32()], cookieKey: [rng.nextU32(), rng.nextU32()] };
}

/** RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M ticking every 4 µs. */
export function initialSequenceNumber(s: TcpSecrets, nowMs: number, localAddr: number, localPort: number, remoteAddr: number, remotePort: number): number {
  const f = halfSipHash(s.isnKey[0], s.isnKey[1], [localAddr >>> 0, remoteAddr >>> 0, ((localPort << 16) | remotePort) >>> 0]);
  const m = Math.floor(nowMs * 250) % 4294967296;
  return (f + m) >>> 0;
}
