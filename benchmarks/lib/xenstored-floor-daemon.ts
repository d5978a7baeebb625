// The runtime's floor for the xenstored suite's CPU per request: a node process that serves the
// xenstore socket protocol's framing and nothing else. It reads each request's 16-byte header
// (type, req_id, tx_id, len), waits for the payload, and answers with the same header fields and
// the payload "1\0" (an OK-shaped reply that also parses as a transaction id), through the same
// node socket path as netlab's daemon. No store, no permissions, no watches: what remains of its
// CPU per request is Node's (and the kernel's) share. Prints "ready" once listening.
//   node xenstored-floor.mjs SOCKET_PATH
import { createServer } from "node:net";

const HEADER = 16;
const path = process.argv[2];
if (path === undefined) {
  process.stderr.write("usage: xenstored-floor SOCKET_PATH\n");
  process.exit(2);
}
const server = createServer((socket) => {
  let pending: Buffer = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= HEADER) {
      const len = pending.readUInt32LE(12);
      if (pending.length < HEADER + len) break;
      const reply = Buffer.alloc(HEADER + 2);
      pending.copy(reply, 0, 0, 12);
      reply.writeUInt32LE(2, 12);
      reply[HEADER] = 0x31;
      socket.write(reply);
      pending = pending.subarray(HEADER + len);
    }
  });
  socket.on("error", () => socket.destroy());
});
server.listen(path, () => process.stdout.write("ready\n"));
const stop = (): void => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
