// Xenstore interfaces: the store server, its connections and the client transport.
//   XsPermLetter / XsPerm      per-node permissions (first entry = owner + default for others)
//   XenstoreQuotas             per-domain limits (unprivileged domains only; dom0 is exempt)
//   XenstoreServerOptions      quotas, privileged domains, INTRODUCE hook, log sink
//   XenstoreSink               where a connection's outgoing bytes go (a ring, a socket, a client)
//   XenstoreConnection         one peer of the server (a domain ring or a socket client)
//   XenstoreServer             the daemon: connect peers, introduce/release domains, inspect,
//                              commit as a domain without a connection (commitAs, XsDirectOp)
//   XsByteTransport            a duplex byte stream for the client library

import type { Result } from "../../stack/result.ts";
import type { XsErrno } from "./wire.ts";

/** Permission letters: n none, r read, w write, b both. */
export type XsPermLetter = "n" | "r" | "w" | "b";

/** One permission entry. */
export interface XsPerm {
  readonly domid: number;
  readonly perm: XsPermLetter;
}

/**
 * Per-domain quotas, applied to unprivileged domains only (defaults and off-by-ones: Debian 12's
 * C xenstored 4.17, checked differentially by harness/xenstore/real).
 */
export interface XenstoreQuotas {
  /** Nodes a domain may own (ENOSPC beyond). Default 1000. */
  readonly maxEntries: number;
  /**
   * Node size limit (xenstored --entry-size): a domain may not store a node whose record (24-byte
   * header + 8 per permission + value + NUL-terminated child names) is this many bytes or more
   * (ENOSPC). Default 2048.
   */
  readonly maxNodeSize: number;
  /** Watches per domain: as 4.17, the (n+1)th is still accepted and the one after is E2BIG. Default 128. */
  readonly maxWatches: number;
  /** Outstanding transactions per connection: as 4.17, n+1 may be open, then ENOSPC. Default 10. */
  readonly maxTransactions: number;
  /** Permission entries per node a domain may set (ENOSPC beyond). Default 5. */
  readonly maxPermsPerNode: number;
  /**
   * Distinct nodes a domain's transaction may access (xenstored -Q transaction-nodes): the next
   * one is ENOSPC and the transaction's commit then fails with ENOMEM. Default 1024.
   */
  readonly maxTransactionNodes: number;
}

export const DEFAULT_XENSTORE_QUOTAS: XenstoreQuotas = {
  maxEntries: 1000,
  maxNodeSize: 2048,
  maxWatches: 128,
  maxTransactions: 10,
  maxPermsPerNode: 5,
  maxTransactionNodes: 1024,
};

/** A log record (one per request when logging is enabled). */
export interface XenstoreLogRecord {
  readonly conn: number;
  readonly domid: number;
  readonly type: string;
  readonly reqId: number;
  readonly txId: number;
  readonly args: readonly string[];
  readonly reply: string;
}

/** Options of createXenstoreServer. */
export interface XenstoreServerOptions {
  readonly quotas?: Partial<XenstoreQuotas>;
  /** Domains treated like dom0 (permission bypass, quota exemption). dom0 is always privileged. */
  readonly privilegedDomains?: readonly number[];
  /** Largest queued output per connection before watch events for it are dropped. Default 256 KiB. */
  readonly maxQueuedOutput?: number;
  /**
   * Called on INTRODUCE (domid, gfn, event-channel port) after validation; returns whether the
   * domain's ring could be attached (false → EINVAL). Without a hook INTRODUCE only records the domain.
   */
  readonly onIntroduce?: (domid: number, gfn: bigint, port: number) => boolean;
  /** Called on RELEASE of an introduced domain, after its connection is gone. */
  readonly onRelease?: (domid: number) => void;
  /** Receives one record per processed request. */
  readonly log?: (record: XenstoreLogRecord) => void;
  /**
   * Keep the nodes a domain owns when it is released (xenstored --keep-orphans). Default false:
   * they are deleted with their subtrees and watches fire, as xenstored does since XSA-322.
   */
  readonly keepOrphans?: boolean;
}

