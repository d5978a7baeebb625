import { it, expect } from "vitest";
import { createTcpPathPair } from "../../stack/transport/tcp/test-peer.ts";
import { unwrap } from "../../stack/result.ts";
for (const [loss, reorder, dup, corrupt, cc] of [[0.01,0,0,0,"cubic"],[0.05,0.05,0.01,0.01,"cubic"],[0.1,0.05,0.02,0.02,"newreno"],[0.05,0,0,0,"cubic"]] as const)
for (const sack of [true, false])
it(`smoke loss ${loss} sack ${sack} ${cc}`, () => {
  const p = createTcpPathPair({ seed: 3, impair: { delayMs: 5, loss, reorder, duplicate: dup, corrupt }, a: { sack, congestionControl: cc }, b: { sack } });
  const l = unwrap(p.b.listen(80));
  const chunks: Uint8Array[] = []; let got = 0; let ended = false; let closedA: unknown = "no", closedB = false;
  l.onConnection((s) => { s.onData((d) => { chunks.push(d.slice()); got += d.length; }); s.onEnd(() => { ended = true; s.end(); }); s.onClose(() => { closedB = true; }); });
  const c = unwrap(p.a.connect(p.addrB, 80));
  const N = 2_000_000;
  const data = new Uint8Array(N); for (let i = 0; i < N; i++) data[i] = (i * 7 + (i >> 10)) & 0xff;
  c.onConnect(() => { c.write(data); c.end(); });
  let doneAt = 0; c.onClose((e) => { closedA = e; doneAt = p.clock.now(); });
  p.clock.run(600000);
  const all = new Uint8Array(got); let o = 0; for (const ch of chunks) { all.set(ch, o); o += ch.length; }
  console.log(performance.now(), doneAt, loss, sack, got, ended, closedA, closedB, p.clock.now(), p.a.stats.retransmits, p.a.stats.timeouts, p.a.stats.fastRetransmits, p.counters);
  expect(got).toBe(N);
  let same = true; for (let i = 0; i < N; i++) if (all[i] !== data[i]) { same = false; break; }
  expect(same).toBe(true);
});
