// A Linux tap device as a NetDevice: the kernel is the peer on the other end of the wire.
// openTap(options): opens /dev/net/tun (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR), non-blocking;
//   a reader thread polls the fd and fills a shared ring, the main thread drains it in
//   batches; send() writes synchronously (a non-blocking write of one frame).
// TapDevice: NetDevice + name, counters, ref()/unref() (like a socket), close().
// TapError codes: TAP_NO_DEVICE, TAP_PERMISSION, TAP_NAME_TAKEN, TAP_BAD_NAME, TAP_UNSUPPORTED,
//   TAP_OPEN_FAILED, TAP_CLOSED.
import { randomBytes } from "node:crypto";
import { Worker } from "node:worker_threads";
import type { DeviceCounters, Frame, NetDevice, Offloads } from "../../stack/link/types.ts";
import { NO_OFFLOADS } from "../../stack/link/types.ts";
import type { MacAddress } from "../../stack/wire/address.ts";
import { koffiPath, loadLibc, type Libc } from "./libc.ts";
import { parseVnetReceive, VNET_HDR_LEN, writeVnetHeader } from "./vnet-header.ts";
import { NetlabError } from "../../stack/error.ts";

const TUN_PATH = "/dev/net/tun";
const O_RDWR = 2,
  O_NONBLOCK = 0o4000,
  O_CLOEXEC = 0o2000000;
const TUNSETIFF = 0x400454ca,
  TUNSETOFFLOAD = 0x400454d0;
const IFF_TAP = 0x0002,
  IFF_NO_PI = 0x1000,
  IFF_VNET_HDR = 0x4000;
const TUN_F_CSUM = 0x01,
  TUN_F_TSO4 = 0x02;
const SIOCSIFTXQLEN = 0x8943,
  AF_INET = 2,
  SOCK_DGRAM = 2;
/**
 * Frames the kernel may queue on the tap for the reader thread (its txqueuelen; the kernel's
 * default is 1000). The reader is a thread the scheduler can set aside for a tick or more, unlike
 * the softirq that drains a real NIC: under a 150k frames/s SYN flood on two busy cores, 1000
 * frames overflowed and dropped 19-32% of all frames (known clients' SYNs too, which then waited
 * 1 s to retransmit) where 10,000 dropped 4-9% (measured with test/interop/syn-flood.test.ts's
 * setup). 10,000 queued SYNs are ~8 MB of kernel memory; full-size frames ~23 MB.
 */
export const TAP_KERNEL_QUEUE = 10_000;
const IFNAMSIZ = 16,
  IFREQ_LEN = 40;
const ENOENT = 2,
  EIO = 5,
  EAGAIN = 11,
  EACCES = 13,
  EBUSY = 16,
  ENODEV = 19,
  EINVAL = 22,
  EPERM = 1,
  EBADFD = 77;
const HEAD = 0,
  TAIL = 1,
  STOP = 2,
  MAIN_IDLE = 3,
  SHED_SYN = 4;
/** Largest frame (with Ethernet header) accepted with gsoSize when tx offloads are on. */
export const TAP_MAX_GSO_FRAME = 65535;

/** Stable codes of the errors openTap() and TapDevice throw. */
export type TapErrorCode = "TAP_NO_DEVICE" | "TAP_PERMISSION" | "TAP_NAME_TAKEN" | "TAP_BAD_NAME" | "TAP_UNSUPPORTED" | "TAP_OPEN_FAILED" | "TAP_CLOSED";

/** An Error with a stable `code` (and the errno behind it, when there is one). */
export class TapError extends NetlabError {
  declare readonly code: TapErrorCode;
  constructor(
    code: TapErrorCode,
    message: string,
    readonly errno?: number,
  ) {
    super(code, message);
    this.name = "TapError";
  }
}

