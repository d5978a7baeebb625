// Expectation files (pcaps/<name>.expect.json): which endpoint netlab plays in a capture, with
// what configuration, which replay modes apply, the declared normalisations, and what must hold.
// They are files, hence untrusted: parseExpectation returns a Result naming the bad field.
//   Expectation, EndpointConfig, AppConfig, Normalisation   the schema (see README "Replay")
//   parseExpectation(json)     unknown JSON -> Result<Expectation, "invalid-expectation">
//   NORMALISATIONS             every normalisation conversation mode understands
import { err, ok, type Result } from "../../stack/result.ts";
import { parseCidr, parseIpv4, parseMac } from "../../stack/wire/address.ts";
import { parseDhcpServerConfig } from "../dhcp/config.ts";

/** Replay modes. */
export type ReplayMode = "decode" | "conversation" | "golden";

/**
 * Declared differences conversation mode tolerates (each one documented in README "Replay"):
 * tcp-isn: netlab's sequence numbers are compared relative to its ISN, and the peer's ack/SACK
 *   numbers are rewritten by the ISN offset before they are fed;
 * tcp-timestamps: netlab's TSval is compared relative to its first TSval (± tsToleranceMs), the
 *   peer's TSecr is rewritten by the same offset;
 * tcp-window: the advertised window is not compared;
 * ip-id: the IPv4 identification (and so the header checksum value) is not compared;
 * dhcp-xid: netlab's transaction id is mapped to the captured one (and the peer's rewritten);
 * dhcp-secs: the DHCP secs field is not compared;
 * http-date: the value of an HTTP Date header in TCP payloads is masked;
 * offload-checksums: checksum verdicts are not compared and fed frames are marked validated
 *   (captures taken where a NIC fills or checks checksums: blank or partial values).
 */
export const NORMALISATIONS = ["tcp-isn", "tcp-timestamps", "tcp-window", "ip-id", "dhcp-xid", "dhcp-secs", "http-date", "offload-checksums"] as const;
export type Normalisation = (typeof NORMALISATIONS)[number];

/** A file the in-memory HTTP app serves: `size` bytes of `pattern` repeated. */
export interface HttpFileConfig {
  readonly path: string;
  readonly size: number;
  readonly pattern: string;
  readonly contentType: string;
}

/** Applications netlab runs on the endpoint. */
export type AppConfig =
  | { readonly kind: "http"; readonly port: number; readonly files: readonly HttpFileConfig[]; readonly date: boolean }
  | { readonly kind: "echo" | "discard" | "reset"; readonly port: number }
  | { readonly kind: "dhcp-client"; readonly probe: boolean; readonly initDelayMinMs: number; readonly initDelayMaxMs: number; readonly hostName?: string }
  | { readonly kind: "dhcp-server"; readonly config: unknown }
  /** netlab's HTTP client fetches host:port/path at atMs after start, from localPort (active open). */
  | { readonly kind: "http-get"; readonly host: string; readonly port: number; readonly path: string; readonly atMs: number; readonly localPort: number };

/** The endpoint netlab plays: its addresses, stack options, apps and random seed. */
export interface EndpointConfig {
  readonly mac: string;
  /** Static address (CIDR); absent when a dhcp-client app configures it. */
  readonly cidr?: string;
  readonly gateway?: string;
  readonly seed: number;
  readonly defaultTtl?: number;
  /** TCP options (JSON subset of TcpLayerOptions). */
  readonly tcp?: Readonly<Record<string, number | boolean | string>>;
  /** Peers whose MAC the stack knows in advance (ip -> mac). */
  readonly staticArp?: Readonly<Record<string, string>>;
  readonly apps: readonly AppConfig[];
}

/** Conversation mode settings and what must hold. */
export interface ConversationExpectation {
  /** Clock time (ms) of the endpoint's creation; the virtual clock starts here. */
  readonly clockStartMs: number;
  /** Wall-clock ms of clock time 0 (capture timestamp - epochMs = clock time). */
  readonly epochMs: number;
  readonly normalise: readonly Normalisation[];
  /** Allowed |TSval difference| after the offset (ms). */
  readonly tsToleranceMs: number;
  /** Virtual time run after the last captured frame (ms). */
  readonly tailMs: number;
}

/** Golden mode: which simulation scenario regenerates the capture. */
export interface GoldenExpectation {
  readonly scenario: string;
  readonly seed: number;
}

/** Decode mode: exact counts that must hold. */
export interface DecodeExpectation {
  readonly frames: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly reemitMismatches: Readonly<Record<string, number>>;
}

/** A parsed expectation file. */
export interface Expectation {
  readonly capture: string;
  readonly description: string;
  readonly source: "kernel" | "simulation";
  readonly modes: readonly ReplayMode[];
  readonly decode: DecodeExpectation;
  readonly endpoint?: EndpointConfig;
  readonly conversation?: ConversationExpectation;
  readonly golden?: GoldenExpectation;
}

