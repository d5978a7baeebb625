// The Node socket wrappers (harness/node) over IPv6 on a real tap, with the kernel as the peer:
// node:http's server on a dual-stack netlab listener answers curl -6 and curl -4 (each request
// says what the socket reported), and node:http's client over a netlab v6 socket fetches from a
// Node http server on the kernel side, which names netlab's v6 address as its peer.
import http from "node:http";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { connect, createNodeServer } from "../../harness/node/index.ts";
import { createStack, type Stack } from "../../stack/index.ts";
import { createSeededRng } from "../../harness/time/real-clock.ts";
import { announceSkip, interopSkipReason, tsharkOffending, waitUntil, withTapLab } from "./support.ts";

const skip = announceSkip("Node sockets over IPv6 on a tap", interopSkipReason(["curl", "tcpdump", "tshark"]));
const KERNEL = "2001:db8:6::1";
const NETLAB = "2001:db8:6::2";

const addressReady = (stack: Stack) => () => stack.ipv6!.ndp.addresses().some((a) => a.origin === "static" && a.state === "preferred");

describe.skipIf(skip)("Node sockets over IPv6 against the kernel", () => {
  it("node:http on a dual-stack netlab server answers curl -6 and curl -4 (peers 2001:db8:6::1 and ::ffff:192.0.2.1), and node:http's client over a netlab v6 socket fetches from Node on the kernel side", async () => {
    await withTapLab("node sockets over v6", { ipv6: true }, async (lab) => {
      await lab.ns.ip("-6", "addr", "add", `${KERNEL}/64`, "dev", lab.ifname, "nodad");
      const stack = createStack(
        { device: lab.device, clock: lab.clock, rng: createSeededRng() },
        { ipv4: { cidr: "192.0.2.2/24" }, ipv6: { addresses: [`${NETLAB}/64`] } },
      );
      await waitUntil(addressReady(stack), 5000, "netlab's DAD");

      const httpServer = http.createServer((req, res) => {
        const s = req.socket;
        res.end(`${s.remoteAddress} ${s.remoteFamily} ${s.localAddress} ${s.localPort}\n`);
      });
      const server = createNodeServer(stack, (s) => httpServer.emit("connection", s));
      await once(server.listen({ host: "::", port: 8080, ipv6Only: false }), "listening");
      expect(server.address()).toEqual({ address: "::", family: "IPv6", port: 8080 });
      const curl = (...args: string[]) => lab.ns.exec("curl", ["-g", "-sS", "--max-time", "10", ...args], { timeoutMs: 15_000 });
      const six = await curl("-6", `http://[${NETLAB}]:8080/`);
      expect(six.stdout, six.stderr).toBe(`${KERNEL} IPv6 ${NETLAB} 8080\n`);
      const four = await curl("-4", "http://192.0.2.2:8080/");
      expect(four.stdout, four.stderr).toBe("::ffff:192.0.2.1 IPv6 ::ffff:192.0.2.2 8080\n");

      // Node on the kernel side: an http server on [::]:8081 that names its peer.
      const kernelNode = lab.spawn(process.execPath, [
        "-e",
        `require("http").createServer((q, r) => r.end(q.socket.remoteAddress + " " + q.socket.remoteFamily)).listen(8081, "::", () => console.log("up"))`,
      ]);
      await kernelNode.waitFor(/up/, 10_000);
      const body = await new Promise<string>((resolve, reject) => {
        const req = http.request({ host: KERNEL, port: 8081, path: "/", createConnection: () => connect(stack, { host: KERNEL, port: 8081 }) }, (res) => {
          let text = "";
          res.setEncoding("utf8").on("data", (d: string) => {
            text += d;
          });
          res.on("end", () => resolve(text));
        });
        req.on("error", reject);
        req.end();
      });
      expect(body).toBe(`${NETLAB} IPv6`);
      expect(stack.tcp6!.layer.stats.segmentsSent).toBeGreaterThan(0);
      expect(tsharkOffending(lab, [KERNEL])).toEqual([]);
      httpServer.closeAllConnections();
      server.close();
    });
  });
});
