// Benchmark model: a suite is a list of cases; a case measures one figure per run.

/** Units a figure is reported in. */
export type BenchUnit =
  | "B/s"
  | "Gbit/s"
  | "GB/s"
  | "Mpkt/s"
  | "pkt/s"
  | "req/s"
  | "conn/s"
  | "IOPS"
  | "MB/s"
  | "B/conn"
  | "op/s"
  | "lease/s"
  | "exec/s"
  | "ms"
  | "index"
  | "µs"
  | "MiB"
  | "%";

/** How a run is configured. */
export interface BenchContext {
  /** Quick mode: tiny workloads, just enough to prove the harness works (used by npm test). */
  readonly quick: boolean;
  /** Progress line for long cases. */
  progress(message: string): void;
}

/** A performance target from the issues, reported against in every run. */
export interface BenchTarget {
  readonly value: number;
  /** "min": the figure must be at least value; "max": at most. */
  readonly kind: "min" | "max";
}

/** One measured figure. */
export interface BenchCase {
  readonly suite: string;
  readonly name: string;
  readonly unit: BenchUnit;
  readonly higherIsBetter: boolean;
  /** Name of another case (same run) this one is compared with as a ratio. */
  readonly baseline?: string;
  /** Read when the case starts: a getter may derive it from an earlier case of the same run. */
  readonly target?: BenchTarget | undefined;
  /** Runs (default 5; quick: 1) and warm-up runs (default 1; quick: 0). */
  readonly runs?: number;
  readonly warmup?: number;
  /** Needs a real peer (root, namespaces, Debian tools): npm test leaves it out. */
  readonly realPeer?: boolean;
  /** Reason the case cannot run here (missing tool, not root, not in quick mode), or undefined. */
  available?(ctx: BenchContext): string | undefined | Promise<string | undefined>;
  /** Performs one run and returns the figure in `unit`. */
  measure(ctx: BenchContext): number | Promise<number>;
  /**
   * Extra facts of the last run (bytes moved, retransmits...), included in the JSON. A numeric
   * `perCpuSecond` is the run's figure over this process's CPU time instead of wall time (for
   * single-threaded in-process cases; on a shared machine it shows what the code does per core).
   */
  details?(): Record<string, unknown>;
}

/** A file a suite writes next to the results (a chart). */
export interface BenchArtifact {
  /** File name inside the results folder, e.g. "tcp-trace.svg". */
  readonly file: string;
  readonly content: string;
  /**
   * Markdown: the content's "## " sections (and its text before the first) replace the ones of
   * the same title in the file already there, whose other sections (notes written by hand) are
   * kept in place; new sections go at the end (mergeMarkdownSections).
   */
  readonly mergeSections?: boolean;
}

/** A suite module's shape (benchmarks/suites/<name>.ts). */
export interface BenchSuite {
  readonly name: string;
  readonly description: string;
  cases(): BenchCase[];
  /** Extra files (charts) written to the results folder when results are written. */
  artifacts?(ctx: BenchContext): BenchArtifact[] | Promise<BenchArtifact[]>;
}

/** The outcome of one case. */
export interface BenchResult {
  readonly suite: string;
  readonly name: string;
  readonly unit: BenchUnit;
  readonly higherIsBetter: boolean;
  readonly status: "ok" | "skipped" | "failed";
  readonly reason?: string;
  readonly runs: number[];
  readonly median?: number;
  readonly min?: number;
  readonly max?: number;
  /** (max - min) / median, as a fraction. */
  readonly spread?: number;
  readonly baseline?: string;
  /** median / baseline median (how many times the baseline's figure). */
  readonly ratio?: number;
  readonly target?: BenchTarget;
  readonly targetMet?: boolean;
  /** Median of the runs' `perCpuSecond` details, when the case reports them. */
  readonly cpuMedian?: number;
  /** Wall time of the whole case (warm-up included), ms. */
  readonly elapsedMs?: number;
  readonly details?: Record<string, unknown>;
}
