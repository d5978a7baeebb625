// The one argument layer of the netlab CLI. Every command declares its flags as a CommandSpec and
// parses argv with parseCommandLine() (node:util parseArgs underneath, so `--flag value` and
// `--flag=value` both work, and unknown flags are refused); the values are checked by the
// validators below, which every command shares, so a flag means one thing everywhere.
//
// The rules (also in the README's "Command line" section and at the end of every --help):
//   sizes     bytes; k/M/G/T are decimal (10^3, 10^6, ...), Ki/Mi/Gi/Ti binary (2^10, 2^20, ...),
//             case-insensitive ("64k" = 64000, "64Ki" = 65536); the result must be whole bytes.
//   rates     bits per second with the same suffixes ("100M" = 10^8 bit/s).
//   P         a probability: a fraction in [0, 1] or a percentage ("5%").
//   durations a number in the flag's own unit (its usage says MS or S), or with a unit:
//             us, ms, s, min, h ("250ms", "1.5s").
//   integers  decimal or 0x hex, safe integers only (|n| <= 2^53 - 1), each flag's range checked.
//   seeds     integers 0..4294967295 (the Rng's 32-bit state seed); anything else is refused, never cut.
//   addresses dotted-quad IPv4, CIDR as ADDRESS/LEN, MAC as aa:bb:cc:dd:ee:ff.
// A usage error throws UsageError (code ERR_USAGE); the dispatcher prints it as one line
// `netlab CMD: [ERR_USAGE] message (see 'netlab CMD --help')` and exits 2.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { NetlabError } from "../../stack/error.ts";
import { err, ok, type Result } from "../../stack/result.ts";
import { parseCidr, parseIpv4, parseMac, type Ipv4Address, type Ipv4Cidr, type MacAddress } from "../../stack/wire/address.ts";
import { parseIpv6Address, type Ipv6Address } from "../../stack/wire/ipv6-address.ts";

/** A command-line usage error: exit status 2, printed as one line. */
export class UsageError extends NetlabError {
  /** The command as typed after `netlab` ("sim transfer"), for the message prefix. */
  readonly command: string;
  constructor(command: string, message: string) {
    super("ERR_USAGE", message);
    this.name = "UsageError";
    this.command = command;
  }
}

/**
 * The one-line form of an error: `netlab CMD: [CODE] message` (ERR_UNEXPECTED for an error without
 * a code); a usage error names its own (sub)command and points at its --help.
 */
export function formatCliError(command: string, e: unknown): string {
  const error = e instanceof Error ? e : new Error(String(e));
  const code = (error as { code?: unknown }).code;
  const where = e instanceof UsageError ? e.command : command;
  const message = error.message.trim().replace(/\s*\n\s*/g, "; ");
  const hint = e instanceof UsageError ? ` (see 'netlab ${where} --help')` : "";
  return `netlab ${where}: [${typeof code === "string" ? code : "ERR_UNEXPECTED"}] ${message}${hint}`;
}

/** Why a value was refused: not of the flag's form, or outside its range. */
export type ValueError = "bad-value" | "out-of-range";
/** Outcome of a validator; `detail` says what was expected. */
export type ValueResult<T> = Result<T, ValueError>;
/** A validator of one flag's text. */
export type Validator<T> = (text: string) => ValueResult<T>;

/** The footer every --help ends with: the value rules shared by all commands. */
export const VALUE_RULES =
  "values: sizes in bytes, rates in bit/s: k/M/G/T decimal (10^3...), Ki/Mi/Gi/Ti binary (2^10...); P: fraction or percentage (5%);\n" +
  "        durations: a number in the flag's unit or with us/ms/s/min/h; seeds 0..4294967295; --flag VALUE or --flag=VALUE\n";

/** "in 1..10", ">= 1" or "<= 10" for a range whose open ends are the type's own limits. */
function range(min: number, max: number, unit = ""): string {
  const u = unit === "" ? "" : ` ${unit}`;
  const lowOpen = min <= Number.MIN_SAFE_INTEGER || min === -Number.MAX_VALUE,
    highOpen = max >= Number.MAX_SAFE_INTEGER;
  if (lowOpen && highOpen) return "";
  if (highOpen) return min === Number.MIN_VALUE ? `> 0${u}` : `>= ${min}${u}`;
  if (lowOpen) return `<= ${max}${u}`;
  return min === Number.MIN_VALUE ? `in (0, ${max}]${u}` : `in ${min}..${max}${u}`;
}

