// One TCP connection as the application sees it: TcpConnection, the ByteStream facade over
// the connection's private state record (state.ts's Tcb), which the modules of this folder
// drive: handshake (opening), input (segment arrival), receiver, sender, recovery
// (loss recovery), deadlines/timers (the one Clock timer), close (ending) and
// segment-writer (every header). Nothing mutable is reachable through the facade;
// info() is the snapshot of the state.
// createConnection: the Tcb and its facade, for the layer; TcpConnection: the facade.
import { NetlabError } from "../../error.ts";
import type { ByteStream } from "../types.ts";
import type { CongestionControlName } from "./congestion.ts";
import { Bbr } from "./bbr.ts";
import { close } from "./close.ts";
import { armTimer } from "./deadlines.ts";
import { NEWRENO_RECOVERY } from "./recovery.ts";
import { ackAfterRead, flushReceived, maybeWindowUpdate } from "./receiver.ts";
import { output } from "./sender.ts";
import { emitReset } from "./segment-writer.ts";
import { seqSub } from "./seq.ts";
import { NONE, State, Tcb, stateName, type CloseHandler, type DataHandler, type TcpContext, type VoidHandler } from "./state.ts";
import type { TcpInfo, TcpStateName } from "./types.ts";

/** Creates a connection's state record with its ByteStream facade (state CLOSED, not yet opened). */
export function createConnection(
  ctx: TcpContext,
  localAddress: number,
  localPort: number,
  remoteAddress: number,
  remotePort: number,
  congestionControl: CongestionControlName,
  noDelay: boolean,
  hystart: boolean = ctx.options.hystart,
): Tcb {
  const c = new Tcb(ctx, localAddress, localPort, remoteAddress, remotePort, congestionControl, noDelay, NEWRENO_RECOVERY, hystart);
  c.stream = new TcpConnection(c);
  return c;
}

/** A TCP connection and the ByteStream it offers. Create through the TCP layer. */
export class TcpConnection implements ByteStream {
  readonly #c: Tcb;
  /** Made by createConnection only. */
  constructor(tcb: Tcb) {
    this.#c = tcb;
  }

  get localAddress(): number {
    return this.#c.localAddress;
  }
  get localPort(): number {
    return this.#c.localPort;
  }
  get remoteAddress(): number {
    return this.#c.remoteAddress;
  }
  get remotePort(): number {
    return this.#c.remotePort;
  }
  get bufferedAmount(): number {
    return this.#c.bufferedAmount;
  }

  write(data: Uint8Array): boolean {
    const c = this.#c;
    if (c.finQueued) throw Object.assign(new Error("write after end"), { code: "ERR_STREAM_WRITE_AFTER_END" });
    if (c.state === State.CLOSED || c.state === State.TIME_WAIT) return false;
    if (data.length > 0) {
      if (c.sendBuf === null) c.sendBuf = c.ctx.takeSendBuffer();
      c.sendBuf.push(data);
      if (c.state >= State.ESTABLISHED) {
        output(c);
        armTimer(c);
      }
    }
    const okToWrite = c.bufferedAmount < c.ctx.options.sendBufferSize;
    if (!okToWrite) c.drainWanted = true;
    return okToWrite;
  }

  end(): void {
    const c = this.#c;
    if (c.finQueued || c.state === State.CLOSED || c.state === State.TIME_WAIT) return;
    c.finQueued = true;
    if (c.state === State.ESTABLISHED) c.state = State.FIN_WAIT_1;
    else if (c.state === State.CLOSE_WAIT) c.state = State.LAST_ACK;
    if (c.state >= State.ESTABLISHED) {
      output(c);
      armTimer(c);
    }
  }

  destroy(): void {
    const c = this.#c;
    c.destroyed = true;
    c.recvQueue = null;
    c.recvQueued = 0;
    const s = c.state;
    if (s === State.CLOSED) return;
    if (s === State.TIME_WAIT) {
      c.ctx.endTimeWaitOf(c);
      c.state = State.CLOSED;
      return;
    }
    if (s !== State.SYN_SENT) {
      // RFC 9293 §3.10.4 ABORT: <SEQ=SND.NXT><CTL=RST>
      emitReset(c, c.sndMax, c.rcvNxt, true);
    }
    close(c, undefined);
  }

