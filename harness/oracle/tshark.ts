// tshark as an oracle of wire correctness: runs the filter of shared/specs/peers.md
// (malformed packets, expert errors, bad IP/TCP/UDP checksums) over a capture file and
// returns the offending packet lines. Callers skip (with tsharkMissingReason) when the
// tshark binary is absent.
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { NetlabError } from "../../stack/error.ts";

/** Display filter matching every packet tshark considers wrong. */
export const TSHARK_WELLFORMED_FILTER =
  '_ws.malformed || _ws.expert.severity >= "error" || ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || udp.checksum.status == "Bad"';

const CHECKSUM_PREFS = ["-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"];

/**
 * Dissectors that only guess (heuristics) and claim random payload bytes, then call them
 * malformed: Thrift took one 1448-byte segment of a random 16 MiB transfer for a REPLY and failed
 * the clean-clone CI. The transfers' payloads are random, so such a guess says nothing of netlab.
 */
const GUESSERS_OFF = ["--disable-protocol", "thrift"];

/** Absolute path of tshark on PATH, or undefined. */
export function findTshark(): string | undefined {
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, "tshark");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Why tshark-based checks cannot run, or undefined when they can. */
export function tsharkMissingReason(): string | undefined {
  return findTshark() === undefined ? "tshark is not installed (run `npm run setup` as root, or apt-get install tshark)" : undefined;
}

/** Outcome of checking one capture. */
export interface TsharkVerdict {
  /** Packets tshark read from the file. */
  readonly packets: number;
  /** One summary line per offending packet (empty when the capture is clean). */
  readonly offending: string[];
}

function runTshark(args: string[], timeoutMs: number): string {
  const tshark = findTshark();
  if (tshark === undefined) {
    const e = new NetlabError("ERR_NETLAB_TSHARK_MISSING", tsharkMissingReason() ?? "tshark is not available");
    throw e;
  }
  const r = spawnSync(tshark, args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 });
  if (r.error !== undefined || r.status !== 0) {
    const stderr = (r.stderr ?? "")
      .split("\n")
      .filter((l) => l !== "" && !/running as user "root"/i.test(l))
      .join("\n");
    const e = new NetlabError("ERR_NETLAB_TSHARK_FAILED", `tshark ${args.join(" ")} failed (${r.error?.message ?? `exit ${r.status}`}): ${stderr}`);
    throw e;
  }
  return r.stdout;
}

export interface TsharkCheckOptions {
  readonly timeoutMs?: number;
  /**
   * Sources (IPv4 dotted quads or IPv6 literals) allowed to write a TCP checksum of 0xFFFF where the sum
   * gives 0x0000. tshark reports that as an error (RFC 1624), but Linux's
   * skb_checksum_help writes exactly that (CSUM_MANGLED_0) for about one segment in 65,536
   * when it checksums in software, and receivers accept it. Only that fault is forgiven,
   * only from these sources: a bad checksum or a malformed packet still counts.
   */
  readonly acceptTcpChecksumFfffFrom?: readonly string[];
}

const DOTTED_QUAD = /^(?:\d{1,3}\.){3}\d{1,3}$/;
/** An IPv6 literal's characters (hex digits and colons, at least two), enough to keep the filter's syntax intact. */
const IPV6_LITERAL = /^(?=.*:.*:)[0-9a-f:]{2,39}$/i;

/** The well-formedness filter, less the faults `options` forgives. */
export function wellformedFilter(options: TsharkCheckOptions = {}): string {
  const from = options.acceptTcpChecksumFfffFrom ?? [];
  if (from.length === 0) return TSHARK_WELLFORMED_FILTER;
  for (const a of from)
    if (!DOTTED_QUAD.test(a) && !IPV6_LITERAL.test(a))
      throw new NetlabError("ERR_NETLAB_ARGS", `acceptTcpChecksumFfffFrom: ${JSON.stringify(a)} is not a dotted-quad IPv4 address or an IPv6 address`);
  const v4 = from.filter((a) => DOTTED_QUAD.test(a));
  const v6 = from.filter((a) => !DOTTED_QUAD.test(a));
  const sources = [...(v4.length > 0 ? [`ip.src in {${v4.join(" ")}}`] : []), ...(v6.length > 0 ? [`ipv6.src in {${v6.join(" ")}}`] : [])].join(" || ");
  const forgiven = `(${sources}) && tcp.checksum == 0xffff && tcp.checksum_calculated == 0x0000 && !_ws.malformed && !(ip.checksum.status == "Bad")`;
  return `(${TSHARK_WELLFORMED_FILTER}) && !(${forgiven})`;
}

/** Runs the well-formedness filter over `path`; throws (coded) if tshark is missing or fails to read the file. */
export function checkCaptureWithTshark(path: string, options: TsharkCheckOptions = {}): TsharkVerdict {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const lines = (s: string): string[] => s.split("\n").filter((l) => l.trim() !== "");
  const packets = lines(runTshark(["-n", "-r", path, "-T", "fields", "-e", "frame.number"], timeoutMs)).length;
  const offending = lines(runTshark(["-n", "-r", path, ...CHECKSUM_PREFS, ...GUESSERS_OFF, "-Y", wellformedFilter(options)], timeoutMs));
  return { packets, offending };
}

/** Runs tshark with `-T fields` and returns one array of field values per packet. */
export function tsharkFields(path: string, fields: string[], filter?: string, options: { timeoutMs?: number } = {}): string[][] {
  const args = ["-n", "-r", path, ...CHECKSUM_PREFS, "-T", "fields", "-E", "separator=\t", ...fields.flatMap((f) => ["-e", f])];
  if (filter !== undefined) args.push("-Y", filter);
  return runTshark(args, options.timeoutMs ?? 120_000)
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.split("\t"));
}