/** Options of openTap(). */
export interface TapOptions {
  /** Interface name (1..15 bytes); a kernel-chosen name `tap%d` when omitted. */
  readonly name?: string;
  /** MAC address of the stack's end of the wire (default: random, locally administered). */
  readonly mac?: MacAddress;
  /** IP MTU the device reports (default 1500). */
  readonly mtu?: number;
  /** Exchange virtio_net_hdr metadata with the kernel (default true). */
  readonly vnetHdr?: boolean;
  /** Advertise checksum and TSO offload to the stack; the kernel completes/segments (default false). */
  readonly txOffloads?: boolean;
  /** Let the kernel hand over partial checksums and GSO frames (default false: it finishes them). */
  readonly rxOffloads?: boolean;
  /** Frames the receive ring holds (default 1024). */
  readonly ringSlots?: number;
  /** Frames delivered per main-thread turn before yielding to the event loop (default 256). */
  readonly deliverBudget?: number;
  /** Upper bound of one poll(2) wait in the reader thread, ms (default 250). */
  readonly pollTimeoutMs?: number;
  /**
   * Frames that may wait in the ring before the reader thread drops TCP SYNs from sources it has
   * not seen complete a handshake (default a quarter of ringSlots; ringSlots turns shedding off).
   */
  readonly synSlots?: number;
  /**
   * Frames the kernel may queue for the reader (the interface's txqueuelen; default
   * TAP_KERNEL_QUEUE). Setting it needs CAP_NET_ADMIN: for a tap created beforehand and opened
   * without it, the default is skipped and the kernel's own length kept; an explicit value fails.
   */
  readonly kernelQueue?: number;
}

/** A tap's counters: a device's, and the SYNs the reader thread shed under a flood. */
export interface TapCounters extends DeviceCounters {
  /** TCP SYNs from unknown sources dropped because the ring held synSlots frames or more. */
  readonly shedSyns: number;
}

/** A tap device: a NetDevice with a kernel interface on the other end. */
export interface TapDevice extends NetDevice {
  /** The kernel interface name. */
  readonly name: string;
  /** Counters since open (dropped: frames the kernel refused or the ring had no room for). */
  readonly counters: Readonly<TapCounters>;
  /** True once close() was called or the kernel removed the interface. */
  readonly closed: boolean;
  /** Keeps the process alive while open (the default). */
  ref(): this;
  /** Lets the process exit while the tap is open. */
  unref(): this;
  /** Called once if the kernel side goes away (e.g. its namespace was deleted). */
  onError(handler: (error: TapError) => void): void;
  /** Stops the reader thread, then closes the fd; the kernel removes a non-persistent tap. */
  close(): Promise<void>;
}

function randomMac(): MacAddress {
  const b = randomBytes(6);
  b[0] = (b[0]! & 0xfe) | 0x02;
  return b.readUIntBE(0, 6);
}

function openError(errno: number, name: string, step: "open" | "ioctl"): TapError {
  if (step === "open") {
    if (errno === ENOENT || errno === ENODEV) return new TapError("TAP_NO_DEVICE", `${TUN_PATH} is missing (load the tun module: modprobe tun)`, errno);
    if (errno === EACCES || errno === EPERM)
      return new TapError("TAP_PERMISSION", `no permission to open ${TUN_PATH} (run as root or with CAP_NET_ADMIN)`, errno);
    return new TapError("TAP_OPEN_FAILED", `open(${TUN_PATH}) failed with errno ${errno}`, errno);
  }
  if (errno === EPERM || errno === EACCES) return new TapError("TAP_PERMISSION", `creating tap '${name}' needs CAP_NET_ADMIN (run as root)`, errno);
  if (errno === EBUSY) return new TapError("TAP_NAME_TAKEN", `tap '${name}' is already attached by another process`, errno);
  if (errno === EINVAL) return new TapError("TAP_NAME_TAKEN", `interface '${name}' exists and is not a tap (or has other flags)`, errno);
  return new TapError("TAP_OPEN_FAILED", `TUNSETIFF '${name}' failed with errno ${errno}`, errno);
}

