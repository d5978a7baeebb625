// The segment writer: the one place where TCP headers are written for output. A
// connection's segments (writeSegment: data, ACKs, SYNs, FINs, probes, with its timestamps,
// SACK blocks and advertised window), resets with no connection state (writeReset, for a
// connection's ABORT and the layer's answers to segments for no connection) and the layer's
// SYN-cookie SYN-ACKs and TIME-WAIT records' ACKs (writeStatelessSegment).
import type { Ipv4Layer, Ipv4SendOptions } from "../../net/types.ts";
import {
  TCP_FLAG_ACK,
  TCP_FLAG_CWR,
  TCP_FLAG_ECE,
  TCP_FLAG_RST,
  emitTcp,
  emitTcpOptions,
  tcpHeaderLength,
  tcpOptionsLength,
  type SackBlock,
  type TcpOptions,
  type TcpRepr,
} from "../../wire/tcp.ts";
import { checksumAdd, checksumFinish, pseudoHeaderSum } from "../../wire/checksum.ts";
import { seqAdd, seqGt, seqLt, seqSub } from "./seq.ts";
import { NONE, type Tcb } from "./state.ts";
import type { TcpStats } from "./types.ts";

/** What writing a segment without a connection needs (the layer). */
export interface SegmentSink {
  readonly ip: Ipv4Layer;
  readonly stats: TcpStats;
  allocate(n: number): Uint8Array;
}

/** Writes and sends one segment. `synOptions` set means a SYN or SYN-ACK. */
export function writeSegment(c: Tcb, flags: number, seq: number, offset: number, len: number, synOptions: TcpOptions | undefined, gso = false): void {
  const ctx = c.ctx;
  // RFC 3168 §6.1: new data of an ECN connection is ECT(0) and the first carries CWR after a
  // reduction; retransmissions, pure ACKs and SYNs are not ECT; every ACK echoes CE with ECE
  // until the peer's CWR
  let ect = false;
  const ecn = c.ecn;
  if (ecn !== null && synOptions === undefined) {
    if (ecn.echoing && (flags & TCP_FLAG_ACK) !== 0) flags |= TCP_FLAG_ECE;
    if (len > 0 && !seqLt(seq, c.sndMax)) {
      ect = true;
      if (ecn.cwrPending) {
        flags |= TCP_FLAG_CWR;
        ecn.cwrPending = false;
        ctx.stats.ecnCwrSent++;
      }
    }
  }
  let sackBlocks: SackBlock[] | undefined;
  let optLen: number;
  if (synOptions !== undefined) optLen = tcpOptionsLength(synOptions);
  else {
    optLen = c.tsOk ? 12 : 0;
    if (c.sackOk && (flags & TCP_FLAG_ACK) !== 0) {
      const max = c.tsOk ? 3 : 4;
      if (c.dsackLeft !== c.dsackRight) {
        // RFC 2883 §4: the duplicate first, once, then the ordinary blocks
        sackBlocks = c.ooo === null || c.ooo.empty ? [] : c.ooo.sackBlocks(max - 1);
        sackBlocks.unshift({ left: c.dsackLeft, right: c.dsackRight });
        c.dsackLeft = c.dsackRight = 0;
        c.dsackSent++;
        ctx.stats.dsackSent++;
      } else if (c.ooo !== null && !c.ooo.empty) {
        sackBlocks = c.ooo.sackBlocks(max);
      }
      if (sackBlocks !== undefined) optLen += 4 + 8 * sackBlocks.length;
    }
  }
  const hl = 20 + optLen;
  // GSO segments are the ones too large for the slab: their buffers are recycled.
  const loan = gso ? ctx.lend(hl + len) : undefined;
  const b = loan === undefined ? ctx.allocate(hl + len) : loan.data;
  // A lent buffer holds old bytes: clear what is not written below (urgent pointer, option padding).
  if (loan !== undefined) b.fill(0, 16, hl);
  b[0] = c.localPort >>> 8;
  b[1] = c.localPort & 0xff;
  b[2] = c.remotePort >>> 8;
  b[3] = c.remotePort & 0xff;
  b[4] = seq >>> 24;
  b[5] = (seq >>> 16) & 0xff;
  b[6] = (seq >>> 8) & 0xff;
  b[7] = seq & 0xff;
  const ackNum = (flags & TCP_FLAG_ACK) !== 0 ? c.rcvNxt : 0;
  b[8] = ackNum >>> 24;
  b[9] = (ackNum >>> 16) & 0xff;
  b[10] = (ackNum >>> 8) & 0xff;
  b[11] = ackNum & 0xff;
  b[12] = (hl >>> 2) << 4;
  b[13] = flags;
  const wnd = (flags & TCP_FLAG_RST) !== 0 ? 0 : synOptions !== undefined ? Math.min(65535, ctx.options.receiveBufferSize) : windowToAdvertise(c);
  b[14] = wnd >>> 8;
  b[15] = wnd & 0xff;
  if (synOptions !== undefined) {
    emitTcpOptions(synOptions, b, 20);
    if ((flags & TCP_FLAG_ACK) !== 0) c.rcvAdvRight = seqAdd(c.rcvNxt, wnd);
  } else {
    let o = 20;
    if (c.tsOk) {
      const tv = tsNow(c),
        te = c.tsRecent;
      b[o] = 1;
      b[o + 1] = 1;
      b[o + 2] = 8;
      b[o + 3] = 10;
      b[o + 4] = tv >>> 24;
      b[o + 5] = (tv >>> 16) & 0xff;
      b[o + 6] = (tv >>> 8) & 0xff;
      b[o + 7] = tv & 0xff;
      b[o + 8] = te >>> 24;
      b[o + 9] = (te >>> 16) & 0xff;
      b[o + 10] = (te >>> 8) & 0xff;
      b[o + 11] = te & 0xff;
      o += 12;
    }
    if (sackBlocks !== undefined) emitTcpOptions({ sackBlocks }, b, o);
  }
  if (len > 0) c.sendBuf!.copyTo(offset, len, b, hl);
  const total = hl + len;
  const ph = pseudoHeaderSum(c.localAddress, c.remoteAddress, 6, total);
  const offload = ctx.options.txChecksumOffload || gso;
  const csum = offload ? ph : ctx.checksum(b, ph);
  b[16] = csum >>> 8;
  b[17] = csum & 0xff;
  if ((flags & TCP_FLAG_ACK) !== 0) {
    c.lastAckSent = c.rcvNxt;
    c.rcvUnacked = 0;
    c.ackNow = false;
    c.delackAt = NONE;
    // Linux's tcp_dec_quickack_mode: each ACK of received data uses one quick ACK
    if (c.ackScheduled) {
      c.ackScheduled = false;
      if (c.quickAcks > 0) c.quickAcks--;
    }
  }
  // Linux's pingpong (tcp_event_data_sent): data sent within the delayed-ACK time of data
  // received makes the connection interactive; its ACKs wait to ride on the replies
  if (len > 0 && c.lastDataAt >= 0 && c.ctx.clock.now() - c.lastDataAt < ctx.options.delayedAckMs) c.interactive = true;
  ctx.stats.segmentsSent++;
  ctx.stats.bytesSent += len;
  // Don't Fragment on every segment: path MTU discovery (RFC 1191), as Linux does
  ctx.ip.send(
    c.remoteAddress,
    6,
    b,
    gso
      ? {
          dontFragment: true,
          src: c.localAddress,
          tos: ect ? 2 : 0,
          offload: { csumBlank: true, gsoSize: c.mss },
          ...(loan === undefined ? {} : { release: loan.release }),
        }
      : offload
        ? ect
          ? c.sendOptions.ectOffload
          : c.sendOptions.offload
        : ect
          ? c.sendOptions.ect
          : c.sendOptions.plain,
  );
}

