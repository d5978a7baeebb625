// The TCP layer of one stack: demultiplexes segments to connections by 4-tuple, runs the
// listeners (bounded SYN queue, accept queue, SYN cookies when the SYN queue is full),
// answers segments for no connection with RST (RFC 9293 §3.10.7.1), keeps TIME-WAIT as compact
// records (time-wait.ts) expiring in order from one timer, at most maxTimeWait of them,
// allocates ephemeral ports (RFC 6335 range) and enforces the per-stack connection limit.
// createTcpLayer: the factory; TcpLayerDeps: what it needs; ExtendedTcpLayer: TcpLayer plus stats.
import type { Clock, Rng } from "../../time.ts";
import type { IcmpErrorReport, Ipv4Delivery, Ipv4Layer } from "../../net/types.ts";
import { HEADROOM } from "../../net/types.ts";
import { type Result, ok, err } from "../../result.ts";
import type { ByteStream, TcpConnectError, TcpConnectionOptions, TcpLayer, TcpListenError, TcpListener } from "../types.ts";
import { TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_RST, TCP_FLAG_SYN, parseTcpSegment, type TcpRepr } from "../../wire/tcp.ts";
import { createConnection } from "./connection.ts";
import { openActive, openFromCookie, openPassive } from "./handshake.ts";
import { type TimeWaitRecord, acceptsReuse, recordTimeWait, timeWaitInput, type TimeWaitHost } from "./time-wait.ts";
import { icmpError, input } from "./input.ts";
import { localMss as mssForMtu, resolveTcpOptions, type ResolvedTcpOptions } from "./options.ts";
import { writeReset, writeStatelessSegment } from "./segment-writer.ts";
import { RackState } from "./rack.ts";
import { createSegmentSendOptions, State, type SegmentSendOptions, type Tcb, type TcpContext } from "./state.ts";
import { output } from "./sender.ts";
import { armTimer } from "./deadlines.ts";
import { onTimer } from "./timers.ts";
import { createTcpSecrets, halfSipHash, initialSequenceNumber, type TcpSecrets } from "./isn.ts";
import { cookieTimestamp, decodeCookieOptions, decodeSynCookie, encodeCookieOptions, encodeSynCookie } from "./syn-cookie.ts";
import { seqAdd } from "./seq.ts";
import { SendBuffer } from "./send-buffer.ts";
import { createBufferRecycler, type BufferLoan, type BufferRecycler } from "../../link/recycler.ts";
import { checksumAdd, checksumFinish } from "../../wire/checksum.ts";
import type { TcpLayerOptions, TcpStats } from "./types.ts";

/** What the TCP layer needs. */
export interface TcpLayerDeps {
  readonly ip: Ipv4Layer;
  readonly clock: Clock;
  readonly rng: Rng;
  /** ICMP errors about segments we sent (path MTU, unreachable); optional. */
  readonly icmp?: { onError(protocol: number, handler: (e: IcmpErrorReport) => void): void };
}

/** The TCP layer with its counters. */
export interface ExtendedTcpLayer extends TcpLayer {
  readonly stats: TcpStats;
  /** Connections in the table, TIME-WAIT records included. */
  readonly connectionCount: number;
  /** TIME-WAIT records held. */
  readonly timeWaitCount: number;
}

/** Drained send buffers a layer keeps for reuse (each holds at most a 4 KiB block). */
const FREE_SEND_BUFFERS_MAX = 64;
/** Idle RACK states a layer keeps for reuse (~0.5 KiB each). */
const FREE_RACK_STATES_MAX = 64;
/** Outgoing datagrams are carved from slabs of this size (one allocation per ~40 segments). */
const SLAB_SIZE = 65536;
const EPHEMERAL_LOW = 49152;
const EPHEMERAL_HIGH = 65535;

class Listener implements TcpListener {
  handler: ((s: ByteStream) => void) | null = null;
  /** Half-open connections in the SYN queue, and those of them whose SYN-ACK was not yet
   * retransmitted (Linux's qlen and qlen_young). */
  synQueue = 0;
  young = 0;
  acceptQueue: Tcb[] = [];
  closed = false;
  constructor(
    readonly layer: LayerImpl,
    readonly localPort: number,
    readonly backlog: number,
    readonly connOptions: TcpConnectionOptions,
  ) {}

