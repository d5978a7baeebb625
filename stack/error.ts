// NetlabError: the one exception type of the lab. Untrusted bytes never throw (they return a
// Result, see result.ts); what does throw (programmer misuse in stack/ and xen-sim/, harness I/O,
// command-line usage) is a NetlabError or a subclass, with a stable `code` a caller can test and
// the CLI prints as `netlab CMD: [CODE] message`. It lives here, at the bottom of the layers, so
// that stack/ and xen-sim/ can throw it too (imports only point down).

/** An error with a stable, upper-snake `code` (ERR_*, TAP_*, NETNS_*, ATTACH_*, ...). */
export class NetlabError extends Error {
  /** Stable identifier of the failure; messages may change, codes do not. */
  readonly code: string;
  constructor(code: string, message: string, options?: { readonly cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = "NetlabError";
  }
}

/** True for a NetlabError (or subclass). */
export function isNetlabError(e: unknown): e is NetlabError {
  return e instanceof NetlabError;
}