class Invalid extends Error {}

type Json = Record<string, unknown>;
const fail = (field: string, what: string): never => {
  throw new Invalid(`${field}: ${what}`);
};
const obj = (v: unknown, field: string): Json => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : fail(field, "must be an object"));
const str = (v: unknown, field: string): string => (typeof v === "string" && v.length <= 4096 ? v : fail(field, "must be a string"));
const num = (v: unknown, field: string, min = -Infinity, max = Infinity): number =>
  typeof v === "number" && Number.isFinite(v) && v >= min && v <= max ? v : fail(field, `must be a number in [${min}, ${max}]`);
const int = (v: unknown, field: string, min: number, max: number): number =>
  Number.isInteger(num(v, field, min, max)) ? (v as number) : fail(field, "must be an integer");
const bool = (v: unknown, field: string, dflt: boolean): boolean =>
  v === undefined ? dflt : typeof v === "boolean" ? v : fail(field, "must be true or false");
const arr = (v: unknown, field: string): unknown[] => (Array.isArray(v) && v.length <= 10_000 ? v : fail(field, "must be an array"));
const counts = (v: unknown, field: string): Record<string, number> => {
  const o = v === undefined ? {} : obj(v, field);
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(o)) out[k] = int(n, `${field}.${k}`, 0, 1e9);
  return out;
};

function app(v: unknown, field: string): AppConfig {
  const o = obj(v, field);
  const kind = str(o["kind"], `${field}.kind`);
  switch (kind) {
    case "http":
      return {
        kind,
        port: int(o["port"], `${field}.port`, 1, 65535),
        date: bool(o["date"], `${field}.date`, true),
        files: arr(o["files"], `${field}.files`).map((f, i) => {
          const fo = obj(f, `${field}.files[${i}]`);
          const path = str(fo["path"], `${field}.files[${i}].path`);
          if (!path.startsWith("/")) fail(`${field}.files[${i}].path`, "must start with /");
          const pattern = fo["pattern"] === undefined ? "netlab replay payload\n" : str(fo["pattern"], `${field}.files[${i}].pattern`);
          if (pattern.length === 0) fail(`${field}.files[${i}].pattern`, "must not be empty");
          return {
            path,
            pattern,
            size: int(fo["size"], `${field}.files[${i}].size`, 0, 64 << 20),
            contentType: fo["contentType"] === undefined ? "application/octet-stream" : str(fo["contentType"], `${field}.files[${i}].contentType`),
          };
        }),
      };
    case "echo":
    case "discard":
    case "reset":
      return { kind, port: int(o["port"], `${field}.port`, 1, 65535) };
    case "dhcp-client": {
      const base = {
        kind,
        probe: bool(o["probe"], `${field}.probe`, true),
        initDelayMinMs: o["initDelayMinMs"] === undefined ? 0 : num(o["initDelayMinMs"], `${field}.initDelayMinMs`, 0, 60_000),
        initDelayMaxMs: o["initDelayMaxMs"] === undefined ? 500 : num(o["initDelayMaxMs"], `${field}.initDelayMaxMs`, 0, 60_000),
      } as const;
      return o["hostName"] === undefined ? base : { ...base, hostName: str(o["hostName"], `${field}.hostName`) };
    }
    case "dhcp-server": {
      const r = parseDhcpServerConfig(o["config"]);
      if (!r.ok) fail(`${field}.config`, r.detail ?? r.error);
      return { kind, config: o["config"] };
    }
    case "http-get": {
      const host = str(o["host"], `${field}.host`);
      if (!parseIpv4(host).ok) fail(`${field}.host`, `'${host}' is not an IPv4 address`);
      const path = str(o["path"], `${field}.path`);
      if (!path.startsWith("/")) fail(`${field}.path`, "must start with /");
      return {
        kind,
        host,
        path,
        port: int(o["port"], `${field}.port`, 1, 65535),
        atMs: num(o["atMs"] ?? 0, `${field}.atMs`, 0, 600_000),
        localPort: int(o["localPort"], `${field}.localPort`, 1, 65535),
      };
    }
    default:
      return fail(`${field}.kind`, `unknown app '${kind}' (http, echo, discard, reset, dhcp-client, dhcp-server, http-get)`);
  }
}