  onConnection(handler: (stream: ByteStream) => void): void {
    this.handler = handler;
    while (this.acceptQueue.length > 0 && !this.closed) handler(this.acceptQueue.shift()!.stream);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.layer.listeners.delete(this.localPort);
    for (const c of this.acceptQueue) c.stream.destroy();
    this.acceptQueue = [];
  }
}

function newStats(): TcpStats {
  return {
    segmentBuffersReused: 0,
    segmentBuffersReleased: 0,
    segmentsReceived: 0,
    segmentsSent: 0,
    bytesSent: 0,
    bytesReceived: 0,
    retransmits: 0,
    fastRetransmits: 0,
    lostRetransmits: 0,
    tailLossProbes: 0,
    timeouts: 0,
    resetsSent: 0,
    resetsReceived: 0,
    challengeAcks: 0,
    challengeAcksSuppressed: 0,
    badSegments: 0,
    synFinDropped: 0,
    synCookiesSent: 0,
    synCookiesAccepted: 0,
    synQueuePruned: 0,
    synQueueDropped: 0,
    timeWaitCount: 0,
    timeWaitDropped: 0,
    synDropped: 0,
    activeOpens: 0,
    passiveOpens: 0,
    outOfOrderDropped: 0,
    pawsRejected: 0,
    dsackSent: 0,
    dsackReceived: 0,
    undos: 0,
    spuriousRtos: 0,
    rackRecoveries: 0,
    hystartExits: 0,
    hystartResumes: 0,
    hystartCssRounds: 0,
    frtoProbes: 0,
    frtoSpurious: 0,
    ecnCeReceived: 0,
    ecnEceReceived: 0,
    ecnReductions: 0,
    ecnCwrSent: 0,
  };
}

class LayerImpl implements ExtendedTcpLayer, TcpContext, TimeWaitHost {
  readonly options: ResolvedTcpOptions;
  readonly stats: TcpStats = newStats();
  readonly secrets: TcpSecrets;
  /** localPort -> (remoteAddr·65536 + remotePort) -> connection */
  readonly table = new Map<number, Map<number, Tcb>>();
  readonly listeners = new Map<number, Listener>();
  readonly owner = new WeakMap<Tcb, Listener>();
  /** Connections that count toward the limit (not TIME_WAIT, not CLOSED). */
  active = 0;
  /** Connections and TIME-WAIT records in the tables. */
  total = 0;
  /** TIME-WAIT records: localPort -> (remoteAddr·65536 + remotePort) -> record. */
  readonly timeWait = new Map<number, Map<number, TimeWaitRecord>>();
  /** Records in expiry order with the deadline each slot was queued for (a restarted record
   * is queued again; its older slot is then stale and skipped). */
  twQueue: TimeWaitRecord[] = [];
  twQueueAt: number[] = [];
  twHead = 0;
  twTimerId = 0;
  readonly fireTimeWaitTimer = (): void => this.onTimeWaitTimer();
  slab = new Uint8Array(0);
  slabOffset = 0;
  /** Connections whose pure ACK waits for the end of the burst being taken in (ackCoalescing). */
  deferredAcks: Tcb[] = [];
  /** Buffers of segments too large for the slab (GSO), reused once the device has copied them out. */
  readonly recycler: BufferRecycler;
  /** Drained send buffers, reused by the next connection that writes (bounded). */
  readonly freeSendBuffers: SendBuffer[] = [];
  /** A view of the segment being taken in was kept (TcpContext.payloadKept). */
  payloadKept = false;
  /** RACK states idle connections gave back (at most FREE_RACK_STATES_MAX). */
  readonly freeRackStates: RackState[] = [];
  challengeWindowStart = -Infinity;
  /** Send options per local address (a handful of addresses; one record shared by their connections). */
  readonly sendOptionsByAddress = new Map<number, SegmentSendOptions>();
  /** Challenge ACKs the layer may still send in the current second. */
  challengeBudget = 0;

