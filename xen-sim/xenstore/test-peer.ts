// Test helper: a raw wire peer of a xenstore server that records every message it receives.
//   createRawPeer   connect as domid; request() sends one message and returns the replies it caused

import type { XenstoreConnection, XenstoreServer } from "./types.ts";
import { createXsDecoder, emitXsMessage, joinStrings, latin1, splitStrings, XS_ERROR, type XsMessage } from "./wire.ts";

/** A decoded message with its payload as text. */
export interface PeerMessage extends XsMessage {
  readonly text: string;
  readonly strings: string[] | null;
}

/** A wire-level peer of the server. */
export interface RawPeer {
  readonly conn: XenstoreConnection;
  /** Everything received since the last take(). */
  take(): PeerMessage[];
  /** Sends type/args (joined NUL-terminated) and returns the first reply (not a watch event). */
  request(type: number, args: readonly string[] | Uint8Array, txId?: number, reqId?: number): PeerMessage;
  /** Like request, but returns the errno name of an ERROR reply or "OK"/the text. */
  call(type: number, args: readonly string[] | Uint8Array, txId?: number): string;
  readonly closedWith: string | null;
  readonly events: PeerMessage[];
}

export function createRawPeer(server: XenstoreServer, domid: number): RawPeer {
  const decoder = createXsDecoder();
  let inbox: PeerMessage[] = [];
  const events: PeerMessage[] = [];
  let closedWith: string | null = null;
  const conn = server.connect(domid, {
    send(bytes) {
      const r = decoder.push(bytes);
      if (!r.ok) throw new Error("server sent a bad frame");
      for (const m of r.value) {
        const pm = { ...m, text: latin1(m.payload), strings: splitStrings(m.payload) };
        inbox.push(pm);
        if (m.type === 15) events.push(pm);
      }
    },
    close(reason) {
      closedWith = reason;
    },
  });
  const peer: RawPeer = {
    conn,
    events,
    get closedWith() {
      return closedWith;
    },
    take() {
      const out = inbox;
      inbox = [];
      return out;
    },
    request(type, args, txId = 0, reqId = 7) {
      const payload = args instanceof Uint8Array ? args : joinStrings(args);
      const before = inbox.length;
      conn.receive(emitXsMessage(type, reqId, txId, payload));
      const reply = inbox.slice(before).find((m) => m.type !== 15);
      if (!reply) throw new Error("no reply");
      return reply;
    },
    call(type, args, txId = 0) {
      const r = peer.request(type, args, txId);
      if (r.type === XS_ERROR) return r.strings?.[0] ?? "?";
      return r.strings?.join(",") ?? r.text;
    },
  };
  return peer;
}
