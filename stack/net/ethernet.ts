// The Ethernet layer over one NetDevice: accepts frames for our MAC, broadcast or multicast,
// demultiplexes them by EtherType, and frames outgoing packets (in place when there is headroom).
// createEthernet(device, options) -> EthernetLayer. With options.vlan set, frames are sent
// tagged with that VID and only frames tagged with it are accepted.
import type { NetDevice, Frame, FrameOffload } from "../link/types.ts";
import { type MacAddress, isMulticastMac, writeMac } from "../wire/address.ts";
import { writeU16 } from "../wire/bytes.ts";
import {
  ETHERNET_HEADER_LEN,
  ETHERNET_VLAN_HEADER_LEN,
  ETHERTYPE_MIN,
  ETHERTYPE_VLAN,
  EthernetPacket,
  ETH_DST,
  ETH_ETHERTYPE,
  ETH_SRC,
  ETH_VLAN_ETHERTYPE,
  ETH_VLAN_TCI,
} from "../wire/ethernet.ts";
import { createCounters } from "./counters.ts";
import type { EthernetLayer, EthertypeHandler } from "./types.ts";
import { NetlabError } from "../error.ts";

export interface EthernetOptions {
  /** 802.1Q VLAN id (1..4094) to send and accept; undefined: untagged only. */
  readonly vlan?: number;
  /** Priority code point for tagged frames (default 0). */
  readonly pcp?: number;
  /** Accept unicast frames for other MACs (default false). */
  readonly promiscuous?: boolean;
}

/** Creates the Ethernet layer and installs itself as the device's receive handler. */
export function createEthernet(device: NetDevice, options: EthernetOptions = {}): EthernetLayer {
  const mac = device.mac;
  const vlan = options.vlan;
  const tci = vlan === undefined ? 0 : (((options.pcp ?? 0) & 7) << 13) | (vlan & 0x0fff);
  const headerLength = vlan === undefined ? ETHERNET_HEADER_LEN : ETHERNET_VLAN_HEADER_LEN;
  const handlers = new Map<number, EthertypeHandler>();
  const counters = createCounters(["rxFrames", "rxBytes", "txFrames", "txBytes", "copies"] as const);
  const c = counters.c;

  const receive = (frame: Frame): void => {
    const data = frame.data;
    c.rxFrames++;
    c.rxBytes += data.length;
    if (data.length < ETHERNET_HEADER_LEN) return counters.drop("truncated");
    const p = new EthernetPacket(data);
    if (!p.checkLen().ok) return counters.drop(data.length < ETHERNET_VLAN_HEADER_LEN ? "truncated" : "length-field");
    const dst = p.dst;
    if (dst !== mac && !isMulticastMac(dst) && options.promiscuous !== true) return counters.drop("not-for-us");
    const src = p.src;
    if (src === mac) return counters.drop("own-frame");
    if (p.hasVlan) {
      if (vlan === undefined || p.vid !== vlan) return counters.drop("vlan-mismatch");
    } else if (vlan !== undefined) {
      return counters.drop("vlan-mismatch");
    }
    const ethertype = p.ethertype;
    const h = handlers.get(ethertype);
    if (h === undefined) return counters.drop("unknown-ethertype");
    h(data.subarray(p.headerLength), frame, src, dst);
  };
  device.onReceive(receive);

  return {
    mac,
    mtu: device.mtu,
    offloads: device.offloads,
    headerLength,
    send(dst: MacAddress, ethertype: number, packet: Uint8Array, offload?: FrameOffload, release?: () => void): void {
      let frame: Uint8Array;
      if (packet.byteOffset >= headerLength) {
        frame = new Uint8Array(packet.buffer, packet.byteOffset - headerLength, headerLength + packet.length);
      } else {
        frame = new Uint8Array(headerLength + packet.length);
        frame.set(packet, headerLength);
        c.copies++;
        release = undefined; // the caller's buffer is not the frame's
      }
      writeMac(frame, ETH_DST, dst);
      writeMac(frame, ETH_SRC, mac);
      if (vlan === undefined) {
        writeU16(frame, ETH_ETHERTYPE, ethertype);
      } else {
        writeU16(frame, ETH_ETHERTYPE, ETHERTYPE_VLAN);
        writeU16(frame, ETH_VLAN_TCI, tci);
        writeU16(frame, ETH_VLAN_ETHERTYPE, ethertype);
      }
      c.txFrames++;
      c.txBytes += frame.length;
      if (release !== undefined) device.send(offload === undefined ? { data: frame, release } : { data: frame, offload, release });
      else device.send(offload === undefined ? { data: frame } : { data: frame, offload });
    },
    registerEthertype(ethertype: number, handler: EthertypeHandler): void {
      if (ethertype < ETHERTYPE_MIN || ethertype > 0xffff) throw new NetlabError("ERR_NETLAB_ETHERTYPE", `bad ethertype ${ethertype}`);
      handlers.set(ethertype, handler);
    },
    counters: () => counters.snapshot(),
  };
}