function endpoint(v: unknown): EndpointConfig {
  const o = obj(v, "endpoint");
  const mac = str(o["mac"], "endpoint.mac");
  if (!parseMac(mac).ok) fail("endpoint.mac", `'${mac}' is not a MAC address`);
  const out: { -readonly [K in keyof EndpointConfig]: EndpointConfig[K] } = {
    mac,
    seed: int(o["seed"], "endpoint.seed", 0, 0xffffffff),
    apps: arr(o["apps"] ?? [], "endpoint.apps").map((a, i) => app(a, `endpoint.apps[${i}]`)),
  };
  if (o["cidr"] !== undefined) {
    out.cidr = str(o["cidr"], "endpoint.cidr");
    if (!parseCidr(out.cidr).ok) fail("endpoint.cidr", `'${out.cidr}' is not a CIDR`);
  }
  if (o["gateway"] !== undefined) {
    out.gateway = str(o["gateway"], "endpoint.gateway");
    if (!parseIpv4(out.gateway).ok) fail("endpoint.gateway", `'${out.gateway}' is not an IPv4 address`);
  }
  if (o["defaultTtl"] !== undefined) out.defaultTtl = int(o["defaultTtl"], "endpoint.defaultTtl", 1, 255);
  if (o["tcp"] !== undefined) {
    const t = obj(o["tcp"], "endpoint.tcp");
    for (const [k, val] of Object.entries(t)) {
      if (typeof val !== "number" && typeof val !== "boolean" && typeof val !== "string") fail(`endpoint.tcp.${k}`, "must be a number, boolean or string");
    }
    out.tcp = t as Record<string, number | boolean | string>;
  }
  if (o["staticArp"] !== undefined) {
    const s = obj(o["staticArp"], "endpoint.staticArp");
    for (const [ip, m] of Object.entries(s)) {
      if (!parseIpv4(ip).ok) fail("endpoint.staticArp", `'${ip}' is not an IPv4 address`);
      if (!parseMac(str(m, `endpoint.staticArp.${ip}`)).ok) fail(`endpoint.staticArp.${ip}`, "is not a MAC address");
    }
    out.staticArp = s as Record<string, string>;
  }
  if (out.cidr === undefined && !out.apps.some((a) => a.kind === "dhcp-client")) fail("endpoint", "needs cidr or a dhcp-client app");
  return out;
}

function build(json: unknown): Expectation {
  const o = obj(json, "expectation");
  const modes = arr(o["modes"], "modes").map((m, i) => {
    const s = str(m, `modes[${i}]`);
    if (s !== "decode" && s !== "conversation" && s !== "golden") fail(`modes[${i}]`, `unknown mode '${s}'`);
    return s as ReplayMode;
  });
  const source = str(o["source"], "source");
  if (source !== "kernel" && source !== "simulation") fail("source", "must be kernel or simulation");
  const d = obj(o["decode"], "decode");
  const out: { -readonly [K in keyof Expectation]: Expectation[K] } = {
    capture: str(o["capture"], "capture"),
    description: o["description"] === undefined ? "" : str(o["description"], "description"),
    source: source as "kernel" | "simulation",
    modes,
    decode: {
      frames: int(d["frames"], "decode.frames", 0, 1e9),
      errors: counts(d["errors"], "decode.errors"),
      reemitMismatches: counts(d["reemitMismatches"], "decode.reemitMismatches"),
    },
  };
  if (/[/\\]/.test(out.capture)) fail("capture", "must be a file name next to the expectation file");
  if (o["endpoint"] !== undefined) out.endpoint = endpoint(o["endpoint"]);
  if (o["conversation"] !== undefined) {
    const c = obj(o["conversation"], "conversation");
    out.conversation = {
      clockStartMs: num(c["clockStartMs"], "conversation.clockStartMs", 0),
      epochMs: num(c["epochMs"], "conversation.epochMs", 0),
      normalise: arr(c["normalise"] ?? [], "conversation.normalise").map((n, i) => {
        const s = str(n, `conversation.normalise[${i}]`);
        if (!(NORMALISATIONS as readonly string[]).includes(s))
          fail(`conversation.normalise[${i}]`, `unknown normalisation '${s}' (${NORMALISATIONS.join(", ")})`);
        return s as Normalisation;
      }),
      tsToleranceMs: c["tsToleranceMs"] === undefined ? 2 : num(c["tsToleranceMs"], "conversation.tsToleranceMs", 0, 1000),
      tailMs: c["tailMs"] === undefined ? 0 : num(c["tailMs"], "conversation.tailMs", 0, 600_000),
    };
    if (out.endpoint === undefined) fail("conversation", "needs an endpoint");
  }
  if (o["golden"] !== undefined) {
    const g = obj(o["golden"], "golden");
    out.golden = { scenario: str(g["scenario"], "golden.scenario"), seed: int(g["seed"], "golden.seed", 0, 0xffffffff) };
  }
  if (modes.includes("conversation") && out.conversation === undefined) fail("conversation", "mode conversation needs a conversation section");
  if (modes.includes("golden") && out.golden === undefined) fail("golden", "mode golden needs a golden section");
  return out;
}

/** Validates a parsed expectation file; the error detail names the offending field. */
export function parseExpectation(json: unknown): Result<Expectation, "invalid-expectation"> {
  try {
    return ok(build(json));
  } catch (e) {
    if (e instanceof Invalid) return err("invalid-expectation", e.message);
    throw e;
  }
}
