// Differential runs of xenstore request scripts against netlab's xenstored and Debian's real one.
// Each step sends one message (or raw bytes) on a named connection; afterwards every open
// connection is pinged, so all replies and watch events caused by the step are collected
// before the next one. Answers are rendered with transaction ids and DIRECTORY_PART generations
// replaced by symbols in order of appearance (T1, T2 … / G1, G2 …), then compared step by step.
//   DiffStep / DiffScript    the request language (helpers: open, send, raw, dies)
//   DiffTarget               where a script runs (netlabTarget, realTarget)
//   runScript                one script on one target → one rendered line per step
//   compareScripts           both targets, step by step → agreements and differences

import { createXenstoreServer } from "../../../xen-sim/xenstore/server.ts";
import type { XenstoreServerOptions } from "../../../xen-sim/xenstore/types.ts";
import {
  XS_DIRECTORY_PART,
  XS_ERROR,
  XS_GET_DOMAIN_PATH,
  XS_IS_DOMAIN_INTRODUCED,
  XS_TRANSACTION_START,
  createXsDecoder,
  emitXsMessage,
  fromLatin1,
  latin1,
  xsTypeName,
  type XsMessage,
} from "../../../xen-sim/xenstore/wire.ts";
import { startRealXenstored, type RawXsConn } from "./real-xenstored.ts";

/** One step of a script. `body` is latin1 text with explicit "\0" separators. */
export type DiffStep =
  | { readonly op: "open"; readonly conn: string; readonly domid: number }
  | { readonly op: "send"; readonly conn: string; readonly type: number; readonly body: string; readonly tx?: string | number; readonly reqId?: number }
  | { readonly op: "raw"; readonly conn: string; readonly bytes: Uint8Array }
  | { readonly op: "dies"; readonly domid: number }
  | { readonly op: "gone"; readonly conn: string };

/** A named sequence of steps; every script starts from a fresh daemon. */
export interface DiffScript {
  readonly name: string;
  readonly steps: readonly DiffStep[];
}

/** Where a script runs. */
export interface DiffTarget {
  readonly name: string;
  openDom0(name: string): Promise<RawXsConn>;
  openDomain(name: string, domid: number): Promise<RawXsConn>;
  /** The domain goes away; resolves once the daemon has noticed. */
  domainDies(domid: number): Promise<void>;
  stop(): Promise<void>;
}

export const open = (conn: string, domid: number): DiffStep => ({ op: "open", conn, domid });
export const send = (conn: string, type: number, body: string, tx?: string | number): DiffStep =>
  tx === undefined ? { op: "send", conn, type, body } : { op: "send", conn, type, body, tx };
export const raw = (conn: string, bytes: Uint8Array): DiffStep => ({ op: "raw", conn, bytes });
export const dies = (domid: number): DiffStep => ({ op: "dies", domid });
/** The script stops using a connection (a released domU's ring): not a check, no output. */
export const gone = (conn: string): DiffStep => ({ op: "gone", conn });

/** netlab's server in this process; a connection's sink feeds a decoder, as a socket would. */
export function netlabTarget(options: XenstoreServerOptions = {}): DiffTarget {
  const server = createXenstoreServer(options);
  function conn(name: string, domid: number): RawXsConn {
    const decoder = createXsDecoder();
    const c: RawXsConn = {
      name,
      inbox: [],
      closed: false,
      send: (bytes) => xs.receive(bytes),
      waitFor: async (pred) => pred(c.inbox),
      close: () => xs.close(),
    };
    const xs = server.connect(domid, {
      send(m) {
        const r = decoder.push(m);
        if (r.ok) for (const x of r.value) c.inbox.push({ ...x, payload: x.payload.slice() });
      },
      close() {
        c.closed = true;
      },
    });
    return c;
  }
  return {
    name: "netlab",
    openDom0: async (name) => conn(name, 0),
    openDomain: async (name, domid) => conn(name, domid),
    domainDies: async (domid) => server.releaseDomain(domid),
    stop: async () => server.close(),
  };
}