/**
 * The window field for a non-SYN segment (RFC 9293 §3.8.6.2.2 receiver SWS avoidance, RFC 7323
 * §2.3 scaling), as Linux's tcp_select_window: it moves c.rcvAdvRight forward (never back), and
 * calling it again without new data or reads gives the same field.
 */
export function windowToAdvertise(c: Tcb): number {
  const bufSize = c.ctx.options.receiveBufferSize;
  const free = Math.max(0, bufSize - c.recvQueued);
  const newRight = seqAdd(c.rcvNxt, free);
  const grow = seqSub(newRight, c.rcvAdvRight);
  if (grow > 0 && grow >= Math.min(bufSize / 2, c.rcvMss)) {
    c.rcvAdvRight = newRight;
  }
  let wnd = Math.max(0, seqSub(c.rcvAdvRight, c.rcvNxt));
  const shift = c.rcvWscale;
  let field = (wnd + (1 << shift) - 1) >>> shift;
  if (field > 65535) field = 65535;
  wnd = field << shift;
  if (seqGt(seqAdd(c.rcvNxt, wnd), c.rcvAdvRight)) c.rcvAdvRight = seqAdd(c.rcvNxt, wnd);
  return field;
}

export function emitReset(c: Tcb, seq: number, ack: number, withAck: boolean): void {
  writeReset(c.ctx, c.localAddress, c.remoteAddress, c.localPort, c.remotePort, seq, ack, withAck);
}

export function tsNow(c: Tcb): number {
  return (Math.floor(c.ctx.clock.now()) + c.tsOffset) >>> 0;
}

/** Writes and sends a bare 20-byte RST (RST|ACK when `withAck`), counted in resetsSent (RFC 9293 §3.10.7.1, §3.10.4). */
export function writeReset(sink: SegmentSink, src: number, dst: number, srcPort: number, dstPort: number, seq: number, ack: number, withAck: boolean): void {
  sink.stats.resetsSent++;
  const s = sink.allocate(20);
  s.fill(0);
  s[0] = srcPort >>> 8;
  s[1] = srcPort & 0xff;
  s[2] = dstPort >>> 8;
  s[3] = dstPort & 0xff;
  s[4] = seq >>> 24;
  s[5] = (seq >>> 16) & 0xff;
  s[6] = (seq >>> 8) & 0xff;
  s[7] = seq & 0xff;
  if (withAck) {
    s[8] = ack >>> 24;
    s[9] = (ack >>> 16) & 0xff;
    s[10] = (ack >>> 8) & 0xff;
    s[11] = ack & 0xff;
  }
  s[12] = 5 << 4;
  s[13] = TCP_FLAG_RST | (withAck ? TCP_FLAG_ACK : 0);
  const csum = checksumFinish(checksumAdd(s, pseudoHeaderSum(src, dst, 6, 20)));
  s[16] = csum >>> 8;
  s[17] = csum & 0xff;
  sink.stats.segmentsSent++;
  sink.ip.send(dst, 6, s, { src });
}

/** Writes and sends a segment no connection owns (the layer's SYN-cookie SYN-ACK, a TIME-WAIT record's ACK). */
export function writeStatelessSegment(sink: SegmentSink, src: number, dst: number, repr: TcpRepr, sendOptions: Ipv4SendOptions = { src }): void {
  const b = sink.allocate(tcpHeaderLength(repr) + repr.payload.length);
  emitTcp(repr, b, 0, { src, dst });
  sink.stats.segmentsSent++;
  sink.ip.send(dst, 6, b, sendOptions);
}
