// A simulated machine with one block device: dom0 running xenstored and blkback, a domU (made by
// the toolstack, talking to xenstore over its ring) running blkfront on xvda. Used by the tests
// and `netlab sim blk`.
//   createBlkWorld     toolstack, guest, vbd, blkback and blkfront (not yet connected)
//   settle             runs the virtual clock and the microtask queue until a promise settles

import { unwrap } from "../../stack/result.ts";
import { createRng, createVirtualClock, type VirtualClock } from "../../stack/time.ts";
import type { EventChannelOptions } from "../event-channel/types.ts";
import type { Domain, Hypervisor } from "../hypervisor/types.ts";
import { createToolstack } from "../toolstack/toolstack.ts";
import type { DeviceInfo, Toolstack } from "../toolstack/types.ts";
import type { XenstoreClient } from "../xenstore/client.ts";
import { createBlkback, type BlkbackOptions } from "./blkback.ts";
import { createBlkfront, type BlkfrontOptions } from "./blkfront.ts";
import type { Blkback, Blkfront, BlockStorage } from "./types.ts";
import { NetlabError } from "../../stack/error.ts";

/** xvda: major 202, minor 0. */
export const XVDA = 51712;

/** Runs clock timers and microtasks until `p` settles (bounded by `maxTurns`). */
export async function settle<T>(clock: VirtualClock, p: Promise<T>, maxTurns = 1_000_000): Promise<T> {
  let done = false;
  const q = p.finally(() => {
    done = true;
  });
  for (let i = 0; i < maxTurns && !done; i++) {
    clock.run();
    await Promise.resolve();
  }
  if (!done) {
    const e = new NetlabError("ERR_NETLAB_SETTLE", "settle: the promise did not settle");
    throw e;
  }
  return q;
}

/** Options of createBlkWorld. */
export interface BlkWorldOptions {
  seed?: number;
  front?: Omit<BlkfrontOptions, "frontendPath">;
  back?: Omit<BlkbackOptions, "backendPath">;
  events?: EventChannelOptions;
  /** Guest page limit (default 16384). */
  guestPages?: number;
  /** Wraps the drivers' xenstore clients (handshake tests record through it). */
  wrapXs?: (xs: XenstoreClient, domid: number) => XenstoreClient;
  /** The vbd's `params` (default "memory"). */
  params?: string;
}

/** The machine. */
export interface BlkWorld {
  readonly clock: VirtualClock;
  readonly hv: Hypervisor;
  readonly dom0: Domain;
  readonly guest: Domain;
  readonly toolstack: Toolstack;
  readonly device: DeviceInfo;
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
  const toolstack = createToolstack(
    { clock, rng: createRng(options.seed ?? 1) },
    {
      ...(options.events === undefined ? {} : { hypervisor: { events: options.events } }),
    },
  );
  const hv = toolstack.hypervisor;
  const dom0 = toolstack.dom0;
  const wrap = options.wrapXs ?? ((xs: XenstoreClient) => xs);
  const dom0Xs = wrap(toolstack.xs, 0);
  const g = unwrap(await settle(clock, toolstack.createDomain({ name: "blk-guest", maxPages: options.guestPages ?? 16384 })));
  const guest = g.domain;
  const guestXs = wrap(g.xs, guest.id);
  const device = unwrap(await settle(clock, toolstack.addVbd(guest.id, { virtualDevice: XVDA, params: options.params ?? "memory" })));
  const { frontendPath, backendPath } = device;
  const front = createBlkfront({ domain: guest, xs: guestXs }, { frontendPath, ...options.front });
  const world: BlkWorld = {
    clock,
    hv,
    dom0,
    guest,
    toolstack,
    device,
    dom0Xs,
    guestXs,
    frontendPath,
    backendPath,
    front,
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
