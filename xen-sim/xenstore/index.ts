// Public surface of the simulated xenstore: the server, its wire format, ring transport and client.
export * from "./types.ts";
export * from "./wire.ts";
export * from "./paths.ts";
export { createXenstoreServer } from "./server.ts";
export { createXenstoreTree, formatPerm, parsePerm, permFor, PERM_OWNER, PERM_READ, PERM_WRITE } from "./store.ts";
export type { WatchFire, XenstoreTree, XsCaller, XsTransaction } from "./store.ts";
export * from "./ring.ts";
export { connectInProcess, createXenstoreClient } from "./client.ts";
export type { InProcessOptions, XenstoreClient, XsOps, XsResult, XsTransactionOptions, XsWatchHandle } from "./client.ts";
export { connectGuestXenstore, createXenstoreDaemon, prepareGuestXenstore } from "./domain.ts";
export type { GuestXenstoreSetup, XenstoreDaemon } from "./domain.ts";