  /** Free bytes before each segment buffer (TcpLayerOptions.headroom). */
  readonly headroom: number;

  constructor(
    readonly ip: Ipv4Layer,
    readonly clock: Clock,
    readonly rng: Rng,
    o: TcpLayerOptions,
    icmp: TcpLayerDeps["icmp"],
  ) {
    this.options = resolveTcpOptions(o);
    // Keep as many free buffers as one send buffer's worth of lent segments (over SLAB_SIZE / 4
    // bytes each) can have out at once (a device that queues a whole window holds them all; a
    // receiver that copies out gives each back, Frame.release), at least 16, at most 128 (8 MiB).
    const keep = Math.min(128, Math.max(16, Math.ceil(this.options.sendBufferSize / (SLAB_SIZE / 4))));
    this.headroom = o.headroom ?? HEADROOM;
    this.recycler = createBufferRecycler({ capacity: this.headroom + 65536, keep, poison: o.poisonReleasedBuffers === true });
    this.secrets = createTcpSecrets(rng);
    ip.registerProtocol(6, (d) => this.receive(d));
    icmp?.onError(6, (e) => this.icmpError(e));
  }

  /** RFC 5927 §4.1: an ICMP error counts only if it quotes a sequence number in flight. */
  icmpError(e: IcmpErrorReport): void {
    const t = e.quote.transport;
    if (t.length < 8) return;
    const srcPort = (t[0]! << 8) | t[1]!;
    const dstPort = (t[2]! << 8) | t[3]!;
    const seq = ((t[4]! << 24) | (t[5]! << 16) | (t[6]! << 8) | t[7]!) >>> 0;
    const conn = this.table.get(srcPort)?.get(e.quote.dst * 65536 + dstPort);
    if (conn === undefined) return;
    icmpError(conn, e, seq);
  }

  get connectionCount(): number {
    return this.total;
  }
  get timeWaitCount(): number {
    return this.stats.timeWaitCount;
  }

  // ------------------------------------------------------------ TcpContext
  sendOptionsFor(localAddress: number): SegmentSendOptions {
    let o = this.sendOptionsByAddress.get(localAddress);
    if (o === undefined) {
      o = createSegmentSendOptions(localAddress);
      this.sendOptionsByAddress.set(localAddress, o);
    }
    return o;
  }

  allowChallengeAck(): boolean {
    const now = this.clock.now();
    if (now - this.challengeWindowStart >= 1000) {
      // Linux's tcp_send_challenge_ack: each second's budget is limit/2 + a random part below limit
      const limit = this.options.challengeAckLimit;
      this.challengeWindowStart = now;
      this.challengeBudget = limit <= 0 ? 0 : ((limit + 1) >>> 1) + this.rng.nextInt(limit);
    }
    if (this.challengeBudget <= 0) return false;
    this.challengeBudget--;
    return true;
  }

  canAccept(conn: Tcb): boolean {
    const l = this.owner.get(conn);
    if (l === undefined || l.closed) return false;
    return l.handler !== null || l.acceptQueue.length < l.backlog;
  }

  onEstablished(conn: Tcb): void {
    const l = this.owner.get(conn);
    if (l === undefined) return;
    if (conn.inSynQueue) this.leaveSynQueue(l, conn);
    this.owner.delete(conn);
    if (l.handler !== null) l.handler(conn.stream);
    else l.acceptQueue.push(conn);
  }

  onTimeWait(conn: Tcb, now: number): void {
    const m = this.table.get(conn.localPort);
    const key = conn.remoteAddress * 65536 + conn.remotePort;
    if (m === undefined || m.get(key) !== conn) return;
    m.delete(key);
    if (m.size === 0) this.table.delete(conn.localPort);
    this.total--;
    this.active--;
    // as Linux's tcp_max_tw_buckets: beyond the cap the connection just closes
    if (this.stats.timeWaitCount >= this.options.maxTimeWait) {
      this.stats.timeWaitDropped++;
      return;
    }
    const r = recordTimeWait(conn, now);
    let t = this.timeWait.get(conn.localPort);
    if (t === undefined) {
      t = new Map();
      this.timeWait.set(conn.localPort, t);
    }
    t.set(key, r);
    this.total++;
    this.stats.timeWaitCount++;
    this.queueTimeWait(r);
  }

