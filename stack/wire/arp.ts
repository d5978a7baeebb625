// ARP for Ethernet/IPv4 (RFC 826). Only htype 1, ptype 0x0800, hlen 6, plen 4 are accepted.
// ArpPacket: view; ArpRepr: meaning; parseArp/emitArp convert; ARP_PACKET_LEN is its size.
import { type Result, ok, err } from "../result.ts";
import { type Ipv4Address, type MacAddress, readIpv4, readMac, writeIpv4, writeMac } from "./address.ts";
import { readU16, writeU16 } from "./bytes.ts";

export const ARP_HTYPE = 0;
export const ARP_PTYPE = 2;
export const ARP_HLEN = 4;
export const ARP_PLEN = 5;
export const ARP_OPER = 6;
export const ARP_SHA = 8;
export const ARP_SPA = 14;
export const ARP_THA = 18;
export const ARP_TPA = 24;
/** Size of an Ethernet/IPv4 ARP packet. */
export const ARP_PACKET_LEN = 28;

export const ARP_HTYPE_ETHERNET = 1;
export const ARP_PTYPE_IPV4 = 0x0800;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;

export type ArpOperation = "request" | "reply";
export type ArpError = "truncated" | "unsupported-hardware" | "unsupported-protocol" | "bad-address-length" | "bad-operation";

/** The meaning of an Ethernet/IPv4 ARP packet. */
export interface ArpRepr {
  readonly operation: ArpOperation;
  readonly senderMac: MacAddress;
  readonly senderIp: Ipv4Address;
  readonly targetMac: MacAddress;
  readonly targetIp: Ipv4Address;
}

/** View over an ARP packet; accessors are safe after checkLen() succeeds. */
export class ArpPacket {
  constructor(readonly bytes: Uint8Array) {}

  /** Checks only that 28 bytes are present (field validation is parseArp's). */
  checkLen(): Result<this, "truncated"> {
    return this.bytes.length < ARP_PACKET_LEN ? err("truncated") : ok(this);
  }

  get htype(): number {
    return readU16(this.bytes, ARP_HTYPE);
  }
  get ptype(): number {
    return readU16(this.bytes, ARP_PTYPE);
  }
  get hlen(): number {
    return this.bytes[ARP_HLEN]!;
  }
  get plen(): number {
    return this.bytes[ARP_PLEN]!;
  }
  get oper(): number {
    return readU16(this.bytes, ARP_OPER);
  }
  set oper(v: number) {
    writeU16(this.bytes, ARP_OPER, v);
  }
  get senderMac(): MacAddress {
    return readMac(this.bytes, ARP_SHA);
  }
  get senderIp(): Ipv4Address {
    return readIpv4(this.bytes, ARP_SPA);
  }
  get targetMac(): MacAddress {
    return readMac(this.bytes, ARP_THA);
  }
  get targetIp(): Ipv4Address {
    return readIpv4(this.bytes, ARP_TPA);
  }
}

/** Parses and validates an Ethernet/IPv4 ARP packet (trailing padding is ignored). */
export function parseArp(bytes: Uint8Array): Result<ArpRepr, ArpError> {
  const p = new ArpPacket(bytes);
  if (bytes.length < ARP_PACKET_LEN) return err("truncated");
  if (p.htype !== ARP_HTYPE_ETHERNET) return err("unsupported-hardware");
  if (p.ptype !== ARP_PTYPE_IPV4) return err("unsupported-protocol");
  if (p.hlen !== 6 || p.plen !== 4) return err("bad-address-length");
  const op = p.oper;
  if (op !== ARP_OP_REQUEST && op !== ARP_OP_REPLY) return err("bad-operation");
  return ok({
    operation: op === ARP_OP_REQUEST ? "request" : "reply",
    senderMac: p.senderMac,
    senderIp: p.senderIp,
    targetMac: p.targetMac,
    targetIp: p.targetIp,
  });
}

/** Writes the 28-byte packet at buf[offset..]; returns ARP_PACKET_LEN. */
export function emitArp(repr: ArpRepr, buf: Uint8Array, offset = 0): number {
  writeU16(buf, offset + ARP_HTYPE, ARP_HTYPE_ETHERNET);
  writeU16(buf, offset + ARP_PTYPE, ARP_PTYPE_IPV4);
  buf[offset + ARP_HLEN] = 6;
  buf[offset + ARP_PLEN] = 4;
  writeU16(buf, offset + ARP_OPER, repr.operation === "request" ? ARP_OP_REQUEST : ARP_OP_REPLY);
  writeMac(buf, offset + ARP_SHA, repr.senderMac);
  writeIpv4(buf, offset + ARP_SPA, repr.senderIp);
  writeMac(buf, offset + ARP_THA, repr.targetMac);
  writeIpv4(buf, offset + ARP_TPA, repr.targetIp);
  return ARP_PACKET_LEN;
}
