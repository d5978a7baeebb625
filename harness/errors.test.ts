// Every error class of the lab shares the base NetlabError (stack/error.ts) and its stable code.
import { describe, expect, it } from "vitest";
import { NetlabError } from "../stack/error.ts";
import { HttpStreamError } from "../stack/app/http/body.ts";
import { HttpUsageError } from "../stack/app/http/emit.ts";
import { AttachError } from "./cli/commands/attach.ts";
import { UsageError } from "./cli/args.ts";
import { KernelTargetError } from "./drill/kernel-target.ts";
import { OracleError } from "./fuzz/oracles.ts";
import { NetnsError } from "./netns/netns.ts";
import { TapError } from "./tap/tap.ts";
import { XenstoreSocketError } from "./xenstore/socket-transport.ts";

describe("the error classes", () => {
  it.each([
    ["UsageError", new UsageError("sim transfer", "--bytes is required"), "ERR_USAGE"],
    ["AttachError", new AttachError("ATTACH_NETNS", "moving the tap failed"), "ATTACH_NETNS"],
    ["TapError", new TapError("TAP_PERMISSION", "no CAP_NET_ADMIN", 1), "TAP_PERMISSION"],
    ["NetnsError", new NetnsError("NETNS_TIMEOUT", "ip netns add timed out"), "NETNS_TIMEOUT"],
    ["KernelTargetError", new KernelTargetError("KERNEL_TARGET_SETUP", "agent exited"), "KERNEL_TARGET_SETUP"],
    ["XenstoreSocketError", new XenstoreSocketError("ERR_XENSTORED_LISTEN", "cannot listen"), "ERR_XENSTORED_LISTEN"],
    ["OracleError", new OracleError("round-trip", "differs"), "ERR_FUZZ_ORACLE"],
    ["HttpStreamError", new HttpStreamError("ERR_HTTP_ABORTED", "peer reset"), "ERR_HTTP_ABORTED"],
    ["HttpUsageError", new HttpUsageError("ERR_HTTP_HEADERS_SENT", "headers already sent"), "ERR_HTTP_HEADERS_SENT"],
  ] as const)("%s is a NetlabError with its code", (name, e, code) => {
    expect(e).toBeInstanceOf(NetlabError);
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe(code);
    expect(e.name).toBe(name);
  });
});