const DECIMAL: Record<string, number> = { "": 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 };
const BINARY: Record<string, number> = { ki: 2 ** 10, mi: 2 ** 20, gi: 2 ** 30, ti: 2 ** 40 };
const SCALED = /^([0-9]+(?:\.[0-9]+)?)(k|m|g|t|ki|mi|gi|ti)?$/i;

function scaled(text: string, what: string, min: number, max: number): ValueResult<number> {
  const m = SCALED.exec(text);
  if (m === null) return err("bad-value", `needs ${what} (a number with an optional k/M/G/T or Ki/Mi/Gi/Ti suffix), got '${text}'`);
  const suffix = (m[2] ?? "").toLowerCase();
  const n = Number(m[1]) * (DECIMAL[suffix] ?? BINARY[suffix]!);
  if (!Number.isInteger(n)) return err("bad-value", `needs a whole number of ${what}, got '${text}' (${n})`);
  if (!Number.isSafeInteger(n) || n < min || n > max) return err("out-of-range", `needs ${what} ${range(min, max)}, got '${text}'`);
  return ok(n);
}

/** A size in bytes ("1500", "64Ki", "10M"); bounds inclusive. */
export function parseSize(text: string, min = 0, max = Number.MAX_SAFE_INTEGER): ValueResult<number> {
  return scaled(text, "bytes", min, max);
}

/** A rate in bits per second ("100M", "1G"); 0 often means unlimited. */
export function parseRate(text: string, min = 0, max = Number.MAX_SAFE_INTEGER): ValueResult<number> {
  return scaled(text, "bits per second", min, max);
}

/** A probability: a fraction in [0, 1] ("0.05") or a percentage in [0, 100] ("5%"). */
export function parseProbability(text: string): ValueResult<number> {
  const pct = text.endsWith("%");
  const body = pct ? text.slice(0, -1) : text;
  if (!/^[0-9]+(?:\.[0-9]+)?$|^\.[0-9]+$/.test(body)) return err("bad-value", `needs a probability (0.05 or 5%), got '${text}'`);
  const n = Number(body) / (pct ? 100 : 1);
  return n >= 0 && n <= 1 ? ok(n) : err("out-of-range", `needs a probability in [0, 1] or 0%..100%, got '${text}'`);
}

/** A probability below 1 (a loss rate under which a run can still finish): [0, 1) or 0%..<100%. */
export function parseLossProbability(text: string): ValueResult<number> {
  const r = parseProbability(text);
  return r.ok && r.value === 1 ? err("out-of-range", `needs a probability in [0, 1) (nothing would arrive at 1), got '${text}'`) : r;
}

/** Units a duration may carry, in milliseconds. */
const DURATION_UNITS: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3, min: 60e3, h: 3600e3 };

/** A duration in milliseconds; a bare number is in `bareUnit` (the flag's own). Bounds in ms, inclusive. */
export function parseDuration(text: string, bareUnit: "us" | "ms" | "s" | "min" | "h", minMs = 0, maxMs = Number.MAX_SAFE_INTEGER): ValueResult<number> {
  const m = /^([0-9]+(?:\.[0-9]+)?)(us|ms|s|min|h)?$/.exec(text);
  if (m === null) return err("bad-value", `needs a duration (a number of ${bareUnit}, or with us/ms/s/min/h), got '${text}'`);
  const ms = Number(m[1]) * DURATION_UNITS[m[2] ?? bareUnit]!;
  if (!Number.isFinite(ms) || ms < minMs || ms > maxMs) {
    const unit = DURATION_UNITS[bareUnit]!;
    return err("out-of-range", `needs a duration ${range(minMs / unit, maxMs >= Number.MAX_SAFE_INTEGER ? maxMs : maxMs / unit, bareUnit)}, got '${text}'`);
  }
  return ok(ms);
}