/** Opens (creating if needed) a tap interface. Throws TapError. */
export async function openTap(options: TapOptions = {}): Promise<TapDevice> {
  const requested = options.name ?? "";
  const nameBytes = new TextEncoder().encode(requested);
  if (nameBytes.length >= IFNAMSIZ || /[\s/:]/.test(requested)) {
    throw new TapError("TAP_BAD_NAME", `bad interface name '${requested}' (1..15 bytes, no space, '/' or ':')`);
  }
  for (const [key, value] of [
    ["ringSlots", options.ringSlots],
    ["synSlots", options.synSlots],
    ["kernelQueue", options.kernelQueue],
  ] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1))
      throw new TapError("TAP_OPEN_FAILED", `${key} must be a positive integer (got ${value})`);
  }
  const libc = loadLibc();
  const vnetHdr = options.vnetHdr ?? true;
  const txOffloads = vnetHdr && (options.txOffloads ?? false);
  const rxOffloads = vnetHdr && (options.rxOffloads ?? false);

  const fd = libc.open(TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC, "int", 0);
  if (fd < 0) throw openError(libc.errno(), requested, "open");
  const ifr = new Uint8Array(IFREQ_LEN);
  ifr.set(nameBytes);
  const flags = IFF_TAP | IFF_NO_PI | (vnetHdr ? IFF_VNET_HDR : 0);
  ifr[IFNAMSIZ] = flags & 0xff;
  ifr[IFNAMSIZ + 1] = flags >>> 8;
  if (libc.ioctl(fd, TUNSETIFF, "void *", ifr) < 0) {
    const e = libc.errno();
    libc.close(fd);
    throw openError(e, requested, "ioctl");
  }
  const end = ifr.indexOf(0);
  const name = new TextDecoder().decode(ifr.subarray(0, end < 0 ? IFNAMSIZ : Math.min(end, IFNAMSIZ)));
  const offloadFlags = rxOffloads ? TUN_F_CSUM | TUN_F_TSO4 : 0;
  if (vnetHdr && libc.ioctl(fd, TUNSETOFFLOAD, "unsigned int", offloadFlags) < 0) {
    const e = libc.errno();
    libc.close(fd);
    throw new TapError("TAP_OPEN_FAILED", `TUNSETOFFLOAD on '${name}' failed with errno ${e}`, e);
  }
  const queueError = setKernelQueue(libc, ifr.subarray(0, IFNAMSIZ), options.kernelQueue ?? TAP_KERNEL_QUEUE);
  if (queueError !== 0 && (options.kernelQueue !== undefined || (queueError !== EPERM && queueError !== EACCES))) {
    libc.close(fd);
    throw new TapError(
      "TAP_OPEN_FAILED",
      `setting txqueuelen of '${name}' to ${options.kernelQueue ?? TAP_KERNEL_QUEUE} failed with errno ${queueError}`,
      queueError,
    );
  }
  const wake = [0, 0];
  if (libc.pipe2(wake, O_NONBLOCK | O_CLOEXEC) < 0) {
    const e = libc.errno();
    libc.close(fd);
    throw new TapError("TAP_OPEN_FAILED", `pipe2 failed with errno ${e}`, e);
  }
  return createTapDevice(libc, fd, wake[0]!, wake[1]!, name, options, { vnetHdr, txOffloads, rxOffloads });
}

/** SIOCSIFTXQLEN on the interface named by `name` (its ifreq name bytes); 0 or the errno. */
function setKernelQueue(libc: Libc, name: Uint8Array, frames: number): number {
  const sock = libc.socket(AF_INET, SOCK_DGRAM, 0);
  if (sock < 0) return libc.errno();
  const ifr = new Uint8Array(IFREQ_LEN);
  ifr.set(name);
  new DataView(ifr.buffer).setInt32(IFNAMSIZ, frames, true);
  const r = libc.ioctl(sock, SIOCSIFTXQLEN, "void *", ifr);
  const e = r < 0 ? libc.errno() : 0;
  libc.close(sock);
  return e;
}

