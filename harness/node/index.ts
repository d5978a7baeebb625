// Node-facing wrappers of a netlab stack: net.Socket- and net.Server-like objects over
// ByteStream/TcpListener, and a pump that drives a VirtualClock from the event loop.
export { NetlabSocket, connect, createNodeSocket, errnoError, type NodeAddressInfo, type NodeConnectOptions, type NodeSocketOptions, type NodeStack } from "./socket.ts";
export { NetlabServer, createNodeServer, type NodeServerOptions } from "./server.ts";
export { startClockPump, withClockPump, type ClockPump, type ClockPumpOptions } from "./clock-pump.ts";
