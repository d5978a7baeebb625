// What the single-thread and the threaded xen-transfer share besides the payload: the domUs'
// TCP buffer size and goodput without an omitted start (iperf3's --omit, counted in bytes).
//   XEN_TRANSFER_SOCKET_BUFFER, steadyGoodput(omitBytes, mark, endBytes, endAt)
//   XenTransferSample, SAMPLE_EVERY_MS   the bytes received over wall time (the --report charts)

/**
 * The domUs' TCP buffers, sized for each run's round trip. One thread on the virtual clock: the
 * round trip is about zero and 1 MiB (the stack's default) is plenty; 4 MiB there only makes
 * MSS-sized bursts overflow netback's rx queue (2508 retransmissions in 50 MB).
 */
export const XEN_TRANSFER_SOCKET_BUFFER = 1024 * 1024;
/**
 * Worker threads on the real clock: a round trip through three threads on two cores takes
 * milliseconds, and 1 MiB left the transfer window-limited. 4 MiB is Linux's tcp_wmem maximum
 * (receive autotuning may grow to tcp_rmem's 6 MiB). With GSO only: MSS-sized frames are
 * 44 times as many, and a 4 MiB window of them overflows netback's 512-frame rx queue
 * (64 MB: 2618 retransmissions and 0.60 Gbit/s, against 19 and 0.89 with 1 MiB).
 */
export const XEN_TRANSFER_SOCKET_BUFFER_THREADS = 4 * 1024 * 1024;

/** Goodput after the omitted start of a transfer (omitBytes). */
export interface SteadyGoodput {
  /** Bytes left out at the start (the first received chunk that reaches omitBytes ends the omitted part). */
  readonly omittedBytes: number;
  /** Bytes and wall seconds from then to the end of the stream. */
  readonly bytes: number;
  readonly seconds: number;
  readonly wallGoodputBitsPerSecond: number;
}

/** SteadyGoodput from the receiver's marks (undefined when nothing was omitted, or nothing came after the mark). */
export function steadyGoodput(omitBytes: number, mark: { bytes: number; at: number } | undefined, endBytes: number, endAt: number): SteadyGoodput | undefined {
  if (omitBytes <= 0 || mark === undefined || endAt <= mark.at || mark.bytes >= endBytes) return undefined;
  const bytes = endBytes - mark.bytes;
  const seconds = (endAt - mark.at) / 1000;
  return { omittedBytes: mark.bytes, bytes, seconds: Math.round(seconds * 1e6) / 1e6, wallGoodputBitsPerSecond: Math.round((bytes * 8) / seconds) };
}

/** Bytes the receiver had at a moment of wall time since the transfer started. */
export interface XenTransferSample {
  readonly wallSeconds: number;
  readonly receivedBytes: number;
}

/** Wall ms between two samples of a run's progress (the runs' `samples` option). */
export const SAMPLE_EVERY_MS = 250;
