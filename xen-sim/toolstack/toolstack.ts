// The toolstack (libxl's part, for the simulation): creates guests the way libxl__domain_make
// lays out /local/domain/<id> (dom0-owned and guest-readable, with guest-owned device/, data/,
// control/shutdown), seeds the xenstore grant (reserved ref 1), introduces the guest to
// xenstored, and adds vif/vbd devices with exactly the toolstack keys of xen-abi.md §7:
// the frontend dir owned by the frontend domain and readable by the backend, the backend dir
// owned by the backend domain and readable by the frontend, both written in one transaction.
//   createToolstack(deps, options)   hypervisor + dom0 + xenstored + dom0's client
//   vbdNumber(name)                  "xvda" → 51712 (Xen's xvd major 202, 16 minors per disk)

import { err, ok, type Result } from "../../stack/result.ts";
import type { Clock, Rng } from "../../stack/time.ts";
import { formatMac } from "../../stack/wire/address.ts";
import { GNTTAB_RESERVED_XENSTORE } from "../abi/grant-table.ts";
import type { DomainId } from "../abi/xen.ts";
import { createHypervisor } from "../hypervisor/hypervisor.ts";
import { connectInProcess, createXenstoreClient, type XsOps } from "../xenstore/client.ts";
import { connectGuestXenstore, createXenstoreDaemon, prepareGuestXenstore, type GuestXenstoreSetup } from "../xenstore/domain.ts";
import type { VcpuMode } from "../event-channel/types.ts";
import type { Domain } from "../hypervisor/types.ts";
import { domainPath } from "../xenstore/paths.ts";
import type { XsClientError, XsPerm } from "../xenstore/types.ts";
import { XenbusState } from "../xenbus/types.ts";
import type {
  CreateDomainError,
  DeviceError,
  DeviceInfo,
  GuestDomain,
  ThreadGuestDomain,
  Toolstack,
  ToolstackOptions,
  VbdOptions,
  VifOptions,
} from "./types.ts";
import { NetlabError } from "../../stack/error.ts";

/** Default page limit of a guest (16 MiB). */
export const DEFAULT_GUEST_MAX_PAGES = 4096;

/** Xen's vbd numbering for "xvd<letter>" names (xen-vbd-interface.txt); numbers pass through. */
export function vbdNumber(device: number | string): number | undefined {
  if (typeof device === "number") return Number.isInteger(device) && device >= 0 ? device : undefined;
  if (/^[0-9]+$/.test(device)) return Number(device);
  const m = /^xvd([a-p])$/.exec(device);
  return m ? (202 << 8) | ((m[1]!.charCodeAt(0) - 97) << 4) : undefined;
}

async function mknod(tx: XsOps, path: string, perms: readonly XsPerm[], value?: string): Promise<Result<void, XsClientError>> {
  const w = value === undefined ? await tx.mkdir(path) : await tx.write(path, value);
  if (!w.ok) return w;
  return tx.setPerms(path, perms);
}