  timeWaitOf(conn: Tcb): TimeWaitRecord | undefined {
    const r = this.timeWait.get(conn.localPort)?.get(conn.remoteAddress * 65536 + conn.remotePort);
    return r !== undefined && r.sndNxt === conn.sndMax && r.rcvNxt === conn.rcvNxt ? r : undefined;
  }

  inTimeWait(conn: Tcb): boolean {
    return this.timeWaitOf(conn) !== undefined;
  }

  endTimeWaitOf(conn: Tcb): void {
    const r = this.timeWaitOf(conn);
    if (r !== undefined) this.endTimeWait(r);
  }

  restartTimeWait(r: TimeWaitRecord, now: number): void {
    r.expiresAt = Math.ceil(now + 2 * this.options.mslMs);
    const last = this.twQueue.length - 1;
    if (last >= this.twHead && this.twQueue[last] === r) this.twQueueAt[last] = r.expiresAt;
    else this.queueTimeWait(r);
  }

  endTimeWait(r: TimeWaitRecord): void {
    if (r.ended) return;
    r.markEnded();
    const t = this.timeWait.get(r.localPort);
    const key = r.remoteAddress * 65536 + r.remotePort;
    if (t !== undefined && t.get(key) === r) {
      t.delete(key);
      if (t.size === 0) this.timeWait.delete(r.localPort);
      this.total--;
      this.stats.timeWaitCount--;
    }
  }

  queueTimeWait(r: TimeWaitRecord): void {
    const q = this.twQueue;
    // stale slots (ended or restarted records) are dropped once they outnumber the live ones
    if (q.length - this.twHead > 2 * this.stats.timeWaitCount + 1024) {
      const keepQ: TimeWaitRecord[] = [];
      const keepAt: number[] = [];
      for (let i = this.twHead; i < q.length; i++) {
        const s = q[i]!;
        if (!s.ended && this.twQueueAt[i] === s.expiresAt) {
          keepQ.push(s);
          keepAt.push(s.expiresAt);
        }
      }
      this.twQueue = keepQ;
      this.twQueueAt = keepAt;
      this.twHead = 0;
    }
    this.twQueue.push(r);
    this.twQueueAt.push(r.expiresAt);
    if (this.twTimerId === 0) this.twTimerId = this.clock.setTimer(this.twQueueAt[this.twHead]!, this.fireTimeWaitTimer);
  }

  /** Ends the records whose 2·MSL ran out (in queue order) and re-arms for the next. */
  onTimeWaitTimer(): void {
    this.twTimerId = 0;
    const now = this.clock.now();
    const q = this.twQueue,
      at = this.twQueueAt;
    let h = this.twHead;
    while (h < q.length) {
      const r = q[h]!;
      if (!r.ended && at[h] === r.expiresAt) {
        if (r.expiresAt > now) break;
        this.endTimeWait(r);
      }
      h++;
    }
    if (h === q.length) {
      this.twQueue = [];
      this.twQueueAt = [];
      h = 0;
    } else if (h > 1024 && h * 2 > q.length) {
      q.splice(0, h);
      at.splice(0, h);
      h = 0;
    }
    this.twHead = h;
    if (h < this.twQueue.length) this.twTimerId = this.clock.setTimer(this.twQueueAt[h]!, this.fireTimeWaitTimer);
  }

  checksum(segment: Uint8Array, initial: number): number {
    return checksumFinish(checksumAdd(segment, initial));
  }

  takeSendBuffer(): SendBuffer {
    return this.freeSendBuffers.pop() ?? new SendBuffer();
  }

