// harness/tap: Linux tap devices as NetDevices (see tap.ts for the contract).
export { openTap, TapError, TAP_KERNEL_QUEUE, TAP_MAX_GSO_FRAME, type TapDevice, type TapErrorCode, type TapOptions } from "./tap.ts";
export { parseVnetReceive, readVnetHeader, writeVnetHeader, VNET_HDR_LEN, type VnetHeaderError, type VnetReceiveError } from "./vnet-header.ts";
