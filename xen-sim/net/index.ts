// Public surface of xen-sim/net: netfront, netback, the bridge, GSO segmentation and a
// composition helper that builds dom0 + guests joined by a bridge.
export type * from "./types.ts";
export { createNetfront, type NetfrontError } from "./netfront.ts";
export { createNetback, NETBACK_FEATURES } from "./netback.ts";
export { createBridge, type Bridge, type BridgeOptions, type BridgePort, type BridgePortStats, type BridgeStats } from "./bridge.ts";
export { segmentTcpv4, type GsoError } from "./gso.ts";
export { buildXenNetwork, type XenNetwork, type XenNetworkGuest, type XenNetworkOptions } from "./network.ts";
