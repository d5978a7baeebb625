// Public surface of xen-sim/toolstack.
export type * from "./types.ts";
export { createToolstack, DEFAULT_GUEST_MAX_PAGES, vbdNumber } from "./toolstack.ts";
export { pumpUntil, type PumpOptions } from "../../stack/settle.ts";
