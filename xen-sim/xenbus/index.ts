// Public surface of xen-sim/xenbus: device states and the Linux-style xenbus helpers.
export * from "./types.ts";
export { parseState, readKeys, readState, stateName, switchState, waitForState, watchState, writeKeys, type WaitStateError } from "./xenbus.ts";
export { createSerialTask, readUint, type SerialTask } from "./serial-task.ts";
