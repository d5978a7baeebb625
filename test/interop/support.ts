// Shared machinery of the interop suite: why a test must skip, and a "lab" = a tap held by
// this process whose kernel end sits in a fresh namespace, with captures on both sides.
// interopSkipReason(tools): undefined when the suite can run here, else a plain reason.
// report(line), writeRandomFile(path, size), hashBody(body): the suite's tagged stderr line; a
//   pseudo-random file and its sha256; an HTTP body's length and sha256.
// fetchHelloAndLarge(client, host, hello, large): netlab's client gets both files of a kernel-side http.server.
// withTapLab(name, options, fn): namespace + tap + kernel address + captures; always cleans up;
//   when fn throws, keeps the kernel-side (tcpdump) and netlab-side (pcapng) captures and
//   appends their paths to the error message.
import { accessSync, constants, mkdirSync, openSync, closeSync, writeSync, rmSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { withCapture } from "../../stack/link/capture.ts";
import { createPcapngWriter } from "../../stack/link/pcap/pcapng.ts";
import { expect } from "vitest";
import type { HttpClient, HttpHost, IncomingBody } from "../../stack/app/http/index.ts";
import type { NetDevice } from "../../stack/link/types.ts";
import { createRealClock, type RealClock } from "../../harness/time/real-clock.ts";
import { openTap, type TapDevice, type TapOptions } from "../../harness/tap/index.ts";
import { checkCaptureWithTshark } from "../../harness/oracle/tshark.ts";
import { createNetns, missingTools, sweepStaleNetns, type Netns, type NetnsProcess } from "../../harness/netns/index.ts";

/** Why interop tests cannot run on this machine, or undefined if they can. */
export function interopSkipReason(tools: readonly string[] = []): string | undefined {
  if (process.platform !== "linux") return "interop tests need Linux";
  if (process.getuid?.() !== 0) return "interop tests need root (tap devices and network namespaces)";
  try {
    accessSync("/dev/net/tun", constants.R_OK | constants.W_OK);
  } catch {
    return "/dev/net/tun is missing (modprobe tun)";
  }
  const missing = missingTools(["ip", ...tools]);
  if (missing.length > 0) return `missing tools: ${missing.join(", ")} (run npm run setup)`;
  return undefined;
}

/** Prints the skip reason once per file, so a skipped suite says why in the test output. */
export function announceSkip(suite: string, reason: string | undefined): boolean {
  if (reason !== undefined) process.stderr.write(`[interop] skipping ${suite}: ${reason}\n`);
  return reason !== undefined;
}

/** Options of withTapLab(). */
export interface TapLabOptions {
  /** Kernel-side address (default 192.0.2.1/24; null: none, e.g. for a DHCP client there). */
  readonly kernelCidr?: string | null;
  readonly tap?: Omit<TapOptions, "name">;
  /** tcpdump snap length (default 256). */
  readonly snaplen?: number;
  /** Turn off kernel-side offloads (default true). */
  readonly offloadsOff?: boolean;
  /** Capture on both sides (default true). */
  readonly capture?: boolean;
  /** Leave IPv6 on on the kernel's interface (default false: a quiet wire without its RS and DAD). */
  readonly ipv6?: boolean;
}

/** What a lab gives the test body. */
export interface TapLab {
  readonly ns: Netns;
  readonly tap: TapDevice;
  /** The tap wrapped so every frame is captured: give this one to the stack. */
  readonly device: NetDevice;
  readonly clock: RealClock;
  /** Kernel interface name inside ns (same as tap.name). */
  readonly ifname: string;
  /** MAC of the kernel end. */
  readonly kernelMac: string;
  /** IPv4 address of the kernel end (undefined when kernelCidr is null). */
  readonly kernelAddress: string | undefined;
  /** Path of netlab's own capture (pcapng), when capturing. */
  readonly netlabCapture: string | undefined;
  /** Writes buffered capture bytes to netlabCapture. */
  flushCapture(): void;
  /** Directory for this test's files (captures, lease files); kept when the test fails. */
  readonly dir: string;
  /** Starts a background command in the namespace; stopped at cleanup. */
  spawn(command: string, args: readonly string[]): NetnsProcess;
}

const ARTIFACTS = process.env["NETLAB_ARTIFACTS"] ?? join(tmpdir(), "netlab-interop");

/** Removes namespaces left by dead test processes (once per process is enough). */
let swept: Promise<unknown> | undefined;

/** Runs fn in a fresh lab; removes everything afterwards; keeps captures if fn throws. */
export async function withTapLab<T>(testName: string, options: TapLabOptions, fn: (lab: TapLab) => Promise<T>): Promise<T> {
  swept ??= sweepStaleNetns().catch(() => undefined);
  await swept;
  const slug = testName.replace(/[^a-z0-9]+/gi, "-").slice(0, 60);
  const dir = join(ARTIFACTS, `${slug}-${Date.now()}-${randomBytes(2).toString("hex")}`);
  const capture = options.capture ?? true;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const ifname = `nlt${randomBytes(4).toString("hex")}`;
  const clock = createRealClock();
  const ns = await createNetns();
  let tap: TapDevice | undefined;
  let pcapFd: number | undefined;
  let flushCapture = (): void => undefined;
  let tcpdump: NetnsProcess | undefined;
  let failed = false;
  try {
    tap = await openTap({ name: ifname, ...options.tap });
    await ns.adoptLink(ifname);
    await ns.configureLink(ifname, {
      addresses: options.kernelCidr === null ? [] : [options.kernelCidr ?? "192.0.2.1/24"],
      offloadsOff: options.offloadsOff ?? true,
      disableIpv6: options.ipv6 !== true,
    });
    const link = JSON.parse(await ns.ip("-j", "link", "show", "dev", ifname)) as Array<{ address: string }>;
    let device: NetDevice = tap;
    if (capture) {
      const snaplen = options.snaplen ?? 256;
      tcpdump = ns.spawn("tcpdump", ["-i", ifname, "-n", "-U", "--immediate-mode", "-s", String(snaplen), "-w", join(dir, "kernel-side.pcap")]);
      await tcpdump.waitFor(/listening on/, 5000);
      const fd = openSync(join(dir, "netlab-side.pcapng"), "w");
      pcapFd = fd;
      let pending: Uint8Array[] = [];
      let pendingBytes = 0;
      flushCapture = () => {
        if (pendingBytes === 0) return;
        writeSync(fd, Buffer.concat(pending, pendingBytes));
        pending = [];
        pendingBytes = 0;
      };
      const flush = flushCapture;
      const writer = createPcapngWriter(
        (chunk) => {
          pending.push(chunk.slice());
          pendingBytes += chunk.length;
          if (pendingBytes >= 1 << 20) flush();
        },
        { snaplen, timeOffsetMs: clock.epochMs },
      );
      device = withCapture(tap, writer, { clock, name: ifname });
    }
    const lab: TapLab = {
      ns,
      tap,
      device,
      clock,
      ifname,
      kernelMac: link[0]?.address ?? "",
      kernelAddress: options.kernelCidr === null ? undefined : (options.kernelCidr ?? "192.0.2.1/24").split("/")[0],
      netlabCapture: capture ? join(dir, "netlab-side.pcapng") : undefined,
      flushCapture: () => flushCapture(),
      dir,
      spawn: (c, a) => ns.spawn(c, a),
    };
    return await fn(lab);
  } catch (e) {
    failed = true;
    if (capture && e instanceof Error) {
      e.message += `\n[interop] captures kept in ${dir} (kernel-side.pcap from tcpdump, netlab-side.pcapng from the stack)`;
    }
    throw e;
  } finally {
    clock.close();
    await tcpdump?.stop("SIGINT", 2000);
    await tap?.close();
    await ns.remove();
    flushCapture();
    if (pcapFd !== undefined) closeSync(pcapFd);
    if (!failed && process.env["NETLAB_KEEP_CAPTURES"] === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

/** Resolves when `predicate` holds, polling every intervalMs; rejects after timeoutMs. */
export async function waitUntil(predicate: () => boolean, timeoutMs: number, what: string, intervalMs = 5): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Runs tshark's well-formedness filter over netlab's capture; returns offending packet lines.
 * `kernelIpv6`: the v6 addresses the test gave the kernel's side, forgiven as its IPv4 one is.
 */
export function tsharkOffending(lab: TapLab, kernelIpv6: readonly string[] = []): string[] {
  if (lab.netlabCapture === undefined) return [];
  lab.flushCapture();
  // The kernel checksums in software here (offloads off) and, like skb_checksum_help,
  // writes 0xFFFF for a sum of 0x0000 about once in 65,536 segments: not netlab's fault.
  const kernel = [...(lab.kernelAddress === undefined ? [] : [lab.kernelAddress]), ...kernelIpv6];
  return checkCaptureWithTshark(lab.netlabCapture, { acceptTcpChecksumFfffFrom: kernel }).offending;
}

/** Hex of bytes (for readable byte assertions). */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** Writes a line to stderr, tagged like the rest of the interop suite. */
export function report(line: string): void {
  process.stderr.write(`[interop] ${line}\n`);
}

/** Writes `size` pseudo-random bytes (xorshift32) to path in 1 MiB pieces; returns their sha256. */
export function writeRandomFile(path: string, size: number): string {
  const hash = createHash("sha256");
  const fd = openSync(path, "w");
  try {
    const piece = new Uint8Array(1 << 20);
    const view = new DataView(piece.buffer);
    let x = 0x9e3779b9;
    for (let done = 0; done < size; done += piece.length) {
      const n = Math.min(piece.length, size - done);
      for (let i = 0; i + 4 <= n; i += 4) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        view.setUint32(i, x >>> 0);
      }
      hash.update(piece.subarray(0, n));
      writeSync(fd, piece, 0, n);
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

/**
 * netlab's HTTP client fetches /hello.txt (whose text must be `hello`) and /large.bin (`large.size`
 * bytes, sha256 `large.sha256`) from port 8000 of `host`; resolves with the seconds the large one took.
 */
export async function fetchHelloAndLarge(client: HttpClient, host: HttpHost, hello: string, large: { size: number; sha256: string }): Promise<number> {
  const small = await client.request({ host, port: 8000, path: "/hello.txt" });
  expect(small.status).toBe(200);
  expect(new TextDecoder().decode(await small.body.bytes())).toBe(hello);
  const start = performance.now();
  const res = await client.request({ host, port: 8000, path: "/large.bin", timeoutMs: 60_000 });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-length")).toBe(String(large.size));
  const got = await hashBody(res.body);
  const seconds = (performance.now() - start) / 1000;
  expect(got).toEqual({ bytes: large.size, sha256: large.sha256 });
  return seconds;
}

/** Reads an HTTP body through sha256; resolves with its length and hex digest. */
export function hashBody(body: IncomingBody): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash("sha256");
  let bytes = 0;
  return new Promise((resolve, reject) => {
    body.onData((d) => {
      hash.update(d);
      bytes += d.length;
    });
    body.onEnd(() => resolve({ bytes, sha256: hash.digest("hex") }));
    body.onError(reject);
  });
}
