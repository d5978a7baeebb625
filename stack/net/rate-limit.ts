// A token bucket on the injected Clock (RFC 1812 §4.3.2.8 / RFC 4443 §2.4(f) style rate limits
// of ICMP errors): `ratePerSecond` tokens a second up to `burst`; take() spends one if there is one.
import type { Clock } from "../time.ts";

/** A token bucket; take() is true when a token was available (and spent). */
export interface TokenBucket {
  take(): boolean;
}

/** Creates a full bucket. */
export function createTokenBucket(clock: Clock, ratePerSecond: number, burst: number): TokenBucket {
  let tokens = burst;
  let refilledAt = clock.now();
  return {
    take() {
      const now = clock.now();
      tokens = Math.min(burst, tokens + ((now - refilledAt) * ratePerSecond) / 1000);
      refilledAt = now;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}
