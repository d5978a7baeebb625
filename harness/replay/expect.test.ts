import { describe, expect, it } from "vitest";
import { parseExpectation } from "./expect.ts";

const BASE = {
  capture: "x.pcapng.gz",
  source: "kernel",
  modes: ["decode", "conversation"],
  decode: { frames: 3 },
  endpoint: { mac: "02:00:00:00:00:02", cidr: "192.0.2.2/24", seed: 1, apps: [{ kind: "echo", port: 7 }] },
  conversation: { clockStartMs: 10, epochMs: 1e12, normalise: ["tcp-isn"] },
};

describe("expectation files", () => {
  it("parseExpectation() fills defaults (tolerance 2 ms, no tail, empty decode tables)", () => {
    const r = parseExpectation(BASE);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.decode).toEqual({ frames: 3, errors: {}, reemitMismatches: {} });
    expect(r.value.conversation).toEqual({ clockStartMs: 10, epochMs: 1e12, normalise: ["tcp-isn"], tsToleranceMs: 2, tailMs: 0 });
    expect(r.value.endpoint?.apps).toEqual([{ kind: "echo", port: 7 }]);
  });

  it.each([
    [{ ...BASE, modes: ["decode", "replay"] }, "modes[1]: unknown mode 'replay'"],
    [{ ...BASE, conversation: { ...BASE.conversation, normalise: ["tcp-isn", "tcp-ttl"] } }, "conversation.normalise[1]: unknown normalisation 'tcp-ttl'"],
    [{ ...BASE, endpoint: { ...BASE.endpoint, mac: "02:00" } }, "endpoint.mac: '02:00' is not a MAC address"],
    [{ ...BASE, endpoint: { ...BASE.endpoint, apps: [{ kind: "echo", port: 70000 }] } }, "endpoint.apps[0].port: must be a number in [1, 65535]"],
    [{ ...BASE, endpoint: { ...BASE.endpoint, apps: [{ kind: "ftp", port: 21 }] } }, "endpoint.apps[0].kind: unknown app 'ftp'"],
    [{ ...BASE, capture: "../etc/passwd" }, "capture: must be a file name next to the expectation file"],
    [{ ...BASE, conversation: undefined }, "conversation: mode conversation needs a conversation section"],
    [{ ...BASE, endpoint: { ...BASE.endpoint, apps: [{ kind: "dhcp-server", config: { pools: [] } }] } }, "endpoint.apps[0].config"],
    [[], "expectation: must be an object"],
  ])("parseExpectation() names the bad field (%#)", (json, message) => {
    const r = parseExpectation(json);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toBe("invalid-expectation");
    expect(r.detail).toContain(message);
  });
});
