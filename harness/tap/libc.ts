// The few libc calls a tap needs, bound through koffi on first use (one binding per process).
// loadLibc(): the bound functions and errno helpers; throws TapError TAP_UNSUPPORTED off Linux.
import { createRequire } from "node:module";
import { NetlabError } from "../../stack/error.ts";

/** libc entry points used by the tap device. */
export interface Libc {
  open(path: string, flags: number, ...rest: unknown[]): number;
  ioctl(fd: number, request: number, ...rest: unknown[]): number;
  write(fd: number, buf: Uint8Array, n: number): number;
  read(fd: number, buf: Uint8Array, n: number): number;
  close(fd: number): number;
  pipe2(fds: number[], flags: number): number;
  socket(domain: number, type: number, protocol: number): number;
  errno(): number;
}

/** Absolute path of koffi's entry, for worker threads that require it (loadLibc() first). */
export function koffiPath(): string {
  return createRequire(import.meta.url).resolve("koffi");
}

let cached: Libc | undefined;

/** Binds libc once per process (bindings are stateless; caching them is safe across stacks). */
export function loadLibc(): Libc {
  if (cached) return cached;
  if (process.platform !== "linux") {
    throw new NetlabError("TAP_UNSUPPORTED", "tap devices need Linux");
  }
  // koffi is an optional peer of the package, loaded on first use: importing netlab/harness
  // without it works, and only opening a tap needs it.
  let koffi: typeof import("koffi");
  try {
    koffi = createRequire(import.meta.url)("koffi") as typeof import("koffi");
  } catch {
    throw new NetlabError("TAP_UNSUPPORTED", "tap devices need the koffi package (npm install koffi)");
  }
  const lib = koffi.load("libc.so.6");
  cached = {
    open: lib.func("int open(const char *path, int flags, ...)") as Libc["open"],
    ioctl: lib.func("int ioctl(int fd, unsigned long request, ...)") as Libc["ioctl"],
    write: lib.func("long write(int fd, const void *buf, unsigned long n)") as Libc["write"],
    read: lib.func("long read(int fd, void *buf, unsigned long n)") as Libc["read"],
    close: lib.func("int close(int fd)") as Libc["close"],
    pipe2: lib.func("int pipe2(_Out_ int *fds, int flags)") as Libc["pipe2"],
    socket: lib.func("int socket(int domain, int type, int protocol)") as Libc["socket"],
    errno: () => koffi.errno() as number,
  };
  return cached;
}
