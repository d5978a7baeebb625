// The tap device against the real kernel (root only) plus its error paths.
import { execFileSync, spawnSync } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { pbkdf2 } from "node:crypto";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { openTap, TAP_KERNEL_QUEUE, TapError } from "./index.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TAP_MODULE = fileURLToPath(new URL("./index.ts", import.meta.url));

function rootSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root";
  try {
    accessSync("/dev/net/tun", constants.R_OK | constants.W_OK);
  } catch {
    return "no /dev/net/tun";
  }
  return undefined;
}
const skipReason = rootSkipReason();
if (skipReason) process.stderr.write(`[tap] skipping kernel-backed tap tests: ${skipReason}\n`);

const uniqueName = (): string => `nlu${process.pid.toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`.slice(0, 15);

function linkExists(name: string): boolean {
  return spawnSync("ip", ["link", "show", "dev", name], { stdio: "ignore" }).status === 0;
}

/** Runs a small ES module (plain JS that may import .ts through tsx) in a child node process,
 * optionally as another user or behind a command prefix (e.g. unshare). */
function runChild(source: string, uid?: number, prefix: readonly string[] = []): { status: number | null; stdout: string; ms: number } {
  const start = performance.now();
  const node = [process.execPath, "--import", "tsx", "--input-type=module", "-e", source];
  const argv = [...prefix, ...(uid === undefined ? [] : ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups"]), ...node];
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
  return { status: r.status, stdout: r.stdout + r.stderr, ms: performance.now() - start };
}

describe("openTap() errors", () => {
  it("rejects names the kernel cannot hold with TAP_BAD_NAME before touching the system", async () => {
    await expect(openTap({ name: "a-name-longer-than-15" })).rejects.toMatchObject({ code: "TAP_BAD_NAME" });
    await expect(openTap({ name: "bad name" })).rejects.toMatchObject({ code: "TAP_BAD_NAME" });
    await expect(openTap({ name: "a/b" })).rejects.toBeInstanceOf(TapError);
  });

  it.skipIf(skipReason !== undefined || spawnSync("which", ["setpriv"]).status !== 0)("reports TAP_PERMISSION to an unprivileged user", () => {
    const r = runChild(
      `import { openTap } from ${JSON.stringify(TAP_MODULE)};
        try { await openTap({ name: "nlperm0" }); console.log("opened"); } catch (e) { console.log("code=" + e.code); }`,
      65534,
    );
    expect(r.stdout).toContain("code=TAP_PERMISSION");
  });

  it.skipIf(skipReason !== undefined || spawnSync("which", ["unshare"]).status !== 0)("reports TAP_NO_DEVICE when /dev/net/tun is missing", () => {
    const source = `import { openTap } from ${JSON.stringify(TAP_MODULE)};
        try { await openTap({ name: "nlnodev0" }); console.log("opened"); } catch (e) { console.log("code=" + e.code + " " + e.message); }`;
    // A private mount namespace where an empty tmpfs hides /dev/net.
    const r = runChild(source, undefined, ["unshare", "--mount", "--propagation", "private", "sh", "-c", 'mount -t tmpfs none /dev/net && exec "$@"', "sh"]);
    expect(r.stdout).toContain("code=TAP_NO_DEVICE /dev/net/tun is missing");
  });
});

describe.skipIf(skipReason)("a tap device on this kernel", () => {
  it("creates the named interface, reports TAP_NAME_TAKEN for a second opener and for a non-tap name, and removes it on close", async () => {
    const name = uniqueName();
    const tap = await openTap({ name });
    try {
      expect(tap.name).toBe(name);
      expect(linkExists(name)).toBe(true);
      expect(tap.mtu).toBe(1500);
      expect(tap.offloads).toEqual({ txChecksum: false, tso: false, maxGsoFrame: 0 });
      expect(Math.floor(tap.mac / 2 ** 40) & 0x03).toBe(0x02);
      await expect(openTap({ name })).rejects.toMatchObject({ code: "TAP_NAME_TAKEN", errno: 16 });
      await expect(openTap({ name: "lo" })).rejects.toMatchObject({ code: "TAP_NAME_TAKEN", errno: 22 });
    } finally {
      await tap.close();
    }
    expect(tap.closed).toBe(true);
    expect(linkExists(name)).toBe(false);
  });

  it("sets the kernel's queue for the reader (txqueuelen) to TAP_KERNEL_QUEUE or the length asked for, and refuses a non-positive one", async () => {
    const queueLength = (n: string): number => Number(readFileSync(`/sys/class/net/${n}/tx_queue_len`, "utf8"));
    const a = await openTap({ name: uniqueName() });
    const b = await openTap({ name: uniqueName(), kernelQueue: 2048 });
    try {
      expect(queueLength(a.name)).toBe(TAP_KERNEL_QUEUE);
      expect(queueLength(b.name)).toBe(2048);
    } finally {
      await a.close();
      await b.close();
    }
    await expect(openTap({ name: uniqueName(), kernelQueue: 0 })).rejects.toMatchObject({ code: "TAP_OPEN_FAILED" });
  });

  it("lets the kernel pick a name, and advertises checksum and TSO offload when asked", async () => {
    const tap = await openTap({ txOffloads: true });
    try {
      expect(tap.name).toMatch(/^tap\d+$/);
      expect(tap.offloads).toEqual({ txChecksum: true, tso: true, maxGsoFrame: 65535 });
    } finally {
      await tap.close();
    }
  });

  it("closes within a second (the wake pipe ends the reader's poll) and counts frames sent while the interface is down as dropped", async () => {
    const tap = await openTap({ name: uniqueName() });
    tap.send({ data: new Uint8Array(60) });
    expect(tap.counters).toEqual({ txFrames: 0, txBytes: 0, rxFrames: 0, rxBytes: 0, dropped: 1, shedSyns: 0 });
    const start = performance.now();
    await tap.close();
    expect(performance.now() - start).toBeLessThan(1000);
    tap.send({ data: new Uint8Array(60) });
    expect(tap.counters.dropped).toBe(2);
  });

  it("gives a recycled frame buffer back exactly once, whether the frame was written or dropped", async () => {
    const tap = await openTap({ name: uniqueName() });
    try {
      let released = 0;
      // Interface down: the write fails with EIO and the frame is dropped, still released.
      tap.send({
        data: new Uint8Array(60),
        release: () => {
          released++;
        },
      });
      expect(released).toBe(1);
      // Larger than the tap's buffer: dropped before any copy, still released.
      tap.send({
        data: new Uint8Array(1 << 20),
        release: () => {
          released++;
        },
      });
      expect(released).toBe(2);
      expect(tap.counters.dropped).toBe(2);
    } finally {
      await tap.close();
    }
  });

  it("leaves libuv's thread pool free while eight taps wait for frames", async () => {
    const taps = await Promise.all(Array.from({ length: 8 }, () => openTap({ name: uniqueName() })));
    try {
      const start = performance.now();
      await Promise.all(
        Array.from({ length: 8 }, () => new Promise<void>((resolve, reject) => pbkdf2("x", "y", 1, 32, "sha256", (e) => (e ? reject(e) : resolve())))),
      );
      expect(performance.now() - start).toBeLessThan(1000);
    } finally {
      await Promise.all(taps.map((t) => t.close()));
    }
  });

  it("lets a process with an unref()ed open tap exit by itself, and keeps a ref()ed one alive until close()", () => {
    const name = uniqueName();
    const unrefd = runChild(`import { openTap } from ${JSON.stringify(TAP_MODULE)};
      const tap = await openTap({ name: ${JSON.stringify(name)} }); tap.unref(); console.log("open " + tap.name);`);
    expect(unrefd.status).toBe(0);
    expect(unrefd.stdout).toContain(`open ${name}`);
    expect(unrefd.ms).toBeLessThan(10_000);
    const closed = runChild(`import { openTap } from ${JSON.stringify(TAP_MODULE)};
      const tap = await openTap({ name: ${JSON.stringify(name)} });
      setTimeout(() => { void tap.close().then(() => console.log("closed")); }, 200);`);
    expect(closed.status).toBe(0);
    expect(closed.stdout).toContain("closed");
    expect(linkExists(name)).toBe(false);
  });

  it("reports TAP_CLOSED through onError when the kernel removes the interface", async () => {
    const name = uniqueName();
    const tap = await openTap({ name });
    const ns = `nl-test-${process.pid}-tapgone`;
    execFileSync("ip", ["netns", "add", ns]);
    try {
      const gone = new Promise<TapError>((resolve) => tap.onError(resolve));
      execFileSync("ip", ["link", "set", name, "netns", ns]);
      execFileSync("ip", ["netns", "del", ns]);
      const error = await Promise.race([gone, new Promise<undefined>((r) => setTimeout(r, 3000, undefined))]);
      expect(error).toMatchObject({ code: "TAP_CLOSED" });
      expect(tap.closed).toBe(true);
    } finally {
      spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
      await tap.close();
    }
  });
});