function createTapDevice(
  libc: Libc,
  fd: number,
  wakeRead: number,
  wakeWrite: number,
  name: string,
  options: TapOptions,
  mode: { vnetHdr: boolean; txOffloads: boolean; rxOffloads: boolean },
): TapDevice {
  const mtu = options.mtu ?? 1500;
  const hdrLen = mode.vnetHdr ? VNET_HDR_LEN : 0;
  const maxFrame = mode.rxOffloads ? 65550 : Math.max(mtu, 1500) + 14 + 4;
  const slotSize = (hdrLen + maxFrame + 7) & ~7;
  const slots = options.ringSlots ?? 1024;
  const budget = options.deliverBudget ?? 256;
  const ctlBuffer = new SharedArrayBuffer(64);
  const ringBuffer = new SharedArrayBuffer(slots * slotSize);
  const lengthsBuffer = new SharedArrayBuffer(slots * 4);
  const ctl = new Int32Array(ctlBuffer);
  const ring = new Uint8Array(ringBuffer);
  const lengths = new Int32Array(lengthsBuffer);
  ctl[MAIN_IDLE] = 1;

  const synSlots = options.synSlots ?? Math.max(1, slots >>> 2);
  const counters = {
    txFrames: 0,
    txBytes: 0,
    rxFrames: 0,
    rxBytes: 0,
    dropped: 0,
    get shedSyns(): number {
      return Atomics.load(ctl, SHED_SYN);
    },
  };
  const offloads: Offloads = mode.txOffloads ? Object.freeze({ txChecksum: true, tso: true, maxGsoFrame: TAP_MAX_GSO_FRAME }) : NO_OFFLOADS;
  const txBuffer = new Uint8Array(hdrLen + TAP_MAX_GSO_FRAME + 64);
  const txHeader = txBuffer.subarray(0, hdrLen);
  let handler: ((frame: Frame) => void) | undefined;
  let errorHandler: ((error: TapError) => void) | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;
  let slab = new Uint8Array(1 << 20);
  let slabOffset = 0;
  let drainScheduled = false;

  const worker = new Worker(new URL("./reader-worker.cjs", import.meta.url), {
    workerData: {
      koffiPath: koffiPath(),
      fd,
      wakeFd: wakeRead,
      slots,
      slotSize,
      batch: 32,
      hdrLen,
      synSlots,
      pollTimeoutMs: options.pollTimeoutMs ?? 250,
      ctl: ctlBuffer,
      ring: ringBuffer,
      lengths: lengthsBuffer,
    },
  });

  const copyOut = (src: Uint8Array): Uint8Array => {
    if (slabOffset + src.length > slab.length) {
      slab = new Uint8Array(Math.max(1 << 20, src.length));
      slabOffset = 0;
    }
    const dst = slab.subarray(slabOffset, slabOffset + src.length);
    dst.set(src);
    slabOffset = (slabOffset + src.length + 7) & ~7;
    return dst;
  };

  const drain = (): void => {
    drainScheduled = false;
    let delivered = 0;
    for (;;) {
      const head = Atomics.load(ctl, HEAD);
      let tail = ctl[TAIL]!;
      while (tail !== head && delivered < budget && !closed) {
        const slot = (tail >>> 0) % slots;
        const n = lengths[slot]!;
        const base = slot * slotSize;
        tail = (tail + 1) | 0;
        if (n < hdrLen + 14) {
          counters.dropped++;
          continue;
        }
        const header = hdrLen > 0 ? parseVnetReceive(ring.subarray(base, base + hdrLen), n - hdrLen) : undefined;
        if (header !== undefined && !header.ok) {
          counters.dropped++;
          continue;
        }
        const offload = header?.value;
        const data = copyOut(ring.subarray(base + hdrLen, base + n));
        Atomics.store(ctl, TAIL, tail);
        counters.rxFrames++;
        counters.rxBytes += data.length;
        delivered++;
        try {
          handler?.(offload ? { data, offload } : { data });
        } catch (e) {
          // Keep draining later; the handler's exception is still the caller's to see.
          if (!drainScheduled) {
            drainScheduled = true;
            setImmediate(drain);
          }
          throw e;
        }
      }
      Atomics.store(ctl, TAIL, tail);
      Atomics.notify(ctl, TAIL);
      if (closed) return;
      if (delivered >= budget) {
        drainScheduled = true;
        setImmediate(drain);
        return;
      }
      Atomics.store(ctl, MAIN_IDLE, 1);
      if (Atomics.load(ctl, HEAD) === tail) return;
      // Frames arrived after the last look; drain them unless the reader already took the idle flag.
      if (Atomics.exchange(ctl, MAIN_IDLE, 0) !== 1) return;
    }
  };

  const fail = (error: TapError): void => {
    if (closed) return;
    void device.close();
    errorHandler?.(error);
  };

  worker.on("message", (message: unknown) => {
    if (typeof message === "object" && message !== null && "error" in message) {
      const e = (message as { error: number }).error;
      fail(new TapError("TAP_CLOSED", e === EBADFD ? `tap '${name}' was removed by the kernel` : `reading tap '${name}' failed with errno ${e}`, e));
      return;
    }
    if (!drainScheduled) drain();
  });
  worker.on("error", (e) => fail(new TapError("TAP_CLOSED", `tap reader thread failed: ${e.message}`)));

  const transmit = (frame: Frame): void => {
    if (closed) {
      counters.dropped++;
      return;
    }
    const data = frame.data;
    if (data.length > txBuffer.length - hdrLen) {
      counters.dropped++;
      return;
    }
    if (hdrLen > 0) {
      const header = writeVnetHeader(txHeader, data, mode.txOffloads ? frame.offload : undefined);
      if (!header.ok) {
        counters.dropped++;
        return;
      }
    }
    txBuffer.set(data, hdrLen);
    const n = libc.write(fd, txBuffer, hdrLen + data.length);
    if (n < 0) {
      const e = libc.errno();
      // EIO: interface down; EAGAIN: kernel backlog full. Both lose the frame, like a wire.
      if (e === EIO || e === EAGAIN || e === EINVAL) counters.dropped++;
      else fail(new TapError("TAP_CLOSED", `writing tap '${name}' failed with errno ${e}`, e));
      return;
    }
    counters.txFrames++;
    counters.txBytes += data.length;
  };

  const device: TapDevice = {
    name,
    mac: options.mac ?? randomMac(),
    mtu,
    offloads,
    counters,
    get closed() {
      return closed;
    },
    send(frame) {
      // The tap is a frame's final consumer: its bytes are copied into txBuffer (or dropped)
      // before send returns, so a recycled buffer goes back at once (Frame.release).
      transmit(frame);
      frame.release?.();
    },
    onReceive(h) {
      handler = h;
    },
    onError(h) {
      errorHandler = h;
    },
    ref() {
      worker.ref();
      return device;
    },
    unref() {
      worker.unref();
      return device;
    },
    close() {
      if (closing) return closing;
      closed = true;
      closing = (async () => {
        Atomics.store(ctl, STOP, 1);
        Atomics.notify(ctl, TAIL);
        libc.write(wakeWrite, new Uint8Array(1), 1);
        const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
        const timeout = new Promise<"timeout">((resolve) => setTimeout(resolve, 2000, "timeout").unref());
        if ((await Promise.race([exited, timeout])) === "timeout") await worker.terminate();
        libc.close(fd);
        libc.close(wakeRead);
        libc.close(wakeWrite);
      })();
      return closing;
    },
  };
  return device;
}
