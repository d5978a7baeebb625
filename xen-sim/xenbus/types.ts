// Xenbus interfaces: device states (xen/io/xenbus.h) and the watch handle of the helpers.
//   XenbusState / XenbusStateValue  the nine states, written as decimal text in `state` nodes
//   StateWatch                      a live watch on a peer's `state` node

/** enum xenbus_state (xen/io/xenbus.h). */
export const XenbusState = {
  Unknown: 0,
  Initialising: 1,
  InitWait: 2,
  Initialised: 3,
  Connected: 4,
  Closing: 5,
  Closed: 6,
  Reconfiguring: 7,
  Reconfigured: 8,
} as const;

/** One of the XenbusState values. */
export type XenbusStateValue = (typeof XenbusState)[keyof typeof XenbusState];

/** A registered watch on a device's `state` node. */
export interface StateWatch {
  /** Stops delivering states; idempotent. */
  cancel(): void;
  readonly cancelled: boolean;
}
