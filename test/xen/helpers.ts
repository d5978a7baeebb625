// Shared fixtures of the Xen network tests: a toolstack with a logged xenstore, a bridge,
// netback (settle promises with settleByPumping from stack/settle.ts).
import { createRng, createVirtualClock } from "../../stack/time.ts";
import type { XenstoreLogRecord } from "../../xen-sim/xenstore/types.ts";
import { createToolstack } from "../../xen-sim/toolstack/toolstack.ts";
import { createBridge } from "../../xen-sim/net/bridge.ts";
import { createNetback } from "../../xen-sim/net/netback.ts";
import type { Netback, NetPeerError } from "../../xen-sim/net/types.ts";

export function dom0World(seed = 1) {
  const clock = createVirtualClock();
  const log: XenstoreLogRecord[] = [];
  const ts = createToolstack({ clock, rng: createRng(seed) }, { xenstore: { log: (r) => log.push(r) } });
  const bridge = createBridge({ clock });
  const peerErrors: NetPeerError[] = [];
  const startNetback = (): Netback => {
    const nb = createNetback({ dom0: ts.dom0, xs: ts.xs, clock, bridges: (n) => (n === bridge.name ? bridge : undefined) });
    nb.onPeerError((e) => peerErrors.push(e));
    return nb;
  };
  return { clock, ts, bridge, log, peerErrors, startNetback };
}

/** Values written to `path` (WRITE records), in order, with the writer's domid and transaction. */
export function writesTo(log: readonly XenstoreLogRecord[], path: string): { domid: number; txId: number; value: string }[] {
  const out: { domid: number; txId: number; value: string }[] = [];
  for (const r of log) {
    if (r.type !== "WRITE" || r.reply !== "OK") continue;
    const [p = "", value = ""] = (r.args.length === 1 ? r.args[0]!.split("\0") : r.args) as string[];
    const abs = p.startsWith("/") ? p : `/local/domain/${r.domid}/${p}`;
    if (abs === path) out.push({ domid: r.domid, txId: r.txId, value });
  }
  return out;
}
