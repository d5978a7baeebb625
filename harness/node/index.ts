// Node-facing wrappers of a netlab stack: net.Socket- and net.Server-like objects over
// ByteStream/TcpListener, and a pump that drives a VirtualClock from the event loop.
//
// Typical use with node:http across two stacks on one VirtualClock (see http.test.ts):
//   const pump = startClockPump(clock);                        // virtual time follows the event loop
//   createNodeServer(stackB, (s) => httpServer.emit("connection", s)).listen(80);
//   http.request({ host: "192.0.2.2", createConnection: () => connect(stackA, { host: "192.0.2.2", port: 80 }) });
//   ...; pump.stop();
// Node's own timers (http's request timeouts) stay real; the sockets' timers (setTimeout,
// keepalive, TCP's RTO) are virtual. For a stack on a real clock (tap) no pump is needed.
export {
  NetlabSocket,
  connect,
  createNodeSocket,
  errnoError,
  formatIpv6ForNode,
  nodeAddressesOf,
  type NodeAddressInfo,
  type NodeConnectOptions,
  type NodeSocketAddresses,
  type NodeSocketOptions,
  type NodeStack,
} from "./socket.ts";
export { NetlabServer, createNodeServer, type NodeListenOptions, type NodeServerOptions } from "./server.ts";
export { startClockPump, withClockPump, type ClockPump, type ClockPumpOptions } from "./clock-pump.ts";