  releaseSendBuffer(buffer: SendBuffer): void {
    if (this.freeSendBuffers.length < FREE_SEND_BUFFERS_MAX) this.freeSendBuffers.push(buffer);
  }

  takeRackState(sndUna: number): RackState {
    const r = this.freeRackStates.pop();
    if (r === undefined) return new RackState(sndUna);
    r.reset(sndUna);
    return r;
  }

  releaseRackState(state: RackState): void {
    if (this.freeRackStates.length < FREE_RACK_STATES_MAX) this.freeRackStates.push(state);
  }

  allocate(len: number): Uint8Array {
    const n = this.headroom + len;
    if (this.slabOffset + n > this.slab.length) {
      if (n > SLAB_SIZE / 4) return new Uint8Array(n).subarray(this.headroom);
      this.slab = new Uint8Array(SLAB_SIZE);
      this.slabOffset = 0;
    }
    const v = this.slab.subarray(this.slabOffset + this.headroom, this.slabOffset + n);
    this.slabOffset += (n + 7) & ~7;
    return v;
  }

  lend(len: number): BufferLoan | undefined {
    const n = this.headroom + len;
    if (n <= SLAB_SIZE / 4) return undefined;
    const loan = this.recycler.take(n);
    if (loan === undefined) return undefined;
    if (loan.reused) this.stats.segmentBuffersReused++;
    return { data: loan.data.subarray(this.headroom), release: loan.release, reused: loan.reused };
  }

  timerCallback(conn: Tcb): () => void {
    return () => onTimer(conn);
  }

  deferAck(conn: Tcb): void {
    if (conn.ackDeferred) return;
    conn.ackDeferred = true;
    this.deferredAcks.push(conn);
    // Due at this instant, after the work already due (the rest of the burst the link delivers)
    if (this.deferredAcks.length === 1) this.clock.setTimer(this.clock.now(), this.flushDeferredAcks);
  }

  /** Sends the ACKs deferred while a burst was taken in (ackCoalescing), in the order they were owed. */
  readonly flushDeferredAcks = (): void => {
    const q = this.deferredAcks;
    this.deferredAcks = [];
    for (const c of q) {
      c.ackDeferred = false;
      if (c.ackNow && c.state !== State.CLOSED) {
        output(c);
        armTimer(c);
      }
    }
  };

  onRemoved(conn: Tcb): void {
    const m = this.table.get(conn.localPort);
    const key = conn.remoteAddress * 65536 + conn.remotePort;
    if (m !== undefined && m.get(key) === conn) {
      m.delete(key);
      if (m.size === 0) this.table.delete(conn.localPort);
      this.total--;
      this.active--;
    }
    const l = this.owner.get(conn);
    if (l !== undefined) {
      if (conn.inSynQueue) this.leaveSynQueue(l, conn);
      this.owner.delete(conn);
    }
  }

  leaveSynQueue(l: Listener, conn: Tcb): void {
    l.synQueue--;
    if (conn.retransmits === 0) l.young--;
    conn.inSynQueue = false;
  }

  /**
   * Linux's reqsk_timer_handler: with the SYN queue more than half full, half-opens that have
   * been retransmitted are given fewer SYN-ACK retries (down to 2) the fewer young (not yet
   * retransmitted) ones there are, so spoofed SYNs cannot hold the queue for the full series.
   */
  synAckExpired(conn: Tcb): boolean {
    const o = this.options;
    if (conn.retries >= o.synAckRetries) return true;
    const l = this.owner.get(conn);
    if (l === undefined || !conn.inSynQueue) return false;
    let max = o.synAckRetries;
    if (l.synQueue * 2 > Math.max(8, o.synQueueSize)) {
      let young = l.young * 2;
      while (max > 2 && l.synQueue >= young) {
        max--;
        young *= 2;
      }
    }
    if (conn.retries >= max) {
      this.stats.synQueuePruned++;
      return true;
    }
    if (conn.retransmits === 0) l.young--;
    return false;
  }

