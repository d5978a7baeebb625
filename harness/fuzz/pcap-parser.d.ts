// Types for the part of `pcap-parser` (a classic-pcap reader, the pcap-readers target's reference) used here.
declare module "pcap-parser" {
  import type { EventEmitter } from "node:events";
  export function parse(input: string | NodeJS.ReadableStream): EventEmitter;
}