/** Debian's xenstored under the shim, started afresh. */
export async function realTarget(args: readonly string[] = []): Promise<DiffTarget> {
  const d = await startRealXenstored({ args });
  // A connection of the harness's own (not in any script) that asks until the daemon has seen
  // the death (VIRQ_DOM_EXC arrives asynchronously); its check_domains() pass fires every watch
  // before it answers.
  const probe = await d.connectDom0("probe");
  let probeId = 0;
  return {
    name: "real",
    openDom0: (name) => d.connectDom0(name),
    openDomain: async (name, domid) => d.connectDomain(name, domid),
    async domainDies(domid) {
      d.domainDies(domid);
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        const id = ++probeId;
        probe.send(emitXsMessage(XS_IS_DOMAIN_INTRODUCED, id, 0, fromLatin1(`${domid}\0`)));
        await probe.waitFor((inbox) => inbox.some((m) => m.reqId === id), STEP_TIMEOUT_MS);
        const reply = probe.inbox.find((m) => m.reqId === id);
        if (reply && latin1(reply.payload) === "F\0") return;
        await new Promise((r) => setTimeout(r, 5));
      }
      throw new Error(`real xenstored did not notice dom${domid}'s death`);
    },
    stop: () => d.stop(),
  };
}

const PING_BASE = 0x7e570000;
const STEP_TIMEOUT_MS = Number(process.env.XSD_STEP_TIMEOUT ?? 5000);

function renderPayload(p: Uint8Array): string {
  const s = latin1(p).replace(/\0/g, "\\0");
  return s.length > 120 ? `${s.slice(0, 60)}…(${p.length} bytes)` : s;
}