/** An integer (decimal, or 0x hex) in min..max inclusive; unsafe integers are refused. */
export function parseInteger(text: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): ValueResult<number> {
  if (!/^-?(?:[0-9]+|0x[0-9a-f]+)$/i.test(text)) return err("bad-value", `needs an integer, got '${text}'`);
  const negative = text.startsWith("-");
  const magnitude = negative ? text.slice(1) : text;
  const n = (negative ? -1 : 1) * Number(magnitude);
  if (!Number.isSafeInteger(n)) return err("out-of-range", `needs a safe integer (|n| <= 2^53 - 1), got '${text}'`);
  return n >= min && n <= max ? ok(n) : err("out-of-range", `needs an integer ${range(min, max)}, got '${text}'`);
}

/** A finite decimal number in min..max inclusive. */
export function parseNumber(text: string, min = -Number.MAX_VALUE, max = Number.MAX_VALUE): ValueResult<number> {
  if (!/^-?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)$/.test(text)) return err("bad-value", `needs a number, got '${text}'`);
  const n = Number(text);
  return n >= min && n <= max ? ok(n) : err("out-of-range", `needs a number ${range(min, max)}, got '${text}'`);
}

/** Largest seed: createRng() keeps a 32-bit seed, so 0..2^32-1 is the full range it takes. */
export const SEED_MAX = 0xffffffff;

/** A seed for createRng(): an integer in 0..4294967295 (refused, not truncated, outside). */
export function parseSeed(text: string): ValueResult<number> {
  const r = parseInteger(text);
  if (!r.ok) return err(r.error, `needs a seed, an integer in 0..${SEED_MAX}, got '${text}'`);
  return r.value >= 0 && r.value <= SEED_MAX ? r : err("out-of-range", `needs a seed in 0..${SEED_MAX} (the Rng's 32 bits), got '${text}'`);
}

/** A dotted-quad IPv4 address. */
export function parseIpv4Address(text: string): ValueResult<Ipv4Address> {
  const r = parseIpv4(text);
  return r.ok ? r : err("bad-value", `needs an IPv4 address (192.0.2.1), got '${text}'`);
}

/** An IPv4 address with its prefix length ("192.0.2.10/24"). */
export function parseIpv4Cidr(text: string): ValueResult<Ipv4Cidr> {
  const r = parseCidr(text);
  return r.ok ? r : err("bad-value", `needs ADDRESS/PREFIX (192.0.2.10/24), got '${text}'`);
}

/** An IPv6 address with its prefix length ("2001:db8::2/64"), kept as written. */
export function parseIpv6CidrText(text: string): ValueResult<string> {
  const [a, len, ...rest] = text.split("/");
  const ok6 = rest.length === 0 && a !== undefined && parseIpv6Address(a).ok && /^\d{1,3}$/.test(len ?? "") && Number(len) <= 128;
  return ok6 ? ok(text) : err("bad-value", `needs ADDRESS/PREFIX (2001:db8::2/64), got '${text}'`);
}

/** An IPv4 (a number) or IPv6 (16 bytes) address: "192.0.2.1", "2001:db8::1". */
export function parseIpAddress(text: string): ValueResult<Ipv4Address | Ipv6Address> {
  const r = text.includes(":") ? parseIpv6Address(text) : parseIpv4(text);
  return r.ok ? r : err("bad-value", `needs an IPv4 or IPv6 address (192.0.2.1, 2001:db8::1), got '${text}'`);
}

/** A MAC address ("02:00:00:00:00:01"). */
export function parseMacAddress(text: string): ValueResult<MacAddress> {
  const r = parseMac(text);
  return r.ok ? r : err("bad-value", `needs a MAC address (02:00:00:00:00:01), got '${text}'`);
}

/** A validator for one of a fixed set of words. */
export function choice<const T extends string>(...choices: readonly T[]): Validator<T> {
  return (text) => ((choices as readonly string[]).includes(text) ? ok(text as T) : err("bad-value", `needs one of ${choices.join(", ")}, got '${text}'`));
}

/** The options of parseArgs, minus what the layer fixes itself. */
type Options = NonNullable<ParseArgsConfig["options"]>;

