// harness/netns: network namespaces for real-peer tests (see netns.ts for the contract).
export {
  createNetns,
  withNetns,
  sweepStaleNetns,
  listNetns,
  run,
  runChecked,
  missingTools,
  NetnsError,
  NETNS_PREFIX,
  type Netns,
  type NetnsProcess,
  type LinkConfig,
  type RunResult,
  type RunOptions,
} from "./netns.ts";
