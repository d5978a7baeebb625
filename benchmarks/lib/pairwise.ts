// Pairwise interleaved A/B on a shared machine: `pairs` rounds, each running the before and the
// after side once (which goes first alternates), so load that moves both runs of a pair alike
// mostly cancels out of their ratio. The scripts benchmarks/ab-*.ts report it.
//   pairwise(pairs, before, after) -> { before, after, ratio }   median(values)   formatPairwise(p, unit)

/** The figures of each round and their after/before ratios. */
export interface Pairwise {
  readonly before: readonly number[];
  readonly after: readonly number[];
  readonly ratio: readonly number[];
}

/** Runs `pairs` rounds of before and after (alternating which runs first). */
export async function pairwise(pairs: number, before: () => number | Promise<number>, after: () => number | Promise<number>): Promise<Pairwise> {
  const a: number[] = [],
    b: number[] = [],
    ratio: number[] = [];
  for (let i = 0; i < pairs; i++) {
    let x: number, y: number;
    if (i % 2 === 0) {
      x = await before();
      y = await after();
    } else {
      y = await after();
      x = await before();
    }
    a.push(x);
    b.push(y);
    ratio.push(y / x);
  }
  return { before: a, after: b, ratio };
}

/** The median (the upper one of an even count). */
export function median(v: readonly number[]): number {
  return [...v].sort((p, q) => p - q)[v.length >> 1]!;
}

/** "before X after Y UNIT; pairwise after/before median M [r1 r2 ...]". */
export function formatPairwise(p: Pairwise, unit: string, digits = 2): string {
  const f = (v: number): string => (v >= 100 ? Math.round(v).toLocaleString("en-US") : v.toFixed(digits));
  return `before ${f(median(p.before))} after ${f(median(p.after))} ${unit}; pairwise after/before median ${median(p.ratio).toFixed(3)} [${p.ratio.map((r) => r.toFixed(2)).join(" ")}]`;
}
