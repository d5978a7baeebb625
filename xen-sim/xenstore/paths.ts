// Xenstore path rules (xenstored_core.c is_valid_nodename / canonicalize, xen-abi.md §6).
//   domainPath        "/local/domain/<domid>"
//   canonicalizePath  relative → absolute against the caller's domain path, then validate
//   isSpecialPath     "@introduceDomain" / "@releaseDomain" style watch names
//   parentPath / baseName / isSelfOrDescendant

import { err, ok, type Result } from "../../stack/result.ts";
import { XS_REL_PATH_MAX } from "./wire.ts";

export const INTRODUCE_DOMAIN = "@introduceDomain";
export const RELEASE_DOMAIN = "@releaseDomain";

/** The home directory of a domain. */
export function domainPath(domid: number): string {
  return `/local/domain/${domid}`;
}

/** Whether a name is one of the '@'-prefixed special watch paths. */
export function isSpecialPath(path: string): boolean {
  return path.startsWith("@");
}

const VALID = /^[A-Za-z0-9\-/_@]*$/;

/** A canonical path and whether it was given relative to the caller's domain path. */
export interface CanonicalPath {
  readonly path: string;
  readonly relative: boolean;
}

// is_valid_nodename(): a name below /local/domain/<at most 5 digits>/ may have
// XENSTORE_REL_PATH_MAX characters after that prefix, any other name that many in all
// (sscanf "/local/domain/%5u/%n", as 4.17 does it).
const DOMAIN_PREFIX = /^\/local\/domain\/(?:-?\d{1,4}|\d{5})\//;

/**
 * Resolves a node name given by domid: absolute names stay, relative ones are prefixed with
 * /local/domain/<domid>/. Rejects bad characters, "//", a trailing "/" and over-long names.
 */
export function canonicalizePath(domid: number, name: string): Result<CanonicalPath, "EINVAL"> {
  if (name.length === 0 || !VALID.test(name) || name.startsWith("@")) return err("EINVAL");
  const relative = !name.startsWith("/");
  const path = relative ? `${domainPath(domid)}/${name}` : name;
  if (path.includes("//") || (path.length > 1 && path.endsWith("/"))) return err("EINVAL");
  // (A name no longer than the limit passes whatever its prefix: no match needed.)
  if (path.length > XS_REL_PATH_MAX && path.length > (DOMAIN_PREFIX.exec(path)?.[0].length ?? 0) + XS_REL_PATH_MAX) return err("EINVAL");
  return ok({ path, relative });
}

/** Validates a special watch name (any "@name" of allowed characters). */
export function validSpecialPath(name: string): boolean {
  return name.length > 1 && name.length <= XS_REL_PATH_MAX && VALID.test(name) && !name.includes("/");
}

/** Parent of an absolute path ("/" for top-level nodes and for "/"). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/** Last component of an absolute path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Whether child is ancestor itself or lies below it (xenstored is_child()). */
export function isSelfOrDescendant(child: string, ancestor: string): boolean {
  if (child === ancestor) return true;
  if (ancestor === "/") return child.startsWith("/");
  return child.startsWith(ancestor) && child.charCodeAt(ancestor.length) === 0x2f;
}

/** Joins a parent path and a child name. */
export function childPath(parent: string, name: string): string {
  return parent === "/" ? `/${name}` : `${parent}/${name}`;
}
