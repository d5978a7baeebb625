// glibc's memmove on AMD Zen with FSRM (glibc 2.36 here) copies with `rep movsb` from 2 KiB up,
// and rep movsb runs about 15x slower when the destination lies 1-31 bytes past the source
// modulo 4 KiB (measured on this project's AMD EPYC VMs: 1.8 GB/s against 30 GB/s). V8's
// TypedArray.set and Buffer.copy call memmove, so which frames hit that depends on where the
// allocator put two buffers: benchmark figures turn into a lottery. Raising
// glibc.cpu.x86_rep_movsb_threshold makes memmove use its vector loop at every distance.
// The tunable is read at process start, so `netlab bench` re-executes itself with it.
//   probeMemmove()          GB/s at distance 0 and 16 mod 4 KiB, and their ratio
//   memmoveTunablesEnv(e)   GLIBC_TUNABLES with the threshold added (undefined: already set)

/** Threshold that keeps rep movsb out of every copy the lab makes (1 GiB). */
export const REP_MOVSB_THRESHOLD = 1 << 30;

export interface MemmoveProbe {
  /** 16 KiB TypedArray.set, destination 4 KiB-aligned with the source (GB/s). */
  readonly alignedGBps: number;
  /** The same with the destination 16 bytes past the source modulo 4 KiB (GB/s). */
  readonly shortDistanceGBps: number;
  /** alignedGBps / shortDistanceGBps: about 1 where memmove does not care, 10+ where rep movsb does. */
  readonly penalty: number;
}

/** Measures both cases inside one buffer (distances exact), best of 5 rounds of about 4 ms each. */
export function probeMemmove(): MemmoveProbe {
  const size = 16384;
  const buf = new Uint8Array(1 << 20);
  const src = buf.subarray(0, size);
  const rate = (distance: number): number => {
    const dst = buf.subarray(65536 + distance, 65536 + distance + size);
    let best = 0;
    for (let round = 0; round < 5; round++) {
      const n = 256;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) dst.set(src);
      const ms = performance.now() - t0;
      if (ms > 0) best = Math.max(best, (n * size) / (ms / 1000) / 1e9);
    }
    return best;
  };
  const alignedGBps = rate(0);
  const shortDistanceGBps = rate(16);
  const round2 = (x: number): number => Math.round(x * 100) / 100;
  return {
    alignedGBps: round2(alignedGBps),
    shortDistanceGBps: round2(shortDistanceGBps),
    penalty: shortDistanceGBps > 0 ? round2(alignedGBps / shortDistanceGBps) : 0,
  };
}

/** GLIBC_TUNABLES with the rep movsb threshold raised, or undefined when a threshold is already there. */
export function memmoveTunablesEnv(current: string | undefined): string | undefined {
  if (current !== undefined && /(^|:)glibc\.cpu\.x86_rep_movsb_threshold=/.test(current)) return undefined;
  const add = `glibc.cpu.x86_rep_movsb_threshold=${REP_MOVSB_THRESHOLD}`;
  return current === undefined || current === "" ? add : `${current}:${add}`;
}
