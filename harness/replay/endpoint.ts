// The endpoint netlab plays in a capture, built from an expectation's EndpointConfig: the same
// code builds it for recording (on a tap, real clock) and for conversation replay (on a replay
// device, virtual clock), so a replay runs exactly the configuration that was recorded.
// Apps: an in-memory HTTP server (generated files, no disk I/O, so timing is the stack's alone),
// TCP echo, discard and reset (RST on the first data) listeners, a DHCP client or server, and
// an HTTP GET by netlab's client at a set time from a set local port (an active open).
//   buildEndpoint(deps, config, options)   -> ReplayEndpoint
//   httpFileBytes(file)                    the bytes a generated file holds
import { createStack, type Stack, type TcpLayerOptions } from "../../stack/index.ts";
import { dhcpClientOnStack, dhcpServerOnStack, type DhcpClient, type DhcpServer } from "../../stack/app/dhcp/index.ts";
import { createHttpClient, createHttpServer, type HttpServer } from "../../stack/app/http/index.ts";
import type { NetDevice } from "../../stack/link/types.ts";
import type { TcpListener } from "../../stack/transport/types.ts";
import type { Clock, Rng } from "../../stack/time.ts";
import { parseIpv4, parseMac } from "../../stack/wire/address.ts";
import { parseDhcpServerConfig } from "../dhcp/config.ts";
import type { AppConfig, EndpointConfig, HttpFileConfig } from "./expect.ts";
import { NetlabError } from "../../stack/error.ts";

/** A running endpoint. */
export interface ReplayEndpoint {
  readonly stack: Stack;
  readonly dhcpClient: DhcpClient | undefined;
  readonly dhcpServer: DhcpServer | undefined;
  readonly http: HttpServer | undefined;
  /** Settles when every client app (http-get) has finished: the body length, or the error code. */
  readonly clientsDone: Promise<Array<number | string>>;
  /** Clock times at which the client apps actually started, in app order (a real timer fires late). */
  readonly clientStarts: readonly number[];
  /** Stops apps (no RELEASE: a replay must not send what the capture does not hold). */
  stop(): void;
}

/** The bytes of a generated HTTP file. */
export function httpFileBytes(file: HttpFileConfig): Uint8Array {
  const out = new Uint8Array(file.size);
  const pattern = new TextEncoder().encode(file.pattern);
  for (let i = 0; i < out.length; i += pattern.length) out.set(pattern.subarray(0, Math.min(pattern.length, out.length - i)), i);
  return out;
}

function configError(message: string): Error {
  return new NetlabError("ERR_REPLAY_ENDPOINT", message);
}

const must = <T>(r: { ok: true; value: T } | { ok: false; error: string }, what: string): T => {
  if (!r.ok) throw configError(`${what}: ${r.error}`);
  return r.value;
};

/** Builds the endpoint's stack and apps on `deps` (the device's MAC must be config.mac). */
export function buildEndpoint(deps: { device: NetDevice; clock: Clock; rng: Rng }, config: EndpointConfig, options: { epochMs: number }): ReplayEndpoint {
  const stack = createStack(deps, {
    name: "replay",
    ...(config.cidr !== undefined
      ? {
          ipv4: {
            cidr: config.cidr,
            ...(config.gateway !== undefined ? { gateway: config.gateway } : {}),
            ...(config.defaultTtl !== undefined ? { defaultTtl: config.defaultTtl } : {}),
          },
        }
      : {}),
    ...(config.tcp !== undefined ? { tcp: config.tcp as TcpLayerOptions } : {}),
  });
  for (const [ip, mac] of Object.entries(config.staticArp ?? {})) stack.arp.addStatic(must(parseIpv4(ip), ip), must(parseMac(mac), mac));
  const listeners: TcpListener[] = [];
  const listen = (port: number): TcpListener => {
    const l = must(stack.tcp.listen(port), `listen on ${port}`);
    listeners.push(l);
    return l;
  };
  let http: HttpServer | undefined;
  let dhcpClient: DhcpClient | undefined;
  let dhcpServer: DhcpServer | undefined;
  const clients: Promise<number | string>[] = [];
  const clientStarts: number[] = [];
  const closers: Array<() => void> = [];
  for (const app of config.apps as AppConfig[]) {
    switch (app.kind) {
      case "http": {
        const files = new Map(app.files.map((f) => [f.path, { type: f.contentType, body: httpFileBytes(f) }]));
        http = createHttpServer(
          { clock: deps.clock },
          (req, res) => {
            const file = files.get(req.target.split("?")[0] ?? "");
            if (file === undefined) {
              res.statusCode = 404;
              res.setHeader("Content-Type", "text/plain");
              res.end("not found\n");
              return;
            }
            res.setHeader("Content-Type", file.type);
            res.setHeader("Content-Length", file.body.length);
            res.end(req.method === "HEAD" ? undefined : file.body);
          },
          { serverName: "netlab", date: app.date, dateOffsetMs: options.epochMs },
        );
        http.listen(listen(app.port));
        break;
      }
      case "echo":
        listen(app.port).onConnection((s) => {
          s.onData((d) => s.write(d));
          s.onEnd(() => s.end());
        });
        break;
      case "discard":
        listen(app.port).onConnection((s) => {
          s.onData(() => undefined);
          s.onEnd(() => s.end());
        });
        break;
      case "reset":
        listen(app.port).onConnection((s) => {
          s.onData(() => s.destroy());
          s.onEnd(() => s.end());
        });
        break;
      case "dhcp-client":
        dhcpClient = dhcpClientOnStack(
          stack,
          {
            initDelayMinMs: app.initDelayMinMs,
            initDelayMaxMs: app.initDelayMaxMs,
            ...(app.hostName !== undefined ? { hostName: app.hostName } : {}),
          },
          { probe: app.probe },
        );
        dhcpClient.start();
        break;
      case "http-get": {
        const host = must(parseIpv4(app.host), app.host);
        const client = createHttpClient(
          { clock: deps.clock, connect: (h, p) => stack.tcp.connect(h, p, { localPort: app.localPort }) },
          { keepAlive: false, userAgent: "netlab" },
        );
        closers.push(() => client.close());
        clients.push(
          new Promise<number | string>((resolve) => {
            const index = clientStarts.length;
            clientStarts.push(Number.NaN);
            deps.clock.setTimer(deps.clock.now() + app.atMs, () => {
              clientStarts[index] = deps.clock.now();
              client.request({ host, port: app.port, path: app.path }).then(
                async (res) => resolve((await res.body.text()).length),
                (e: Error & { code?: string }) => resolve(e.code ?? e.message),
              );
            });
          }),
        );
        break;
      }
      case "dhcp-server": {
        const cfg = parseDhcpServerConfig(app.config);
        if (!cfg.ok) throw configError(`dhcp-server config: ${cfg.detail ?? cfg.error}`);
        dhcpServer = dhcpServerOnStack(stack, cfg.value.server);
        break;
      }
    }
  }
  return {
    stack,
    dhcpClient,
    dhcpServer,
    http,
    clientsDone: Promise.all(clients),
    clientStarts,
    stop() {
      for (const close of closers) close();
      http?.close();
      for (const l of listeners) l.close();
      if (dhcpClient !== undefined && dhcpClient.state !== "stopped") dhcpClient.stop({ release: false });
      dhcpServer?.close();
    },
  };
}
