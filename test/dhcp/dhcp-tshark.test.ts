// The DHCP exchange netlab writes, as tshark dissects it: well-formed, and the fields a real
// peer looks at (message types, server identifier, requested address, client id, flags).
import { describe, it, expect } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { createVirtualClock, createRng } from "../../stack/time.ts";
import { createStack } from "../../stack/index.ts";
import { createSwitch } from "../../stack/link/switch.ts";
import { withCapture } from "../../stack/link/capture.ts";
import { dhcpClientOnStack, dhcpServerOnStack } from "../../stack/app/dhcp/index.ts";
import { createCaptureFile } from "../../harness/pcap/files.ts";
import { checkCaptureWithTshark, tsharkFields, tsharkMissingReason } from "../../harness/oracle/tshark.ts";

const ip = (s: string): number => s.split(".").reduce((a, x) => a * 256 + Number(x), 0) >>> 0;
const missing = tsharkMissingReason();

describe.skipIf(missing !== undefined)(`DHCP capture checked by tshark${missing ? ` (skipped: ${missing})` : ""}`, () => {
  it("DORA, renew and release are well formed and carry the fields dhclient and dnsmasq expect", () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-dhcp-pcap-"));
    try {
      const clock = createVirtualClock();
      const sw = createSwitch({ clock, rng: createRng(1) });
      const server = createStack({ device: sw.addPort({ mac: 0x020000000001 }), clock, rng: createRng(2) }, { ipv4: { cidr: "192.0.2.1/24" } });
      dhcpServerOnStack(server, {
        pools: [
          {
            subnet: { address: ip("192.0.2.0"), prefixLength: 24 },
            rangeStart: ip("192.0.2.100"),
            rangeEnd: ip("192.0.2.110"),
            gateway: ip("192.0.2.1"),
            dnsServers: [ip("192.0.2.53")],
            leaseTime: 600,
          },
        ],
      });
      const file = createCaptureFile(join(dir, "dhcp.pcapng"));
      const device = withCapture(sw.addPort({ mac: 0x020000000010 }), file.sink, { clock, name: "client" });
      const stack = createStack({ device, clock, rng: createRng(3) });
      const client = dhcpClientOnStack(stack, { hostName: "node1", initDelayMinMs: 0, initDelayMaxMs: 0 }, { probe: false });
      client.start();
      clock.run(400 * 1000);
      client.stop();
      clock.run(clock.now() + 1000);
      file.close();

      const verdict = checkCaptureWithTshark(file.path);
      expect(verdict.offending).toEqual([]);
      const rows = tsharkFields(
        file.path,
        [
          "dhcp.option.dhcp",
          "ip.src",
          "ip.dst",
          "dhcp.option.dhcp_server_id",
          "dhcp.option.requested_ip_address",
          "dhcp.ip.client",
          "dhcp.ip.your",
          "dhcp.flags.bc",
          "dhcp.option.hostname",
        ],
        "dhcp",
      );
      expect(rows.map((r) => r[0])).toEqual(["1", "2", "3", "5", "3", "5", "7"]);
      const [discover, offer, request, ack, renew, renewAck, release] = rows;
      expect(discover!.slice(1, 3)).toEqual(["0.0.0.0", "255.255.255.255"]);
      expect(discover![8]).toBe("node1");
      expect(offer![6]).toBe("192.0.2.100");
      expect(request!.slice(3, 5)).toEqual(["192.0.2.1", "192.0.2.100"]);
      expect(ack![6]).toBe("192.0.2.100");
      expect(renew!.slice(1, 6)).toEqual(["192.0.2.100", "192.0.2.1", "", "", "192.0.2.100"]);
      expect(renewAck!.slice(1, 3)).toEqual(["192.0.2.1", "192.0.2.100"]);
      expect(release!.slice(1, 4)).toEqual(["192.0.2.100", "192.0.2.1", "192.0.2.1"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
