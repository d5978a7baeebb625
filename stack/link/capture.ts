// Packet capture as a device wrapper: withCapture records every frame the wrapped device
// sends ("out") and receives ("in") into a PacketSink, stamped with the Clock's time. The
// sink interface keeps file formats (pcap, pcapng) pure and out of the data path.
import type { Clock } from "../time.ts";
import { type Frame, type NetDevice, withoutRelease } from "./types.ts";

/** LINKTYPE_ETHERNET (tcpdump.org link-layer header types). */
export const LINKTYPE_ETHERNET = 1;

/** An interface a sink records packets of. */
export interface CaptureInterface {
  readonly name?: string;
  readonly description?: string;
  /** Link type (default LINKTYPE_ETHERNET). */
  readonly linkType?: number;
  /** Largest number of bytes recorded per packet (default 262144). */
  readonly snaplen?: number;
}

/** Direction of a packet relative to the captured interface. */
export type CaptureDirection = "in" | "out";

/** One captured packet. */
export interface CapturedPacket {
  /** Id returned by addInterface. */
  readonly interfaceId: number;
  /** Clock time in ms (fractional; sub-nanosecond digits are rounded). */
  readonly timestampMs: number;
  readonly data: Uint8Array;
  /** Length on the wire when data was truncated (default data.length). */
  readonly originalLength?: number;
  readonly direction?: CaptureDirection;
  readonly comment?: string;
}

/** Where captured packets go. record() must copy or serialize data before it returns. */
export interface PacketSink {
  /** Declares an interface; returns the id to pass in record(). */
  addInterface(iface: CaptureInterface): number;
  record(packet: CapturedPacket): void;
}

/** Options of withCapture. */
export interface CaptureOptions {
  readonly clock: Clock;
  /** Interface name recorded in the sink (pcapng if_name). */
  readonly name?: string;
  readonly description?: string;
  /** Adds a comment to a packet (pcapng opt_comment), or undefined for none. */
  readonly annotate?: (frame: Frame, direction: CaptureDirection) => string | undefined;
}

/** Wraps a device so every frame it sends and receives is recorded in `sink`. */
export function withCapture(device: NetDevice, sink: PacketSink, options: CaptureOptions): NetDevice {
  const { clock, annotate } = options;
  const iface: { name?: string; description?: string } = {};
  if (options.name !== undefined) iface.name = options.name;
  if (options.description !== undefined) iface.description = options.description;
  const interfaceId = sink.addInterface(iface);
  const rec = (frame: Frame, direction: CaptureDirection): void => {
    const comment = annotate?.(frame, direction);
    sink.record(
      comment === undefined
        ? { interfaceId, timestampMs: clock.now(), data: frame.data, direction }
        : { interfaceId, timestampMs: clock.now(), data: frame.data, direction, comment },
    );
  };
  return {
    mac: device.mac,
    mtu: device.mtu,
    offloads: device.offloads,
    // A sink may keep the bytes it records: frames pass on without their release.
    send(frame) {
      rec(frame, "out");
      device.send(withoutRelease(frame));
    },
    onReceive(handler) {
      device.onReceive((frame) => {
        rec(frame, "in");
        handler(withoutRelease(frame));
      });
    },
  };
}

/** A sink that keeps copies of packets in memory (tests, small scenarios). */
export interface MemorySink extends PacketSink {
  readonly interfaces: CaptureInterface[];
  readonly packets: CapturedPacket[];
}

/** Creates an in-memory sink holding at most `limit` packets (default 100000; later ones are counted in `overflow`). */
export function createMemorySink(limit = 100_000): MemorySink & { overflow: number } {
  const sink = {
    interfaces: [] as CaptureInterface[],
    packets: [] as CapturedPacket[],
    overflow: 0,
    addInterface(iface: CaptureInterface): number {
      sink.interfaces.push(iface);
      return sink.interfaces.length - 1;
    },
    record(p: CapturedPacket): void {
      if (sink.packets.length >= limit) {
        sink.overflow++;
        return;
      }
      sink.packets.push({ ...p, data: p.data.slice() });
    },
  };
  return sink;
}

/** Fans packets out to several sinks (interface ids are those of the first sink). */
export function teeSinks(...sinks: PacketSink[]): PacketSink {
  return {
    addInterface(iface) {
      const ids = sinks.map((s) => s.addInterface(iface));
      return ids[0] ?? 0;
    },
    record(p) {
      for (const s of sinks) s.record(p);
    },
  };
}
