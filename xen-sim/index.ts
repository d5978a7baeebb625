// Public surface of xen-sim: the simulated hypervisor, Xen ABI layouts and shared rings.
// Helpers append their exports below; keep one export line per module.

export * from "./abi/xen.ts";
export * from "./abi/grant-table.ts";
export * from "./abi/event-channel.ts";
export * from "./abi/ring.ts";
export * from "./abi/netif.ts";
export * from "./abi/blkif.ts";
export * from "./abi/xenstore.ts";
export type * from "./memory/types.ts";
export { createDomainMemory, DEFAULT_MAX_PAGES } from "./memory/memory.ts";
export type * from "./grant-table/types.ts";
export { createGrantSystem, DEFAULT_GRANT_FRAMES, DEFAULT_MAX_MAPPINGS, type GrantSystem } from "./grant-table/grant-table.ts";
export type * from "./event-channel/types.ts";
export { createEventChannelSystem, type EventChannelSystem } from "./event-channel/event-channel.ts";
export type * from "./hypervisor/types.ts";
export { createHypervisor, DEFAULT_MAX_DOMAINS } from "./hypervisor/hypervisor.ts";
export type * from "./ring/types.ts";
export { createBackRing, createFrontRing, initSharedRing, ringSlots, sharedResponseProducer, shouldNotify } from "./ring/ring.ts";
export * from "./xenstore/index.ts";
export { kickVcpu, setPending2l, sharedInfoView, takeEvents2l, unmask2l, upcallMasked, waitForUpcall, type SharedInfoView } from "./event-channel/two-level.ts";
export * from "./xenbus/index.ts";
export * from "./toolstack/index.ts";
export * from "./net/index.ts";
export * from "./blk/index.ts";
