// The Node side of the package (`import { ... } from "netlab/harness"`): capture files, the
// node:net-like wrappers and the clock pump that lets node:http run over a virtual-time stack,
// Linux tap devices and network namespaces, pcap replay, the tshark oracle and the CLI's
// main(). Everything here may use Node; the portable stack is `netlab`, Xen is `netlab/xen-sim`.
export {
  createCaptureFile,
  writeCaptureFile,
  readCaptureFile,
  parseCaptureBytes,
  isGzip,
  MAX_DECOMPRESSED_CAPTURE_BYTES,
  type CaptureFile,
  type CaptureFileOptions,
  type ParseCaptureOptions,
} from "./pcap/files.ts";
export * from "./node/index.ts";
export * from "./tap/index.ts";
export * from "./netns/index.ts";
export * from "./replay/index.ts";
export { main as runCli } from "./cli/main.ts";
