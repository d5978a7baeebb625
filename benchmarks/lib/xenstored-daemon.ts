// netlab's xenstored as a stand-alone daemon for the xenstored suite: what `netlab xenstored
// --socket PATH` serves (createXenstoreServer with its defaults, listenXenstoreSocket as dom0's
// socket), without the CLI around it, so that benchmarks/lib/xenstored-peers.ts can bundle it
// into one JavaScript file and run it under plain node, as the installed package runs compiled
// code. Prints "ready" once listening; exits on SIGTERM/SIGINT.
//   node netlab-xenstored.mjs SOCKET_PATH
import { createXenstoreServer } from "../../xen-sim/xenstore/server.ts";
import { listenXenstoreSocket } from "../../harness/xenstore/socket-transport.ts";

const path = process.argv[2];
if (path === undefined) {
  process.stderr.write("usage: netlab-xenstored SOCKET_PATH\n");
  process.exit(2);
}
const server = createXenstoreServer();
const listener = await listenXenstoreSocket(server, path);
process.stdout.write("ready\n");
const stop = (): void => {
  void listener.close().then(() => {
    server.close();
    process.exit(0);
  });
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
