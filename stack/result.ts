// Result: how every parser of untrusted bytes reports failure. No throw on bad input.
import { NetlabError } from "./error.ts";

/** Success carrying a value. */
export interface Ok<T> {
  readonly ok: true;
  readonly value: T;
}
/** Failure carrying a stable, string-literal error code (and optional detail). */
export interface Err<E> {
  readonly ok: false;
  readonly error: E;
  readonly detail?: string;
}
/** The outcome of parsing or validating untrusted input. */
export type Result<T, E> = Ok<T> | Err<E>;

/** Wraps a value as success. */
export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

/** Wraps an error code (with optional human detail) as failure. */
export function err<E>(error: E, detail?: string): Err<E> {
  return detail === undefined ? { ok: false, error } : { ok: false, error, detail };
}

/** Returns the value of a Result known to be Ok, or throws (tests and programmer misuse only). */
export function unwrap<T, E>(r: Result<T, E>): T {
  if (r.ok) return r.value;
  throw new NetlabError("ERR_NETLAB_UNWRAP", `unwrap of Err(${String(r.error)}${r.detail ? `: ${r.detail}` : ""})`);
}
