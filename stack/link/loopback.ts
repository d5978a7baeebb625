// A loopback device: every frame sent comes back to its own receive handler on the next
// Clock tick (never synchronously). Offers checksum offload, as Linux lo does: frames never
// leave the host, so a csumBlank frame is delivered marked dataValidated.
import type { Clock } from "../time.ts";
import type { DeviceCounters, Frame, NetDevice } from "./types.ts";
import type { MacAddress } from "../wire/address.ts";

/** Loopback options. */
export interface LoopbackOptions {
  /** IP MTU (default 65535, like Linux lo). */
  readonly mtu?: number;
  /** MAC (default 00:00:00:00:00:00, like Linux lo). */
  readonly mac?: MacAddress;
  /** Frames queued before tail drop (default 1000). */
  readonly queueLimitFrames?: number;
}

/** A loopback device with counters. */
export interface LoopbackDevice extends NetDevice {
  counters(): DeviceCounters;
}

/** Creates a loopback device. */
export function createLoopback(deps: { clock: Clock }, options: LoopbackOptions = {}): LoopbackDevice {
  const { clock } = deps;
  const mtu = options.mtu ?? 65535;
  const limit = options.queueLimitFrames ?? 1000;
  const counters: DeviceCounters = { txFrames: 0, txBytes: 0, rxFrames: 0, rxBytes: 0, dropped: 0 };
  let handler: (f: Frame) => void = () => {};
  let queue: Frame[] = [];
  let timer: number | undefined;
  const flush = (): void => {
    timer = undefined;
    const batch = queue;
    queue = [];
    for (const f of batch) {
      counters.rxFrames++;
      counters.rxBytes += f.data.length;
      handler(f);
    }
  };
  return {
    mac: options.mac ?? 0,
    mtu,
    offloads: { txChecksum: true, tso: false, maxGsoFrame: 0 },
    send(frame) {
      counters.txFrames++;
      counters.txBytes += frame.data.length;
      if (queue.length >= limit || frame.data.length > mtu + 14 || (frame.offload?.gsoSize ?? 0) > 0) {
        counters.dropped++;
        return;
      }
      queue.push(frame.offload?.csumBlank === true ? { data: frame.data, offload: { dataValidated: true } } : { data: frame.data });
      if (timer === undefined) timer = clock.setTimer(clock.now(), flush);
    },
    onReceive(h) {
      handler = h;
    },
    counters: () => ({ ...counters }),
  };
}
