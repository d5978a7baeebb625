// The model of a packetdrill script (github.com/google/packetdrill, gtests/net/): what the parser
// (parser.ts) produces and the targets (netlab on a virtual clock, the Linux kernel through a
// tap in a namespace) execute. Sequence numbers and timestamps in packets are script-relative;
// the runner maps them to the real ISNs and TS values as packetdrill does.
//   DrillScript  header options, events in order
//   DrillEvent   a packet line, a system call, a shell command or an assert block, with its time
//   DrillTarget  what a target implements (run one script, report per-event outcomes)

/** Where an event sits in its file (1-based line and column), for error messages. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** When an event happens, in microseconds (packetdrill's units). */
export type EventTime =
  /** `0.100`: absolute from the script's start. */
  | { readonly kind: "absolute"; readonly usecs: number }
  /** `+0.100`: relative to the previous event's time. */
  | { readonly kind: "relative"; readonly usecs: number }
  /** `*`: any time (after the previous event). */
  | { readonly kind: "any" }
  /** `a~b` (absolute or `+a~+b`): any time in the range. */
  | { readonly kind: "range"; readonly relative: boolean; readonly startUsecs: number; readonly endUsecs: number };

/** One TCP option on a packet line; `any` is the `<...>` wildcard (options not checked). */
export type DrillTcpOption =
  | { readonly kind: "mss"; readonly value: number }
  | { readonly kind: "wscale"; readonly value: number }
  | { readonly kind: "sackOK" }
  | { readonly kind: "sack"; readonly blocks: ReadonlyArray<readonly [number, number]> }
  | { readonly kind: "TS"; readonly val: number; readonly ecr: number }
  | { readonly kind: "nop" }
  | { readonly kind: "eol" }
  | { readonly kind: "any" }
  /** Added by the parser (additive): an option it reads but targets do not model (FO, md5, ...);
   *  a target skips the script naming `text`. */
  | { readonly kind: "other"; readonly text: string };

/** A TCP packet line: `< S 0:0(0) win 32792 <mss 1460,sackOK,nop,nop,nop,wscale 7>`. */
export interface DrillTcpPacket {
  readonly protocol: "tcp";
  /** "<" inject into the stack, ">" expect from the stack. */
  readonly direction: "inbound" | "outbound";
  /** Flag letters as written: any of S F R P . (ACK) E (ECE) W (CWR) U (URG), "-" for none. */
  readonly flags: string;
  /** Relative sequence range start:end(len); undefined when the line omits it. */
  readonly seq?: { readonly start: number; readonly end: number; readonly length: number };
  /** Relative ack (undefined: no ACK field given, i.e. not checked / not set). */
  readonly ack?: number;
  readonly window?: number;
  readonly urgent?: number;
  /** undefined: the line has no option list (outbound: not checked; inbound: none sent). */
  readonly options?: readonly DrillTcpOption[];
  /** IP extras: `(ect0)`, `(ect1)`, `(ce)`, `(noecn)`, `tos 0x..`, `ttl N`. */
  readonly ecn?: "noecn" | "ect0" | "ect1" | "ce" | "ect01"; // ect01 (either ECT) added by the parser
  readonly tos?: number;
  readonly ttl?: number;
}

/** `< udp (1000)` / `> udp (1000)`. */
export interface DrillUdpPacket {
  readonly protocol: "udp";
  readonly direction: "inbound" | "outbound";
  readonly length: number;
}

/** `< icmp unreachable frag_needed mtu 1200 [1:1461(1460)]` and the like (kept as words). */
export interface DrillIcmpPacket {
  readonly protocol: "icmp";
  readonly direction: "inbound" | "outbound";
  readonly words: readonly string[];
}

export type DrillPacket = DrillTcpPacket | DrillUdpPacket | DrillIcmpPacket;

