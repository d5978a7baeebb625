// Public surface of stack/wire: packet views, reprs, parse/emit, addresses and checksums.
// (tcp.ts and dhcp.ts are exported by their owners below the marked line.)
export * from "./address.ts";
export * from "./bytes.ts";
export * from "./checksum.ts";
export * from "./ethernet.ts";
export * from "./arp.ts";
export * from "./ipv4.ts";
export * from "./icmp.ts";
export * from "./udp.ts";
export * from "./ipv6-address.ts";
export * from "./ipv6.ts";
export * from "./ipv6-ext.ts";
export * from "./icmpv6.ts";
export * from "./ndp.ts";
export * from "./mld.ts";
// address.ts's parseIpv4 parses dotted-quad text; here it is parseIpv4Address, and parseIpv4 is the packet parser.
export { parseIpv4 } from "./ipv4.ts";
export { parseIpv4 as parseIpv4Address } from "./address.ts";
// --- other wire formats ---
export * from "./dhcp.ts";
export * from "./dhcp6.ts";