  pause(): void {
    this.#c.paused = true;
  }

  resume(): void {
    const c = this.#c;
    if (!c.paused) return;
    c.paused = false;
    // a window update or an ACK-on-read only when the reader took something (Linux's
    // tcp_cleanup_rbuf acts on copied > 0)
    const queued = c.recvQueued;
    flushReceived(c);
    if (c.state !== State.CLOSED && c.recvQueued < queued) {
      maybeWindowUpdate(c);
      ackAfterRead(c);
      output(c);
      armTimer(c);
    }
  }

  onData(handler: DataHandler): void {
    const c = this.#c;
    c.onDataHandler = handler;
    if (!c.paused && c.recvQueue !== null) flushReceived(c);
  }
  onRead(buffer: Uint8Array, callback: (n: number) => void): void {
    if (buffer.length === 0) throw new NetlabError("ERR_TCP_READ_BUFFER", "onRead: the buffer must hold at least one byte");
    const c = this.#c;
    c.onDataHandler = { buffer, callback };
    if (!c.paused && c.recvQueue !== null) flushReceived(c);
  }
  onEnd(handler: VoidHandler): void {
    this.#c.onEndHandler = handler;
  }
  onDrain(handler: VoidHandler): void {
    this.#c.onDrainHandler = handler;
  }
  onClose(handler: CloseHandler): void {
    this.#c.onCloseHandler = handler;
  }
  onConnect(handler: VoidHandler): void {
    this.#c.onConnectHandler = handler;
  }

  setNoDelay(noDelay: boolean): void {
    const c = this.#c;
    c.noDelay = noDelay;
    if (noDelay && c.state >= State.ESTABLISHED) {
      output(c);
      armTimer(c);
    }
  }

  setKeepAlive(enable: boolean, initialDelayMs = 0): void {
    const c = this.#c;
    c.keepAliveMs = enable ? (initialDelayMs > 0 ? initialDelayMs : c.ctx.options.keepAliveIdleMs) : 0;
    c.keepAliveProbes = 0;
    c.keepAliveAt = c.keepAliveMs > 0 ? c.ctx.clock.now() + c.keepAliveMs : NONE;
    armTimer(c);
  }

  /** A snapshot of the connection's state and congestion figures. */
  info(): TcpInfo {
    const c = this.#c;
    return {
      state: stateName(currentState(c)),
      congestionControl: c.cc.name,
      cwnd: Math.floor(c.cc.cwnd),
      ssthresh: c.cc.ssthresh,
      srttMs: c.rtt.srtt,
      rtoMs: c.rtt.rto,
      sendMss: c.mss,
      sendWindow: c.sndWnd,
      receiveWindow: Math.max(0, seqSub(c.rcvAdvRight, c.rcvNxt)),
      windowScaling: c.wsOk,
      timestamps: c.tsOk,
      sack: c.sackOk,
      retransmits: c.retransmits,
      bytesInFlight: seqSub(c.sndNxt, c.sndUna),
      dsackSent: c.dsackSent,
      dsackReceived: c.dsackReceived,
      undos: c.undos,
      reordering: c.reordering,
      spuriousRtos: c.rec?.spuriousRtos ?? 0,
      hystart: !c.cc.hystartEnabled ? "off" : (c.cc.hystart?.phase ?? "slow-start"),
      hystartExits: c.cc.hystart?.exits ?? 0,
      hystartCssRounds: c.cc.hystart?.cssRounds ?? 0,
      ...(c.cc instanceof Bbr ? { bbr: c.cc.info() } : {}),
    };
  }

  /** The RFC 9293 state name. */
  get stateName(): TcpStateName {
    return stateName(currentState(this.#c));
  }
}

/** The connection's state; TIME-WAIT lives on in the layer's record until it expires. */
function currentState(c: Tcb): number {
  return c.state === State.TIME_WAIT && !c.ctx.inTimeWait(c) ? State.CLOSED : c.state;
}
