// Ethernet II frames with at most one IEEE 802.1Q VLAN tag (no FCS).
// EthernetPacket: view over a frame; checkLen() validates, after which accessors are safe.
// EthernetRepr: the parsed meaning; parseEthernet/emitEthernet convert between bytes and it.
import { type Result, ok, err } from "../result.ts";
import { type MacAddress, readMac, writeMac } from "./address.ts";
import { readU16 as u16, writeU16 as w16 } from "./bytes.ts";

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_IPV6 = 0x86dd;

export const ETH_DST = 0;
export const ETH_SRC = 6;
export const ETH_ETHERTYPE = 12;
/** Offset of the 802.1Q Tag Control Information when the frame is tagged. */
export const ETH_VLAN_TCI = 14;
/** Offset of the inner EtherType when the frame is tagged. */
export const ETH_VLAN_ETHERTYPE = 16;
/** Header length of an untagged frame. */
export const ETHERNET_HEADER_LEN = 14;
/** Header length of a frame with one 802.1Q tag. */
export const ETHERNET_VLAN_HEADER_LEN = 18;
/** EtherType values below this are IEEE 802.3 length fields, not types. */
export const ETHERTYPE_MIN = 0x0600;

export type EthernetError = "truncated" | "length-field";

/** An 802.1Q tag: priority code point, drop eligible indicator, VLAN id. */
export interface VlanTag {
  readonly pcp: number;
  readonly dei: boolean;
  readonly vid: number;
}

/** The meaning of an Ethernet header. `ethertype` is the payload's type (inner type when tagged). */
export interface EthernetRepr {
  readonly dst: MacAddress;
  readonly src: MacAddress;
  readonly ethertype: number;
  readonly vlan?: VlanTag;
}

/** View over an Ethernet II frame; accessors are safe after checkLen() succeeds. */
export class EthernetPacket {
  constructor(readonly bytes: Uint8Array) {}

  /** Validates that the header (including any VLAN tag) fits and the type is a type. */
  checkLen(): Result<this, EthernetError> {
    const b = this.bytes;
    if (b.length < ETHERNET_HEADER_LEN) return err("truncated");
    if (this.outerEthertype === ETHERTYPE_VLAN && b.length < ETHERNET_VLAN_HEADER_LEN) return err("truncated");
    if (this.ethertype < ETHERTYPE_MIN) return err("length-field");
    return ok(this);
  }

  get dst(): MacAddress {
    return readMac(this.bytes, ETH_DST);
  }
  set dst(v: MacAddress) {
    writeMac(this.bytes, ETH_DST, v);
  }
  get src(): MacAddress {
    return readMac(this.bytes, ETH_SRC);
  }
  set src(v: MacAddress) {
    writeMac(this.bytes, ETH_SRC, v);
  }
  /** The EtherType right after the addresses (0x8100 when tagged). */
  get outerEthertype(): number {
    return u16(this.bytes, ETH_ETHERTYPE);
  }
  get hasVlan(): boolean {
    return this.outerEthertype === ETHERTYPE_VLAN;
  }
  /** The 802.1Q TCI (only meaningful when hasVlan). */
  get vlanTci(): number {
    return u16(this.bytes, ETH_VLAN_TCI);
  }
  get pcp(): number {
    return this.vlanTci >>> 13;
  }
  get dei(): boolean {
    return (this.vlanTci & 0x1000) !== 0;
  }
  get vid(): number {
    return this.vlanTci & 0x0fff;
  }
  /** The payload's EtherType (the inner one when tagged). */
  get ethertype(): number {
    return this.hasVlan ? u16(this.bytes, ETH_VLAN_ETHERTYPE) : this.outerEthertype;
  }
  get headerLength(): number {
    return this.hasVlan ? ETHERNET_VLAN_HEADER_LEN : ETHERNET_HEADER_LEN;
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength);
  }
}

/** Parses an Ethernet header. */
export function parseEthernet(bytes: Uint8Array): Result<EthernetRepr, EthernetError> {
  const p = new EthernetPacket(bytes);
  const c = p.checkLen();
  if (!c.ok) return c;
  if (p.hasVlan) {
    return ok({ dst: p.dst, src: p.src, ethertype: p.ethertype, vlan: { pcp: p.pcp, dei: p.dei, vid: p.vid } });
  }
  return ok({ dst: p.dst, src: p.src, ethertype: p.ethertype });
}

/** Header length the repr emits (14, or 18 with a VLAN tag). */
export function ethernetHeaderLength(repr: EthernetRepr): number {
  return repr.vlan === undefined ? ETHERNET_HEADER_LEN : ETHERNET_VLAN_HEADER_LEN;
}

/** Writes the header at buf[offset..]; returns the header length. Caller sizes buf. */
export function emitEthernet(repr: EthernetRepr, buf: Uint8Array, offset = 0): number {
  writeMac(buf, offset + ETH_DST, repr.dst);
  writeMac(buf, offset + ETH_SRC, repr.src);
  const v = repr.vlan;
  if (v === undefined) {
    w16(buf, offset + ETH_ETHERTYPE, repr.ethertype);
    return ETHERNET_HEADER_LEN;
  }
  w16(buf, offset + ETH_ETHERTYPE, ETHERTYPE_VLAN);
  w16(buf, offset + ETH_VLAN_TCI, ((v.pcp & 7) << 13) | (v.dei ? 0x1000 : 0) | (v.vid & 0x0fff));
  w16(buf, offset + ETH_VLAN_ETHERTYPE, repr.ethertype);
  return ETHERNET_VLAN_HEADER_LEN;
}