/** Creates the hypervisor, dom0, xenstored and the toolstack over them. */
export function createToolstack(deps: { readonly clock: Clock; readonly rng: Rng }, options: ToolstackOptions = {}): Toolstack {
  const hypervisor = createHypervisor(deps, options.hypervisor);
  const d0 = hypervisor.createDomain({ id: 0 });
  if (!d0.ok) throw new NetlabError("ERR_NETLAB_TOOLSTACK", `cannot create dom0: ${d0.error}`);
  const dom0 = d0.value;
  const daemon = createXenstoreDaemon({ hypervisor, host: dom0 }, options.xenstore);
  const xs = createXenstoreClient(connectInProcess(daemon.server, 0));
  const guests = new Map<DomainId, GuestDomain>();
  const devices = new Map<DomainId, DeviceInfo[]>();
  const threadGuests = new Set<DomainId>();

  /** libxl__domain_make: the domain, its xenstore page and port, /local/domain/<id>, INTRODUCE. */
  async function makeDomain(
    opts: { name?: string; maxPages?: number; id?: DomainId },
    vcpu: VcpuMode,
  ): Promise<Result<{ domain: Domain; name: string; path: string; setup: GuestXenstoreSetup }, CreateDomainError>> {
    const d = hypervisor.createDomain({
      vcpu,
      maxPages: opts.maxPages ?? options.guestMaxPages ?? DEFAULT_GUEST_MAX_PAGES,
      ...(opts.id === undefined ? {} : { id: opts.id }),
    });
    if (!d.ok) return d;
    const domain = d.value;
    const id = domain.id;
    const fail = <E>(r: Result<never, E>): Result<never, E> => {
      hypervisor.destroyDomain(id);
      return r;
    };
    const setup = prepareGuestXenstore(domain, 0);
    if (!setup.ok) return fail(setup);
    domain.grants.grantReserved(GNTTAB_RESERVED_XENSTORE, 0, setup.value.frame);
    const name = opts.name ?? `domU-${id}`;
    const path = domainPath(id);
    const ro: XsPerm[] = [
      { domid: 0, perm: "n" },
      { domid: id, perm: "r" },
    ];
    const rw: XsPerm[] = [{ domid: id, perm: "n" }];
    const made = await xs.transaction(async (tx) => {
      for (const step of [
        () => mknod(tx, path, ro),
        () => mknod(tx, `${path}/name`, ro, name),
        () => mknod(tx, `${path}/domid`, ro, String(id)),
        () => mknod(tx, `${path}/store`, ro),
        () => mknod(tx, `${path}/store/port`, ro, String(setup.value.port)),
        () => mknod(tx, `${path}/store/ring-ref`, ro, String(setup.value.frame)),
        () => mknod(tx, `${path}/device`, rw),
        () => mknod(tx, `${path}/data`, rw),
        () => mknod(tx, `${path}/control`, ro),
        () => mknod(tx, `${path}/control/shutdown`, rw, ""),
      ]) {
        const r = await step();
        if (!r.ok) return r;
      }
      return ok(undefined);
    });
    if (!made.ok) return fail(made);
    const intro = await xs.introduce(id, setup.value.frame, setup.value.port);
    if (!intro.ok) return fail(intro);
    return ok({ domain, name, path, setup: setup.value });
  }

  async function createDomain(opts: { name?: string; maxPages?: number; id?: DomainId } = {}): Promise<Result<GuestDomain, CreateDomainError>> {
    const m = await makeDomain(opts, "clock");
    if (!m.ok) return m;
    const { domain, name, path, setup } = m.value;
    const conn = connectGuestXenstore(domain, setup);
    if (!conn.ok) {
      hypervisor.destroyDomain(domain.id);
      return conn;
    }
    const guest: GuestDomain = { id: domain.id, name, domain, xs: conn.value.client, path };
    guests.set(domain.id, guest);
    return ok(guest);
  }

  async function createThreadDomain(opts: { name?: string; maxPages?: number; id?: DomainId } = {}): Promise<Result<ThreadGuestDomain, CreateDomainError>> {
    const m = await makeDomain(opts, "thread");
    if (!m.ok) return m;
    const { domain, name, path, setup } = m.value;
    threadGuests.add(domain.id);
    return ok({ id: domain.id, name, domain, path, xenstore: setup });
  }

  async function removeDevice(dev: DeviceInfo): Promise<Result<void, XsClientError>> {
    const r = await xs.transaction(async (tx) => {
      for (const p of [dev.backendPath, dev.frontendPath]) {
        const e = await tx.rm(p);
        if (!e.ok && e.error !== "ENOENT") return e;
      }
      return ok(undefined);
    });
    if (r.ok) {
      const list = devices.get(dev.frontendId);
      if (list)
        devices.set(
          dev.frontendId,
          list.filter((x) => x !== dev),
        );
    }
    return r;
  }

  async function destroyDomain(id: DomainId): Promise<Result<void, "no-such-domain" | XsClientError>> {
    if (id === 0 || hypervisor.domain(id) === undefined) return err("no-such-domain");
    const guest = guests.get(id);
    guests.delete(id);
    threadGuests.delete(id);
    guest?.xs.close();
    for (const dev of devices.get(id) ?? []) {
      const r = await removeDevice(dev);
      if (!r.ok) return r;
    }
    devices.delete(id);
    hypervisor.destroyDomain(id);
    const rel = await xs.release(id);
    if (!rel.ok && rel.error !== "ENOENT") return rel;
    const rm = await xs.rm(domainPath(id));
    if (!rm.ok && rm.error !== "ENOENT") return rm;
    return ok(undefined);
  }

  async function nextDevid(fe: DomainId, kind: "vif" | "vbd"): Promise<Result<number, XsClientError>> {
    const r = await xs.directory(`${domainPath(fe)}/device/${kind}`);
    if (!r.ok && r.error !== "ENOENT") return r;
    const used = new Set((r.ok ? r.value : []).map(Number));
    let n = 0;
    while (used.has(n)) n++;
    return ok(n);
  }

  async function addDevice(
    kind: "vif" | "vbd",
    fe: DomainId,
    be: DomainId,
    devid: number,
    frontKeys: Record<string, string>,
    backKeys: Record<string, string>,
  ): Promise<Result<DeviceInfo, DeviceError>> {
    const info: DeviceInfo = {
      kind,
      frontendId: fe,
      backendId: be,
      devid,
      frontendPath: `${domainPath(fe)}/device/${kind}/${devid}`,
      backendPath: `${domainPath(be)}/backend/${kind}/${fe}/${devid}`,
    };
    const r = await xs.transaction<void, DeviceError>(async (tx) => {
      const exists = await tx.exists(info.frontendPath);
      if (!exists.ok) return exists;
      if (exists.value) return err("device-exists");
      const back = await mknod(tx, info.backendPath, [
        { domid: be, perm: "n" },
        { domid: fe, perm: "r" },
      ]);
      if (!back.ok) return back;
      const front = await mknod(tx, info.frontendPath, [
        { domid: fe, perm: "n" },
        { domid: be, perm: "r" },
      ]);
      if (!front.ok) return front;
      for (const [k, v] of Object.entries(backKeys)) {
        const w = await tx.write(`${info.backendPath}/${k}`, v);
        if (!w.ok) return w;
      }
      for (const [k, v] of Object.entries(frontKeys)) {
        const w = await tx.write(`${info.frontendPath}/${k}`, v);
        if (!w.ok) return w;
      }
      return ok(undefined);
    });
    if (!r.ok) return r;
    const list = devices.get(fe) ?? [];
    list.push(info);
    devices.set(fe, list);
    return ok(info);
  }

  async function hotplugVif(dev: DeviceInfo): Promise<Result<void, XsClientError>> {
    return xs.write(`${dev.backendPath}/hotplug-status`, "connected");
  }

  return {
    hypervisor,
    dom0,
    daemon,
    xs,
    createDomain,
    createThreadDomain,
    destroyDomain,
    async addVif(fe, o: VifOptions) {
      const be = o.backend ?? 0;
      if (hypervisor.domain(fe) === undefined || hypervisor.domain(be) === undefined) return err("no-such-domain");
      let devid = o.devid;
      if (devid === undefined) {
        const n = await nextDevid(fe, "vif");
        if (!n.ok) return n;
        devid = n.value;
      }
      if (!Number.isInteger(devid) || devid < 0) return err("bad-device");
      const mac = formatMac(o.mac);
      const r = await addDevice(
        "vif",
        fe,
        be,
        devid,
        {
          backend: `${domainPath(be)}/backend/vif/${fe}/${devid}`,
          "backend-id": String(be),
          state: String(XenbusState.Initialising),
          handle: String(devid),
          mac,
        },
        {
          frontend: `${domainPath(fe)}/device/vif/${devid}`,
          "frontend-id": String(fe),
          online: "1",
          state: String(XenbusState.Initialising),
          mac,
          bridge: o.bridge ?? "xenbr0",
          handle: String(devid),
        },
      );
      if (!r.ok || o.hotplug === false) return r;
      const h = await hotplugVif(r.value);
      return h.ok ? r : h;
    },
    async addVbd(fe, o: VbdOptions) {
      const be = o.backend ?? 0;
      if (hypervisor.domain(fe) === undefined || hypervisor.domain(be) === undefined) return err("no-such-domain");
      const devid = vbdNumber(o.virtualDevice);
      if (devid === undefined) return err("bad-device");
      const type = o.deviceType ?? "disk";
      return addDevice(
        "vbd",
        fe,
        be,
        devid,
        {
          backend: `${domainPath(be)}/backend/vbd/${fe}/${devid}`,
          "backend-id": String(be),
          state: String(XenbusState.Initialising),
          "virtual-device": String(devid),
          "device-type": type,
        },
        {
          frontend: `${domainPath(fe)}/device/vbd/${devid}`,
          "frontend-id": String(fe),
          online: "1",
          state: String(XenbusState.Initialising),
          params: o.params,
          mode: o.mode ?? "w",
          "device-type": type,
          "discard-enable": o.discardEnable === false ? "0" : "1",
        },
      );
    },
    removeDevice,
    hotplugVif,
    guest: (id) => guests.get(id),
    guests: () => [...guests.values()],
  };
}
