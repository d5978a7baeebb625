// Public surface of stack/transport: the interfaces applications use, UDP and TCP.
export * from "./types.ts";
export { createUdp, UDP_MAX_PAYLOAD, type UdpDeps, type UdpOptions, type UdpStack, type UdpStackSocket } from "./udp.ts";
export * from "./tcp/index.ts";