  // ------------------------------------------------------------ TcpLayer
  connect(dst: number, dstPort: number, options: TcpConnectionOptions & { localPort?: number } = {}): Result<ByteStream, TcpConnectError> {
    // (the TcpConnectError union is shared with the Node wrapper: a bad port is "no-route", a taken 4-tuple "no-ephemeral")
    if (!Number.isInteger(dstPort) || dstPort <= 0 || dstPort > 65535) return err("no-route", "bad port");
    if (options.localPort !== undefined && (!Number.isInteger(options.localPort) || options.localPort < 0 || options.localPort > 65535))
      return err("no-route", "bad local port");
    const src = this.ip.sourceFor(dst);
    if (src === undefined) return err(this.ip.cidr === undefined ? "no-address" : "no-route");
    if (this.active >= this.options.maxConnections) return err("connection-limit");
    const key = dst * 65536 + dstPort;
    let port = options.localPort ?? 0;
    if (port === 0) {
      const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
      const start = this.rng.nextInt(span);
      for (let i = 0; i < span; i++) {
        const p = EPHEMERAL_LOW + ((start + i) % span);
        if (!this.listeners.has(p) && !(this.table.get(p)?.has(key) ?? false) && !(this.timeWait.get(p)?.has(key) ?? false)) {
          port = p;
          break;
        }
      }
      if (port === 0) return err("no-ephemeral");
    } else {
      if (this.table.get(port)?.has(key) ?? false) return err("no-ephemeral", "4-tuple in use");
      const tw = this.timeWait.get(port)?.get(key);
      if (tw !== undefined) this.endTimeWait(tw);
    }
    const conn = this.newConnection(src, port, dst, dstPort, options);
    if (options.keepAliveMs !== undefined && options.keepAliveMs > 0) conn.stream.setKeepAlive(true, options.keepAliveMs);
    openActive(conn, initialSequenceNumber(this.secrets, this.clock.now(), src, port, dst, dstPort));
    return ok(conn.stream);
  }

  listen(port: number, options: TcpConnectionOptions & { backlog?: number } = {}): Result<TcpListener, TcpListenError> {
    if (port < 0 || port > 65535 || !Number.isInteger(port)) return err("bad-port");
    if (port === 0) {
      const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
      const start = this.rng.nextInt(span);
      for (let i = 0; i < span; i++) {
        const p = EPHEMERAL_LOW + ((start + i) % span);
        if (!this.listeners.has(p) && !this.table.has(p) && !this.timeWait.has(p)) {
          port = p;
          break;
        }
      }
      if (port === 0) return err("in-use", "no free port");
    }
    if (this.listeners.has(port)) return err("in-use");
    const l = new Listener(this, port, options.backlog ?? this.options.backlog, options);
    this.listeners.set(port, l);
    return ok(l);
  }

  // ------------------------------------------------------------ input
  newConnection(src: number, srcPort: number, dst: number, dstPort: number, o: TcpConnectionOptions): Tcb {
    const conn = createConnection(
      this,
      src,
      srcPort,
      dst,
      dstPort,
      o.congestionControl ?? this.options.congestionControl,
      o.noDelay ?? false,
      o.hystart ?? this.options.hystart,
    );
    conn.tsOffset = halfSipHash(this.secrets.isnKey[1], this.secrets.isnKey[0], [src, dst, ((srcPort << 16) | dstPort) >>> 0]);
    let m = this.table.get(srcPort);
    if (m === undefined) {
      m = new Map();
      this.table.set(srcPort, m);
    }
    m.set(dst * 65536 + dstPort, conn);
    this.active++;
    this.total++;
    return conn;
  }