/** How a command reads its argv. */
export interface CommandSpec<O extends Options> {
  /** The command as typed after `netlab` ("sim transfer"). */
  readonly command: string;
  /** The text --help prints (the VALUE_RULES footer is added). */
  readonly usage: string;
  /** Its flags (node:util parseArgs form); --help/-h is added. */
  readonly options: O;
  /** Flags that must be given (unless --help). */
  readonly required?: readonly (keyof O & string)[];
  /** Positional arguments allowed (default none). */
  readonly positionals?: { readonly min: number; readonly max: number; readonly name: string };
}

type WithHelp<O extends Options> = O & { help: { type: "boolean"; short: "h" } };
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ options: WithHelp<O>; allowPositionals: true; strict: true }>>;

/** What parseCommandLine found. */
export interface CommandLine<O extends Options> {
  readonly values: Parsed<O>["values"];
  readonly positionals: string[];
  /** --help or -h was given: print helpText(spec) and exit 0. */
  readonly help: boolean;
}

/** The --help text of a command. */
export function helpText(spec: CommandSpec<Options>): string {
  return `${spec.usage.endsWith("\n") ? spec.usage : `${spec.usage}\n`}${VALUE_RULES}`;
}

/** Parses argv against the spec; throws UsageError for unknown flags, missing values or required flags. */
export function parseCommandLine<const O extends Options>(spec: CommandSpec<O>, argv: readonly string[]): CommandLine<O> {
  const options = { ...spec.options, help: { type: "boolean", short: "h" } } as WithHelp<O>;
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(spec.command, describeParseError(e as Error & { code?: string }));
  }
  const values = parsed.values as Record<string, unknown>;
  const help = values["help"] === true;
  delete values["help"];
  if (!help) {
    const missing = (spec.required ?? []).filter((name) => values[name] === undefined);
    if (missing.length > 0) throw new UsageError(spec.command, `${missing.map((m) => `--${m}`).join(", ")} ${missing.length === 1 ? "is" : "are"} required`);
    const p = spec.positionals ?? { min: 0, max: 0, name: "" };
    if (parsed.positionals.length > p.max) throw new UsageError(spec.command, `unexpected argument '${parsed.positionals[p.max]}'`);
    if (parsed.positionals.length < p.min) throw new UsageError(spec.command, `${p.name} is required`);
  }
  return { values: parsed.values, positionals: parsed.positionals, help };
}

/** node:util's messages, shortened to one clause. */
function describeParseError(e: Error & { code?: string }): string {
  const option = /'(-[^' ]+)/.exec(e.message)?.[1];
  switch (e.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option '${option ?? e.message}'`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument '${/'([^']*)'/.exec(e.message)?.[1] ?? e.message}'`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (/argument missing/.test(e.message)) return `${option ?? "an option"} needs a value`;
      if (/does not take an argument/.test(e.message)) return `${option ?? "an option"} takes no value`;
      if (/ambiguous/.test(e.message)) return `${option ?? "an option"} needs a value (a value starting with '-' goes as ${option ?? "--flag"}=VALUE)`;
      return e.message.split("\n")[0]!;
    default:
      return e.message.split("\n")[0]!;
  }
}

/**
 * Checks one flag's text with a validator: undefined when the flag is absent, the value when
 * valid; throws UsageError (`--flag needs ...`) otherwise.
 */
export function flagValue<T>(command: string, flag: string, text: string | undefined, validate: Validator<T>): T | undefined {
  if (text === undefined) return undefined;
  const r = validate(text);
  if (r.ok) return r.value;
  throw new UsageError(command, `--${flag} ${r.detail ?? `is not valid: '${text}'`}`);
}

/** A reader bound to one command and its parsed values: `get("bytes", parseSize)`. */
export function flagReader(command: string, values: Record<string, unknown>): <T>(flag: string, validate: Validator<T>) => T | undefined {
  return (flag, validate) => {
    const text = values[flag];
    if (text !== undefined && typeof text !== "string") throw new UsageError(command, `--${flag} takes a value`);
    return flagValue(command, flag, text, validate);
  };
}
