// A simulated machine with one block device: dom0 running xenstored and blkback, a domU running
// blkfront, and the toolstack's vbd keys (xen-abi.md §7). Used by the tests and `netlab sim blk`.
//   createBlkWorld     hypervisor, xenstore, toolstack keys, blkback and blkfront (not yet connected)
//   addVbdKeys         the toolstack's frontend/backend directories for a vbd, with their permissions
//   settle             runs the virtual clock and the microtask queue until a promise settles

import { unwrap } from "../../stack/result.ts";
import { createRng, createVirtualClock, type VirtualClock } from "../../stack/time.ts";
import type { EventChannelOptions } from "../event-channel/types.ts";
import { createHypervisor } from "../hypervisor/hypervisor.ts";
import type { Domain, Hypervisor } from "../hypervisor/types.ts";
import { connectInProcess, createXenstoreClient, type XenstoreClient } from "../xenstore/client.ts";
import { createXenstoreServer } from "../xenstore/server.ts";
import type { XenstoreServer } from "../xenstore/types.ts";
import { createBlkback, type BlkbackOptions } from "./blkback.ts";
import { createBlkfront, type BlkfrontOptions } from "./blkfront.ts";
import type { Blkback, Blkfront, BlockStorage } from "./types.ts";

/** xvda: major 202, minor 0. */
export const XVDA = 51712;

/** Runs clock timers and microtasks until `p` settles (bounded by `maxTurns`). */
export async function settle<T>(clock: VirtualClock, p: Promise<T>, maxTurns = 1_000_000): Promise<T> {
  let done = false;
  const q = p.finally(() => { done = true; });
  for (let i = 0; i < maxTurns && !done; i++) {
    clock.run();
    await Promise.resolve();
  }
  if (!done) {
    const e = new Error("settle: the promise did not settle");
    (e as Error & { code: string }).code = "ERR_NETLAB_SETTLE";
    throw e;
  }
  return q;
}

/** Writes the toolstack's vbd keys: frontend dir owned by the guest (dom0 reads), backend dir owned by dom0 (guest reads). */
export async function addVbdKeys(xs: XenstoreClient, front: number, back: number, vdev: number, params: string): Promise<{ frontendPath: string; backendPath: string }> {
  const frontendPath = `/local/domain/${front}/device/vbd/${vdev}`;
  const backendPath = `/local/domain/${back}/backend/vbd/${front}/${vdev}`;
  unwrap(await xs.transaction(async (tx) => {
    const w = async (k: string, v: string) => unwrap(await tx.write(k, v));
    const dir = async (p: string, owner: number, reader: number) => {
      unwrap(await tx.mkdir(p));
      unwrap(await tx.setPerms(p, [{ domid: owner, perm: "n" }, { domid: reader, perm: "r" }]));
    };
    for (const p of [`/local/domain/${front}`, `/local/domain/${front}/device`, `/local/domain/${front}/device/vbd`, frontendPath]) {
      await dir(p, front, back);
    }
    await dir(backendPath, back, front);
    await w(`${frontendPath}/backend`, backendPath);
    await w(`${frontendPath}/backend-id`, String(back));
    await w(`${frontendPath}/state`, "1");
    await w(`${frontendPath}/virtual-device`, String(vdev));
    await w(`${frontendPath}/device-type`, "disk");
    await w(`${backendPath}/frontend`, frontendPath);
    await w(`${backendPath}/frontend-id`, String(front));
    await w(`${backendPath}/online`, "1");
    await w(`${backendPath}/state`, "1");
    await w(`${backendPath}/params`, params);
    await w(`${backendPath}/mode`, "w");
    await w(`${backendPath}/device-type`, "disk");
    await w(`${backendPath}/discard-enable`, "1");
    return { ok: true as const, value: undefined };
  }));
  return { frontendPath, backendPath };
}

/** Options of createBlkWorld. */
export interface BlkWorldOptions {
  seed?: number;
  front?: Omit<BlkfrontOptions, "frontendPath">;
  back?: Omit<BlkbackOptions, "backendPath">;
  events?: EventChannelOptions;
  /** Guest page limit (default 16384). */
  guestPages?: number;
}

/** The machine. */
export interface BlkWorld {
  readonly clock: VirtualClock;
  readonly hv: Hypervisor;
  readonly dom0: Domain;
  readonly guest: Domain;
  readonly server: XenstoreServer;
  readonly dom0Xs: XenstoreClient;
  readonly guestXs: XenstoreClient;
  readonly frontendPath: string;
  readonly backendPath: string;
  readonly front: Blkfront;
  /** The current backend instance. */
  back: Blkback;
  /** Crashes the current backend and starts a new instance over `storage`. */
  restartBackend(storage: BlockStorage, options?: Omit<BlkbackOptions, "backendPath">): Promise<Blkback>;
  /** Starts the backend and connects the frontend. */
  connect(): Promise<void>;
  settle<T>(p: Promise<T>): Promise<T>;
}

/** Builds the machine with `storage` behind the vbd. */
export async function createBlkWorld(storage: BlockStorage, options: BlkWorldOptions = {}): Promise<BlkWorld> {
  const clock = createVirtualClock();
  const hv = createHypervisor({ clock, rng: createRng(options.seed ?? 1) }, options.events === undefined ? {} : { events: options.events });
  const dom0 = unwrap(hv.createDomain());
  const guest = unwrap(hv.createDomain(options.guestPages === undefined ? {} : { maxPages: options.guestPages }));
  const server = createXenstoreServer();
  const dom0Xs = createXenstoreClient(connectInProcess(server, 0));
  const guestXs = createXenstoreClient(connectInProcess(server, guest.id));
  const { frontendPath, backendPath } = await settle(clock, addVbdKeys(dom0Xs, guest.id, 0, XVDA, "memory"));
  const front = createBlkfront({ domain: guest, xs: guestXs }, { frontendPath, ...options.front });
  const world: BlkWorld = {
    clock, hv, dom0, guest, server, dom0Xs, guestXs, frontendPath, backendPath, front,
    back: createBlkback({ domain: dom0, xs: dom0Xs, storage, clock }, { backendPath, ...options.back }),
    async restartBackend(next, opts) {
      world.back.crash();
      world.back = createBlkback({ domain: dom0, xs: dom0Xs, storage: next, clock }, { backendPath, ...(opts ?? options.back) });
      unwrap(await settle(clock, world.back.start()));
      return world.back;
    },
    async connect() {
      unwrap(await settle(clock, world.back.start()));
      unwrap(await settle(clock, front.connect()));
    },
    settle: (p) => settle(clock, p),
  };
  return world;
}