/** Where a connection's outgoing bytes go. */
export interface XenstoreSink {
  /** Queues one complete message (header + payload) to the peer. */
  send(message: Uint8Array): void;
  /** Bytes accepted by send() but not yet taken by the peer (for back-pressure), if known. */
  queued?(): number;
  /** Called once when the server closes the connection (malformed input, release, shutdown). */
  close(reason: XenstoreCloseReason): void;
}

/** Why the server closed a connection. */
export type XenstoreCloseReason = "payload-too-long" | "released" | "shutdown" | "closed";

/** One peer of the server. */
export interface XenstoreConnection {
  readonly id: number;
  readonly domid: number;
  /** Feeds bytes received from the peer; replies go to the sink. Never throws on bad bytes. */
  receive(bytes: Uint8Array): void;
  /** Closes the connection: its watches and transactions go. Idempotent. */
  close(): void;
  readonly closed: boolean;
}

/** Counters of the server, for tests and logs. */
export interface XenstoreStats {
  readonly nodes: number;
  readonly connections: number;
  readonly watches: number;
  readonly transactions: number;
  readonly requests: number;
  readonly errors: number;
  readonly droppedEvents: number;
  readonly closedForMalformed: number;
}

/** The xenstore daemon. */
export interface XenstoreServer {
  /** Attaches a peer speaking as domid (0 for a privileged socket client). */
  connect(domid: number, sink: XenstoreSink): XenstoreConnection;
  /**
   * Marks a domain introduced (as INTRODUCE from dom0 does, but from the toolstack side) and fires
   * @introduceDomain. The domain's connection is attached separately with connect().
   */
  introduceDomain(domid: number): void;
  /** Releases a domain: closes its connections, drops watches/transactions, fires @releaseDomain. */
  releaseDomain(domid: number): void;
  /** Whether a domain has been introduced and not released. */
  isIntroduced(domid: number): boolean;
  /** Reads a value directly (privileged view; for tests and the toolstack). */
  peek(path: string): Uint8Array | undefined;
  /**
   * Applies `ops` as `domid` in one transaction committed at once, with no connection: the tree,
   * the permission checks, quotas and watch events of that domain's TRANSACTION_START, WRITEs and
   * RMs (in order) and TRANSACTION_END "T", without the requests (not counted, not logged). For
   * harnesses that play a domain's part. The first failing operation aborts the transaction and
   * its errno is returned.
   */
  commitAs(domid: number, ops: readonly XsDirectOp[]): Result<void, XsErrno>;
  /** Closes every connection. */
  close(): void;
  /**
   * Back to the server as created (the tree with only / and /tool/xenstored, nothing introduced,
   * default permissions of the special paths, logging on, zero counters, connection ids from 1);
   * connections still attached are dropped without a word to their sinks. A fuzz target serves
   * many inputs with one server this way.
   */
  reset(): void;
  stats(): XenstoreStats;
}

/** One operation of XenstoreServer.commitAs: a write (`value`: bytes, or text UTF-8 encoded as the client library writes it), or a removal (no value). */
export interface XsDirectOp {
  /** Absolute, or relative to the domain's home (/local/domain/<domid>). */
  readonly path: string;
  readonly value?: string | Uint8Array;
}

/** A duplex byte stream the client library speaks over. */
export interface XsByteTransport {
  /** Sends bytes to the server. */
  send(bytes: Uint8Array): void;
  /** Registers the receiver of bytes from the server (one handler). */
  onReceive(handler: (bytes: Uint8Array) => void): void;
  /** Registers a handler for the transport closing. */
  onClose?(handler: () => void): void;
  /** Closes the transport. */
  close?(): void;
}

/** Errors a client call can return: the server's errno, or a local failure. */
export type XsClientError = XsErrno | "closed" | "protocol" | "too-long";
