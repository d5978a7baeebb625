// harness/tap: Linux tap devices as NetDevices (see tap.ts for the contract).
export { openTap, TapError, TAP_MAX_GSO_FRAME, type TapDevice, type TapErrorCode, type TapOptions } from "./tap.ts";
export { readVnetHeader, writeVnetHeader, VNET_HDR_LEN, type VnetHeaderError } from "./vnet-header.ts";
