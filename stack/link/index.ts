// Public surface of stack/link: the NetDevice interface and the devices that are not
// hardware (simulated wire and switch, impairments, capture, loopback) plus capture codecs.
export * from "./types.ts";
export { createImpairedChannel, emptyImpairmentStats, markCongestionExperienced, maxFrameLength, withImpairments } from "./impairments.ts";
export * from "./qdisc/index.ts";
export type {
  BurstLossOptions,
  ChannelBehaviour,
  DeviceImpairments,
  ImpairedChannel,
  ImpairedDevice,
  ImpairmentOptions,
  ImpairmentStats,
  LinkDeps,
} from "./impairments.ts";
export { createPointToPointLink, offloadsOf } from "./point-to-point.ts";
export { completeChecksum } from "./checksum-offload.ts";
export type { ChecksumCompletionError } from "./checksum-offload.ts";
export type { LinkEnd, LinkEndOptions, PointToPointLink } from "./point-to-point.ts";
export { createSwitch } from "./switch.ts";
export type { MacTableEntry, Switch, SwitchOptions, SwitchPort, SwitchPortOptions, SwitchPortStats, SwitchStats } from "./switch.ts";
export { createMemorySink, LINKTYPE_ETHERNET, teeSinks, withCapture } from "./capture.ts";
export type { CaptureDirection, CaptureInterface, CaptureOptions, CapturedPacket, MemorySink, PacketSink } from "./capture.ts";
export { createDevicePair } from "./pair.ts";
export type { DevicePair, DevicePairOptions } from "./pair.ts";
export { createLoopback } from "./loopback.ts";
export type { LoopbackDevice, LoopbackOptions } from "./loopback.ts";
export * from "./pcap/index.ts";
