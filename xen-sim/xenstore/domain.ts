// Xenstored on the simulated hypervisor: INTRODUCE maps the guest's xenstore page (a foreign
// mapping by the privileged host domain, as C xenstored does) and binds the guest's unbound
// event channel; the guest side speaks through its own page and port.
//   createXenstoreDaemon   a server whose INTRODUCE/RELEASE attach/detach domain rings
//   prepareGuestXenstore   toolstack step: allocate + initialise the page, allocate the port
//   connectGuestXenstore   the guest's client over its page and port

import { err, ok, type Result } from "../../stack/result.ts";
import type { Domain, Hypervisor } from "../hypervisor/types.ts";
import type { EvtchnPort } from "../event-channel/types.ts";
import type { Frame } from "../memory/types.ts";
import { createXenstoreClient, type XenstoreClient } from "./client.ts";
import { createXenstoreRingBackend, createXenstoreRingFrontend, initXenstoreRingPage, type XenstoreRingBackend, type XenstoreRingFrontend } from "./ring.ts";
import { createXenstoreServer } from "./server.ts";
import type { XenstoreServer, XenstoreServerOptions } from "./types.ts";

/** A xenstore server wired to the hypervisor. */
export interface XenstoreDaemon {
  readonly server: XenstoreServer;
  /** The ring backend serving a domain, if introduced. */
  backend(domid: number): XenstoreRingBackend | undefined;
  /** Introduces a domain (what dom0's XS_INTRODUCE does): map page, bind port, fire @introduceDomain. */
  introduce(domid: number, frame: Frame, port: EvtchnPort): Result<void, "EINVAL">;
  /** Releases a domain: drops its connection, unbinds its port, fires @releaseDomain. */
  release(domid: number): void;
}

interface Attached {
  readonly backend: XenstoreRingBackend;
  readonly localPort: EvtchnPort;
}

/** Creates the daemon running in `host` (a privileged domain, normally dom0). */
export function createXenstoreDaemon(
  deps: { readonly hypervisor: Hypervisor; readonly host: Domain },
  options: Omit<XenstoreServerOptions, "onIntroduce" | "onRelease"> = {},
): XenstoreDaemon {
  const { hypervisor, host } = deps;
  const attached = new Map<number, Attached>();

  function attach(domid: number, frame: number, port: number): boolean {
    if (hypervisor.domain(domid) === undefined || !Number.isSafeInteger(frame)) return false;
    const page = host.mapForeign(domid, frame);
    if (!page.ok) return false;
    const local = host.events.bindInterdomain(domid, port);
    if (!local.ok) return false;
    const backend = createXenstoreRingBackend({
      server,
      domid,
      page: page.value,
      notify: () => void host.events.send(local.value),
    });
    host.events.onEvent(local.value, () => backend.kick());
    attached.set(domid, { backend, localPort: local.value });
    backend.kick();
    return true;
  }

  function detach(domid: number): void {
    const a = attached.get(domid);
    if (!a) return;
    attached.delete(domid);
    a.backend.close();
    host.events.onEvent(a.localPort, undefined);
    host.events.close(a.localPort);
  }

  const server = createXenstoreServer({
    ...options,
    onIntroduce: (domid, gfn, port) => gfn <= BigInt(Number.MAX_SAFE_INTEGER) && attach(domid, Number(gfn), port),
    onRelease: detach,
  });

  return {
    server,
    backend: (domid) => attached.get(domid)?.backend,
    introduce(domid, frame, port) {
      if (server.isIntroduced(domid)) return ok(undefined);
      if (!attach(domid, frame, port)) return err("EINVAL");
      server.introduceDomain(domid);
      return ok(undefined);
    },
    release(domid) {
      server.releaseDomain(domid);
      detach(domid);
    },
  };
}

/** The xenstore page and port a toolstack prepares for a guest before introducing it. */
export interface GuestXenstoreSetup {
  readonly frame: Frame;
  readonly port: EvtchnPort;
}

/** Allocates and initialises the guest's xenstore page and an unbound port for `backendDomid`. */
export function prepareGuestXenstore(guest: Domain, backendDomid = 0): Result<GuestXenstoreSetup, "out-of-memory" | "bad-frame" | "no-port"> {
  const frame = guest.memory.allocPage();
  if (!frame.ok) return frame;
  const page = guest.memory.page(frame.value);
  if (!page.ok) return page;
  initXenstoreRingPage(page.value);
  const port = guest.events.allocUnbound(backendDomid);
  if (!port.ok) return err("no-port");
  return ok({ frame: frame.value, port: port.value });
}

/** The guest's xenstore client over its own page and port. */
export function connectGuestXenstore(
  guest: Domain,
  setup: GuestXenstoreSetup,
): Result<{ client: XenstoreClient; frontend: XenstoreRingFrontend }, "bad-frame"> {
  const page = guest.memory.page(setup.frame);
  if (!page.ok) return page;
  const frontend = createXenstoreRingFrontend({ page: page.value, notify: () => void guest.events.send(setup.port) });
  guest.events.onEvent(setup.port, () => frontend.kick());
  return ok({ client: createXenstoreClient(frontend), frontend });
}
