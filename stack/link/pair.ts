// createDevicePair(clock, options): two NetDevices joined back to back, for stack tests.
// A frame sent on one end is delivered to the other after `latencyMs` on the Clock (never
// synchronously, so a reply cannot re-enter the sender). `filter` can drop or observe frames.
import type { Clock } from "../time.ts";
import type { MacAddress } from "../wire/address.ts";
import { type Frame, type NetDevice, type Offloads, NO_OFFLOADS, withoutRelease } from "./types.ts";

export interface DevicePairOptions {
  readonly macA?: MacAddress;
  readonly macB?: MacAddress;
  /** IP MTU of both ends (default 1500). Frames longer than mtu + 18 are dropped. */
  readonly mtu?: number;
  readonly offloads?: Offloads;
  /** One-way delay in ms (default 0: delivered on the next clock turn). */
  readonly latencyMs?: number;
  /** Called for every frame sent; return false to drop it. `from` is "a" or "b". */
  readonly filter?: (frame: Frame, from: "a" | "b") => boolean;
  /**
   * Keep every frame sent in `log` (default true). false: the log stays empty and each frame
   * goes on with its Frame.release, so the receiving end can give a recycled buffer back.
   */
  readonly log?: boolean;
}

/** A pair of devices plus the frames sent by each end (for assertions). */
export interface DevicePair {
  readonly a: NetDevice;
  readonly b: NetDevice;
  /** Every frame sent, in order, with its sender. */
  readonly log: { readonly from: "a" | "b"; readonly at: number; readonly frame: Frame }[];
}

/** Creates two devices wired back to back. */
export function createDevicePair(clock: Clock, options: DevicePairOptions = {}): DevicePair {
  const mtu = options.mtu ?? 1500;
  const offloads = options.offloads ?? NO_OFFLOADS;
  const latency = options.latencyMs ?? 0;
  const handlers: { a: (f: Frame) => void; b: (f: Frame) => void } = { a: () => {}, b: () => {} };
  const log: DevicePair["log"] = [];
  const keepLog = options.log ?? true;
  const make = (side: "a" | "b", mac: MacAddress): NetDevice => {
    const peer = side === "a" ? "b" : "a";
    return {
      mac,
      mtu,
      offloads,
      send(sent) {
        // The log keeps the frame: its buffer is not given back.
        const frame = keepLog ? withoutRelease(sent) : sent;
        if (keepLog) log.push({ from: side, at: clock.now(), frame });
        if (frame.data.length > mtu + 18 && frame.offload?.gsoSize === undefined) return;
        if (options.filter !== undefined && !options.filter(frame, side)) return;
        clock.setTimer(clock.now() + latency, () => handlers[peer](frame));
      },
      onReceive(handler) {
        handlers[side] = handler;
      },
    };
  };
  return { a: make("a", options.macA ?? 0x020000000001), b: make("b", options.macB ?? 0x020000000002), log };
}
