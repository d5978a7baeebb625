// Toolstack interfaces (what libxl/xl do for netlab): guests, their devices and the options.
//   GuestDomain      a created domain with its own xenstore client over its ring page
//   VifOptions / VbdOptions   device parameters (the toolstack keys of xen-abi.md §7)
//   DeviceInfo       where a device's frontend and backend directories live
//   Toolstack        create/destroy domains, add vif/vbd devices
//   ToolstackOptions limits and hypervisor/xenstore options

import type { Result } from "../../stack/result.ts";
import type { DomainId } from "../abi/xen.ts";
import type { Domain, Hypervisor, HypervisorOptions } from "../hypervisor/types.ts";
import type { XenstoreClient } from "../xenstore/client.ts";
import type { GuestXenstoreSetup, XenstoreDaemon } from "../xenstore/domain.ts";
import type { XenstoreServerOptions, XsClientError } from "../xenstore/types.ts";

/** A guest created by the toolstack. */
export interface GuestDomain {
  readonly id: DomainId;
  readonly name: string;
  readonly domain: Domain;
  /** The guest's own xenstore client (over its xenstore ring page and event channel). */
  readonly xs: XenstoreClient;
  /** "/local/domain/<id>". */
  readonly path: string;
}

/** A guest whose vcpu is a worker thread: it connects to xenstore itself over `xenstore` (page + port). */
export interface ThreadGuestDomain {
  readonly id: DomainId;
  readonly name: string;
  readonly domain: Domain;
  readonly path: string;
  readonly xenstore: GuestXenstoreSetup;
}

/** Parameters of a network device. */
export interface VifOptions {
  /** Backend domain (default 0). */
  readonly backend?: DomainId;
  /** Device id (default: lowest free). */
  readonly devid?: number;
  /** Guest MAC address (48-bit number). */
  readonly mac: number;
  /** Name of the bridge the hotplug step joins the vif to (default "xenbr0"). */
  readonly bridge?: string;
  /** Run the hotplug step (write hotplug-status=connected) after adding (default true). */
  readonly hotplug?: boolean;
}

/** Parameters of a block device. */
export interface VbdOptions {
  readonly backend?: DomainId;
  /** Guest device: a number or a name such as "xvda" (→ 51712). */
  readonly virtualDevice: number | string;
  /** Backend-specific target (an image path, "memory:SIZE"...). */
  readonly params: string;
  /** "w" (default) or "r". */
  readonly mode?: "w" | "r";
  /** "disk" (default) or "cdrom". */
  readonly deviceType?: "disk" | "cdrom";
  /** Written as discard-enable (default true). */
  readonly discardEnable?: boolean;
}

/** Where a device lives in xenstore. */
export interface DeviceInfo {
  readonly kind: "vif" | "vbd";
  readonly frontendId: DomainId;
  readonly backendId: DomainId;
  readonly devid: number;
  /** /local/domain/<F>/device/<kind>/<devid> */
  readonly frontendPath: string;
  /** /local/domain/<B>/backend/<kind>/<F>/<devid> */
  readonly backendPath: string;
}

/** Errors of createDomain. */
export type CreateDomainError = "too-many-domains" | "id-in-use" | "bad-id" | "out-of-memory" | "bad-frame" | "no-port" | XsClientError;
/** Errors of device operations. */
export type DeviceError = "no-such-domain" | "bad-device" | "device-exists" | XsClientError;

/** What the toolstack does. */
export interface Toolstack {
  readonly hypervisor: Hypervisor;
  readonly dom0: Domain;
  readonly daemon: XenstoreDaemon;
  /** Dom0's privileged xenstore client (as libxl's socket connection). */
  readonly xs: XenstoreClient;
  /** Creates a guest: domain, /local/domain/<id> with libxl's permissions, xenstore page + port, INTRODUCE. */
  createDomain(options?: { readonly name?: string; readonly maxPages?: number; readonly id?: DomainId }): Promise<Result<GuestDomain, CreateDomainError>>;
  /** As createDomain, for a guest run by a worker thread (vcpu "thread"); no client is connected here. */
  createThreadDomain(options?: {
    readonly name?: string;
    readonly maxPages?: number;
    readonly id?: DomainId;
  }): Promise<Result<ThreadGuestDomain, CreateDomainError>>;
  /** Destroys a guest: removes its device dirs (both ends), destroys the domain (grants, ports, memory),
   *  releases it from xenstore (@releaseDomain, its watches and transactions) and removes /local/domain/<id>. */
  destroyDomain(id: DomainId): Promise<Result<void, "no-such-domain" | XsClientError>>;
  addVif(frontend: DomainId, options: VifOptions): Promise<Result<DeviceInfo, DeviceError>>;
  addVbd(frontend: DomainId, options: VbdOptions): Promise<Result<DeviceInfo, DeviceError>>;
  /** Removes a device's frontend and backend directories. */
  removeDevice(device: DeviceInfo): Promise<Result<void, XsClientError>>;
  /** The hotplug script's step for a vif: writes hotplug-status=connected in the backend dir. */
  hotplugVif(device: DeviceInfo): Promise<Result<void, XsClientError>>;
  guest(id: DomainId): GuestDomain | undefined;
  guests(): GuestDomain[];
}

/** Options of createToolstack. */
export interface ToolstackOptions {
  readonly hypervisor?: HypervisorOptions;
  readonly xenstore?: Omit<XenstoreServerOptions, "onIntroduce" | "onRelease">;
  /** Default guest page limit (default 4096 pages = 16 MiB). */
  readonly guestMaxPages?: number;
}