/** A system call argument or result, as written. */
export type DrillValue =
  | { readonly kind: "number"; readonly value: number }
  | { readonly kind: "string"; readonly value: string }
  /** An identifier or constant: AF_INET, SOCK_STREAM, SOL_SOCKET, O_NONBLOCK, ... */
  | { readonly kind: "name"; readonly value: string }
  /** `...`: any value. */
  | { readonly kind: "ellipsis" }
  /** `[1]`, `[{fd=5, events=POLLIN, revents=0}]`. */
  | { readonly kind: "list"; readonly items: readonly DrillValue[] }
  /** `{l_onoff=1, l_linger=0}`, `{sin_family=AF_INET, ...}`. */
  | { readonly kind: "struct"; readonly fields: ReadonlyArray<readonly [string, DrillValue]> }
  /** `O_NONBLOCK|O_RDWR`. */
  | { readonly kind: "or"; readonly items: readonly DrillValue[] }
  /** Added by the parser (additive): `htons(8080)`, `inet_addr("192.0.2.1")`. */
  | { readonly kind: "call"; readonly name: string; readonly args: readonly DrillValue[] };

/** `0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3` or `= -1 EAGAIN (Resource temporarily unavailable)`. */
export interface DrillSyscall {
  readonly name: string;
  readonly args: readonly DrillValue[];
  /** The expected return value. */
  readonly result: number | "ellipsis";
  /** Expected errno name when result is -1. */
  readonly errno?: string;
  /** `+0...0.100 read(...)`: a blocking call that returns at the end time. The parser sets
   *  relative: true for `+t...u` (returns u after the call's start) and false for `t...u`
   *  (returns at absolute time u). */
  readonly blockingEndUsecs?: { readonly relative: boolean; readonly usecs: number };
}

export type DrillEventBody =
  | { readonly kind: "packet"; readonly packet: DrillPacket }
  | { readonly kind: "syscall"; readonly call: DrillSyscall }
  /** `` `sysctl -q net.ipv4.tcp_sack=0` `` (backticks removed). */
  | { readonly kind: "shell"; readonly command: string }
  /** `%{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%` (the code between the braces). */
  | { readonly kind: "code"; readonly source: string };

/** One line (or block) of a script. */
export interface DrillEvent {
  readonly pos: SourcePos;
  readonly time: EventTime;
  readonly body: DrillEventBody;
}

/** A parsed script. */
export interface DrillScript {
  readonly file: string;
  /** Options from header comments and `--name=value` lines (e.g. tolerance_usecs). */
  readonly options: ReadonlyMap<string, string>;
  readonly events: readonly DrillEvent[];
}

/** A parse failure: where and why. */
export interface DrillParseError {
  readonly pos: SourcePos;
  readonly message: string;
}

/** The outcome of one script on one target. */
export interface DrillResult {
  readonly file: string;
  readonly target: "netlab" | "kernel";
  readonly result: "pass" | "fail" | "skip";
  /** For fail/skip: why (the construct named for a skip; expected vs. actual for a fail). */
  readonly reason?: string;
  /** The event that failed or caused the skip. */
  readonly pos?: SourcePos;
  readonly durationMs: number;
  /** A pcap of the run when it failed (path). */
  readonly pcap?: string;
}

/** Options every target takes. */
export interface DrillRunOptions {
  /** Timing tolerance floor in microseconds (packetdrill's --tolerance_usecs, default 4000). */
  readonly toleranceUsecs: number;
  /** Where to write a failing run's capture, if anywhere. */
  readonly pcapDir?: string;
  /** Whole-script limit in milliseconds of wall time (kernel) or virtual time (netlab). */
  readonly scriptTimeoutMs: number;
  /** IP version of a script without an `--ip_version` header option (packetdrill's flag; default 4; "mapped": AF_INET6 sockets over IPv4). */
  readonly ipVersion?: 4 | 6 | "mapped";
}

/** A target runs scripts. */
export interface DrillTarget {
  readonly name: "netlab" | "kernel";
  run(script: DrillScript, options: DrillRunOptions): Promise<DrillResult>;
  /** Releases what the target holds (namespaces, taps). Always called, also on Ctrl-C. */
  close(): Promise<void>;
}

/** packetdrill's timing tolerance for an event `gapUsecs` after the previous one. */
export function toleranceFor(gapUsecs: number, floorUsecs: number): number {
  return Math.max(floorUsecs, Math.abs(gapUsecs) / 8);
}
