// Interfaces transports offer to applications (DHCP over UDP, HTTP over TCP).
import type { Result } from "../result.ts";
import type { Ipv4Address } from "../wire/address.ts";
import type { TcpInfo } from "./tcp/types.ts";

/** A received UDP datagram. */
export interface UdpDatagram {
  readonly src: Ipv4Address;
  readonly srcPort: number;
  readonly dst: Ipv4Address;
  readonly dstPort: number;
  readonly payload: Uint8Array;
}

export type UdpSendError = "no-route" | "too-big" | "unresolved-queue-full" | "no-address" | "closed" | "bad-port";
export type UdpBindError = "in-use" | "bad-port" | "no-ephemeral";

/** A bound UDP socket. */
export interface UdpSocket {
  readonly localPort: number;
  /** Sends one datagram. `src` overrides the source address (e.g. 0.0.0.0 for DHCP). */
  sendTo(
    dst: Ipv4Address,
    dstPort: number,
    payload: Uint8Array,
    options?: { src?: Ipv4Address; broadcast?: boolean; ttl?: number },
  ): Result<void, UdpSendError>;
  onMessage(handler: (d: UdpDatagram) => void): void;
  close(): void;
}

/** The UDP layer. */
export interface UdpLayer {
  /** Binds a port (0 = ephemeral, RFC 6335 range 49152–65535). */
  bind(port: number): Result<UdpSocket, UdpBindError>;
}

/** Errno-style codes a stream reports, as Node's net.Socket does. */
export type StreamErrorCode = "ECONNREFUSED" | "ECONNRESET" | "ETIMEDOUT" | "EPIPE" | "ECONNABORTED" | "EHOSTUNREACH" | "EADDRINUSE" | "EMFILE";

/**
 * A reliable byte stream (a TCP connection) as the pure stack exposes it. The Node
 * stream.Duplex wrapper (harness) and HTTP (stack/app/http) are built on this.
 */
export interface ByteStream {
  readonly localAddress: Ipv4Address;
  readonly localPort: number;
  readonly remoteAddress: Ipv4Address;
  readonly remotePort: number;
  /** Queues bytes; returns false when the send buffer is over its limit (wait for onDrain). */
  write(data: Uint8Array): boolean;
  /** Half-closes the sending direction (FIN after queued data). */
  end(): void;
  /** Aborts the connection (RST) and frees it. */
  destroy(): void;
  /** Bytes queued but not yet acknowledged. */
  readonly bufferedAmount: number;
  /** Stop/resume delivering data (receive window closes while paused). */
  pause(): void;
  resume(): void;
  /** Received bytes as views, in order; the handler may keep them (see onRead for copying instead). */
  onData(handler: (data: Uint8Array) => void): void;
  /**
   * Received bytes copied into `buffer` (Node's net.Socket `onread` option): callback(n) for each
   * fill of buffer[0..n); the buffer is the caller's again once the callback returns. The stack
   * then keeps no view of what arrived, so a device that recycles frame buffers (Frame.release)
   * gets them back. Replaces an onData handler (and onData replaces it).
   */
  onRead(buffer: Uint8Array, callback: (n: number) => void): void;
  /** The peer half-closed (FIN received and all data delivered). */
  onEnd(handler: () => void): void;
  onDrain(handler: () => void): void;
  /** The connection is gone; error is set when it failed. */
  onClose(handler: (error?: StreamErrorCode) => void): void;
  /** The connection is established (for streams from connect()). */
  onConnect(handler: () => void): void;
  /** Disables (true) or enables (false) Nagle's algorithm. */
  setNoDelay(noDelay: boolean): void;
  /** Enables keepalive probes after `initialDelayMs` of idleness (0 = stack default). */
  setKeepAlive(enable: boolean, initialDelayMs?: number): void;
}

/** A TCP connection: a ByteStream with a snapshot of its state (like Linux's TCP_INFO). */
export interface TcpStream extends ByteStream {
  info(): TcpInfo;
}

/** A listener whose accepted connections are TcpStreams. */
export interface TcpStreamListener extends TcpListener {
  onConnection(handler: (stream: TcpStream) => void): void;
}

/** Per-connection TCP options. */
export interface TcpConnectionOptions {
  readonly noDelay?: boolean;
  readonly congestionControl?: "cubic" | "newreno" | "bbr";
  /** HyStart++ (RFC 9406) in CUBIC's slow start [the TCP layer's `hystart` option]. */
  readonly hystart?: boolean;
  readonly keepAliveMs?: number;
}

export type TcpConnectError = "no-route" | "no-address" | "no-ephemeral" | "connection-limit";
export type TcpListenError = "in-use" | "bad-port" | "connection-limit";

/** A listening TCP socket. */
export interface TcpListener {
  readonly localPort: number;
  /** Called for each connection that completed the handshake and was accepted. */
  onConnection(handler: (stream: ByteStream) => void): void;
  close(): void;
}

/** The TCP layer of one stack. */
export interface TcpLayer {
  /** Opens a connection; the returned stream emits onConnect or onClose(error). */
  connect(dst: Ipv4Address, dstPort: number, options?: TcpConnectionOptions & { localPort?: number }): Result<ByteStream, TcpConnectError>;
  /** Listens on a port (0 = ephemeral). */
  listen(port: number, options?: TcpConnectionOptions & { backlog?: number }): Result<TcpListener, TcpListenError>;
}