  receive(d: Ipv4Delivery): void {
    const off = d.offload;
    const verify = !(off !== undefined && (off.dataValidated === true || off.csumBlank === true));
    const r = parseTcpSegment(d.payload, d.src, d.dst, verify);
    if (!r.ok) {
      this.stats.badSegments++;
      return;
    }
    const seg = r.value;
    this.stats.segmentsReceived++;
    if (seg.srcPort === 0 || seg.dstPort === 0) {
      this.stats.badSegments++;
      return;
    }
    const key = d.src * 65536 + seg.srcPort;
    const conn = this.table.get(seg.dstPort)?.get(key);
    if (conn !== undefined) {
      // RFC 3168 §5: the IP header's ECN field, for the receiver's CE echo
      if (conn.ecn !== null) conn.ecn.rxCe = d.header.length > 1 && (d.header[1]! & 3) === 3;
      const release = d.release;
      if (release === undefined) {
        input(conn, seg);
        return;
      }
      // the frame goes back to its producer (Frame.release) when no view of it was kept: its
      // bytes were copied out to an onRead reader, or there were none to keep. (The flag of a
      // segment further up the stack, should a device deliver synchronously, is put back after.)
      const outer = this.payloadKept;
      this.payloadKept = false;
      input(conn, seg);
      const kept = this.payloadKept;
      this.payloadKept = outer;
      if (!kept) {
        this.stats.segmentBuffersReleased++;
        release();
      }
      return;
    }
    const tw = this.timeWait.size === 0 ? undefined : this.timeWait.get(seg.dstPort)?.get(key);
    if (tw !== undefined) {
      if ((seg.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST | TCP_FLAG_FIN)) === TCP_FLAG_SYN && acceptsReuse(tw, seg)) {
        this.endTimeWait(tw);
      } else {
        timeWaitInput(this, tw, seg, this.clock.now());
        return;
      }
    }
    const l = this.listeners.get(seg.dstPort);
    if (l !== undefined && !l.closed) this.listenInput(l, d, seg);
    else this.resetFor(d, seg);
  }

  /** RFC 9293 §3.10.7.2: segments arriving for a listener. */
  listenInput(l: Listener, d: Ipv4Delivery, seg: TcpRepr): void {
    const f = seg.flags;
    if ((f & TCP_FLAG_RST) !== 0) return;
    // a SYN with FIN opens nothing (Linux's tcp_rcv_state_process discards it in LISTEN)
    if ((f & (TCP_FLAG_SYN | TCP_FLAG_FIN)) === (TCP_FLAG_SYN | TCP_FLAG_FIN)) {
      this.stats.synFinDropped++;
      return;
    }
    if ((f & TCP_FLAG_ACK) !== 0) {
      if ((f & TCP_FLAG_SYN) === 0 && this.options.synCookies && this.tryCookie(l, d, seg)) return;
      this.resetFor(d, seg);
      return;
    }
    if ((f & TCP_FLAG_SYN) === 0) return;
    // a full accept queue or connection table drops the SYN (the client retries), as Linux does
    if (this.active >= this.options.maxConnections || (l.handler === null && l.acceptQueue.length >= l.backlog)) {
      this.stats.synDropped++;
      return;
    }
    if (l.synQueue >= this.options.synQueueSize) {
      if (this.options.synCookies) this.sendCookieSynAck(d, seg);
      else {
        this.stats.synDropped++;
        this.stats.synQueueDropped++;
      }
      return;
    }
    const conn = this.newConnection(d.dst, seg.dstPort, d.src, seg.srcPort, l.connOptions);
    this.owner.set(conn, l);
    l.synQueue++;
    l.young++;
    conn.inSynQueue = true;
    if (l.connOptions.keepAliveMs !== undefined && l.connOptions.keepAliveMs > 0) conn.stream.setKeepAlive(true, l.connOptions.keepAliveMs);
    openPassive(conn, seg, initialSequenceNumber(this.secrets, this.clock.now(), d.dst, seg.dstPort, d.src, seg.srcPort));
  }

  sendCookieSynAck(d: Ipv4Delivery, seg: TcpRepr): void {
    const tuple = { localAddr: d.dst, localPort: seg.dstPort, remoteAddr: d.src, remotePort: seg.srcPort };
    const localMss = mssForMtu(this.ip.mtuTo(d.src));
    const mss = Math.min(seg.options.mss ?? 536, localMss);
    const isn = encodeSynCookie(this.secrets, this.clock.now(), tuple, seg.seq, mss);
    const o = this.options;
    const opts: { mss: number; windowScale?: number; sackPermitted?: boolean; tsVal?: number; tsEcr?: number } = { mss: localMss };
    if (o.timestamps && seg.options.tsVal !== undefined) {
      const tsOffset = halfSipHash(this.secrets.isnKey[1], this.secrets.isnKey[0], [d.dst, d.src, ((seg.dstPort << 16) | seg.srcPort) >>> 0]);
      const now = (Math.floor(this.clock.now()) + tsOffset) >>> 0;
      opts.tsVal = cookieTimestamp(
        now,
        encodeCookieOptions(o.windowScaling ? seg.options.windowScale : undefined, o.sack && seg.options.sackPermitted === true),
      );
      opts.tsEcr = seg.options.tsVal;
      if (o.sack && seg.options.sackPermitted === true) opts.sackPermitted = true;
      if (o.windowScaling && seg.options.windowScale !== undefined) opts.windowScale = o.windowScaleShift;
    }
    this.stats.synCookiesSent++;
    writeStatelessSegment(this, d.dst, d.src, {
      srcPort: seg.dstPort,
      dstPort: seg.srcPort,
      seq: isn,
      ack: seqAdd(seg.seq, 1),
      flags: TCP_FLAG_SYN | TCP_FLAG_ACK,
      window: Math.min(65535, o.receiveBufferSize),
      urgent: 0,
      options: opts,
      payload: new Uint8Array(0),
    });
  }

  tryCookie(l: Listener, d: Ipv4Delivery, seg: TcpRepr): boolean {
    const tuple = { localAddr: d.dst, localPort: seg.dstPort, remoteAddr: d.src, remotePort: seg.srcPort };
    const peerIsn = (seg.seq - 1) >>> 0;
    const mss = decodeSynCookie(this.secrets, this.clock.now(), tuple, peerIsn, (seg.ack - 1) >>> 0);
    if (mss === undefined) return false;
    if (this.active >= this.options.maxConnections) return true;
    if (l.handler === null && l.acceptQueue.length >= l.backlog) return true;
    let ws: number | undefined;
    let sack = false;
    if (seg.options.tsEcr !== undefined) {
      const dec = decodeCookieOptions(seg.options.tsEcr);
      if (dec !== undefined) {
        ws = dec.windowScale;
        sack = dec.sackPermitted;
      }
    }
    this.stats.synCookiesAccepted++;
    const conn = this.newConnection(d.dst, seg.dstPort, d.src, seg.srcPort, l.connOptions);
    this.owner.set(conn, l);
    if (l.connOptions.keepAliveMs !== undefined && l.connOptions.keepAliveMs > 0) conn.stream.setKeepAlive(true, l.connOptions.keepAliveMs);
    openFromCookie(conn, seg, mss, ws, sack);
    this.onEstablished(conn);
    // the ACK may carry data: process it as an ordinary segment now that the connection exists
    if (seg.payload.length > 0 || (seg.flags & TCP_FLAG_FIN) !== 0) input(conn, seg);
    return true;
  }

  /** RFC 9293 §3.10.7.1: a segment for no connection gets a RST (unless it is one). */
  resetFor(d: Ipv4Delivery, seg: TcpRepr): void {
    const f = seg.flags;
    if ((f & TCP_FLAG_RST) !== 0) return;
    const segLen = seg.payload.length + ((f & TCP_FLAG_SYN) !== 0 ? 1 : 0) + ((f & TCP_FLAG_FIN) !== 0 ? 1 : 0);
    if ((f & TCP_FLAG_ACK) !== 0) writeReset(this, d.dst, d.src, seg.dstPort, seg.srcPort, seg.ack, 0, false);
    else writeReset(this, d.dst, d.src, seg.dstPort, seg.srcPort, 0, seqAdd(seg.seq, segLen), true);
  }
}

/** Creates the TCP layer of one stack and registers it as IP protocol 6. */
export function createTcpLayer(deps: TcpLayerDeps, options: TcpLayerOptions = {}): ExtendedTcpLayer {
  return new LayerImpl(deps.ip, deps.clock, deps.rng, options, deps.icmp);
}
