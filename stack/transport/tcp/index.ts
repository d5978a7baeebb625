// Public surface of the TCP layer: createTcpLayer and its option, stats and info types.
// The connection API is ByteStream (stack/transport/types.ts); listeners are TcpListener.
export { createTcpLayer, type ExtendedTcpLayer, type TcpLayerDeps } from "./layer.ts";
export type { TcpLayerOptions, TcpStats, TcpInfo, TcpStateName, BbrInfo } from "./types.ts";
export type { CongestionControlName } from "./congestion.ts";
export { TcpConnection } from "./connection.ts";
