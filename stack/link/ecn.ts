// ECN marking of a frame on a link or in a queue (RFC 3168 §5): a CE mark on an ECN-capable
// IPv4 packet, with the header checksum updated incrementally (RFC 1624).
const ETHERNET_HEADER_LEN = 14;
const VLAN_TAG_LEN = 4;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_IPV4 = 0x0800;

/**
 * The frame with its IPv4 ECN field set to CE (RFC 3168 §5) and the header checksum updated
 * incrementally (RFC 1624 eqn. 3), or undefined when it is not an ECN-capable IPv4 packet (or
 * is too short to tell). A copy: the original may be held elsewhere (captures, duplicates).
 */
export function markCongestionExperienced(frame: Uint8Array): Uint8Array | undefined {
  let ip = ETHERNET_HEADER_LEN;
  let type = frame.length >= ETHERNET_HEADER_LEN ? (frame[12]! << 8) | frame[13]! : -1;
  if (type === ETHERTYPE_VLAN && frame.length >= ETHERNET_HEADER_LEN + VLAN_TAG_LEN) {
    type = (frame[16]! << 8) | frame[17]!;
    ip += VLAN_TAG_LEN;
  }
  if (type !== ETHERTYPE_IPV4 || frame.length < ip + 20 || frame[ip]! >> 4 !== 4) return undefined;
  const tos = frame[ip + 1]!;
  if ((tos & 3) === 0 || (tos & 3) === 3) return undefined;
  const out = frame.slice();
  out[ip + 1] = tos | 3;
  // HC' = ~(~HC + ~m + m') over the 16-bit word holding the TOS byte
  const oldWord = (frame[ip]! << 8) | tos;
  const newWord = (frame[ip]! << 8) | (tos | 3);
  let sum = (~((out[ip + 10]! << 8) | out[ip + 11]!) & 0xffff) + (~oldWord & 0xffff) + newWord;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  const check = ~sum & 0xffff;
  out[ip + 10] = check >>> 8;
  out[ip + 11] = check & 0xff;
  return out;
}