/** Runs one script on one target; returns one rendered line per step. */
export async function runScript(target: DiffTarget, script: DiffScript): Promise<string[]> {
  const conns = new Map<string, RawXsConn>();
  const seen = new Map<RawXsConn, number>();
  // Transaction ids are per connection in both daemons: symbols are keyed by connection too.
  const txSym = new Map<string, string>();
  const symTx = new Map<string, number>();
  const genSym = new Map<string, string>();
  let ping = 0;
  const out: string[] = [];

  function render(conn: string, m: XsMessage): string {
    let payload = renderPayload(m.payload);
    if (m.type === XS_TRANSACTION_START && m.payload.length > 0) {
      const key = `${conn}:${Number(latin1(m.payload).replace(/\0$/, ""))}`;
      if (!txSym.has(key)) {
        const s = `T${txSym.size + 1}`;
        txSym.set(key, s);
        symTx.set(s, Number(key.split(":")[1]));
      }
      payload = `${txSym.get(key)}\\0`;
    } else if (m.type === XS_DIRECTORY_PART) {
      const nul = m.payload.indexOf(0);
      const gen = latin1(m.payload.subarray(0, nul < 0 ? m.payload.length : nul));
      if (!genSym.has(gen)) genSym.set(gen, `G${genSym.size + 1}`);
      payload = `${genSym.get(gen)}${renderPayload(m.payload.subarray(nul < 0 ? m.payload.length : nul))}`;
    }
    const tx = m.txId === 0 ? "0" : (txSym.get(`${conn}:${m.txId}`) ?? `?${m.txId}`);
    return `${m.type === XS_ERROR ? "ERROR" : xsTypeName(m.type)} r${m.reqId} t${tx} ${payload}`;
  }

  async function settle(first: RawXsConn | undefined): Promise<string> {
    const order = first ? [first, ...[...conns.values()].filter((c) => c !== first)] : [...conns.values()];
    const parts: string[] = [];
    for (const c of order) {
      if (c.closed && (seen.get(c) ?? 0) >= c.inbox.length) continue;
      const id = PING_BASE + ++ping;
      if (!c.closed) c.send(emitXsMessage(XS_GET_DOMAIN_PATH, id, 0, fromLatin1("0\0")));
      const got = await c.waitFor((inbox) => inbox.some((m) => m.reqId === id), STEP_TIMEOUT_MS);
      const from = seen.get(c) ?? 0;
      const msgs = c.inbox.slice(from).filter((m) => m.reqId < PING_BASE || m.reqId > PING_BASE + 0xffff);
      seen.set(c, c.inbox.length);
      const lines = msgs.map((m) => render(c.name, m));
      if (c.closed) lines.push("CLOSED");
      else if (!got) lines.push("NO-REPLY");
      if (lines.length > 0) parts.push(`${c.name}: ${lines.join(" | ")}`);
    }
    return parts.join(" ;; ");
  }

  let n = 0;
  for (const step of script.steps) {
    n++;
    switch (step.op) {
      case "open": {
        const c = step.domid === 0 ? await target.openDom0(step.conn) : await target.openDomain(step.conn, step.domid);
        conns.set(step.conn, c);
        out.push(`open ${step.conn} as dom${step.domid}`);
        break;
      }
      case "send": {
        const c = conns.get(step.conn);
        if (!c) throw new Error(`script ${script.name}: no connection ${step.conn}`);
        const tx = typeof step.tx === "string" ? (symTx.get(step.tx) ?? 0xdead) : (step.tx ?? 0);
        c.send(emitXsMessage(step.type, step.reqId ?? n, tx, fromLatin1(step.body)));
        out.push(await settle(c));
        break;
      }
      case "raw": {
        const c = conns.get(step.conn);
        if (!c) throw new Error(`script ${script.name}: no connection ${step.conn}`);
        c.send(step.bytes);
        out.push(await settle(c));
        break;
      }
      case "gone":
        conns.get(step.conn)?.close();
        conns.delete(step.conn);
        out.push(`gone ${step.conn}`);
        break;
      case "dies":
        await target.domainDies(step.domid);
        out.push(await settle(undefined));
        break;
    }
  }
  return out;
}

/** One step where the two targets answered differently. */
export interface DiffDifference {
  readonly script: string;
  readonly step: number;
  readonly request: string;
  readonly netlab: string;
  readonly real: string;
}

/** Renders a step for a report. */
export function describeStep(step: DiffStep): string {
  switch (step.op) {
    case "open":
      return `open ${step.conn} dom${step.domid}`;
    case "send":
      return `${step.conn} ${xsTypeName(step.type)}${step.tx !== undefined ? ` tx=${step.tx}` : ""} ${renderPayload(fromLatin1(step.body))}`;
    case "raw":
      return `${step.conn} raw ${step.bytes.length} bytes`;
    case "dies":
      return `dom${step.domid} dies`;
    case "gone":
      return `${step.conn} gone`;
  }
}

/** Runs every script on both targets (a fresh daemon each) and compares step by step. */
export async function compareScripts(
  scripts: readonly DiffScript[],
  makeNetlab: () => DiffTarget,
  makeReal: () => Promise<DiffTarget>,
): Promise<{ checks: number; agree: number; differences: DiffDifference[] }> {
  let checks = 0,
    agree = 0;
  const differences: DiffDifference[] = [];
  for (const s of scripts) {
    const a = makeNetlab();
    const ours = await runScript(a, s).finally(() => a.stop());
    const b = await makeReal();
    const theirs = await runScript(b, s).finally(() => b.stop());
    s.steps.forEach((step, i) => {
      if (step.op === "open" || step.op === "gone") return;
      checks++;
      if (ours[i] === theirs[i]) agree++;
      else differences.push({ script: s.name, step: i + 1, request: describeStep(step), netlab: ours[i] ?? "", real: theirs[i] ?? "" });
    });
  }
  return { checks, agree, differences };
}
