import { describe, expect, it } from "vitest";
import { isNetlabError, NetlabError } from "./error.ts";
import { err, unwrap } from "./result.ts";

describe("NetlabError", () => {
  it("carries a stable code, the message, its name and an optional cause", () => {
    const cause = new Error("EACCES");
    const e = new NetlabError("ERR_NETLAB_EXAMPLE", "could not do it", { cause });
    expect(e).toBeInstanceOf(Error);
    expect(isNetlabError(e)).toBe(true);
    expect(isNetlabError(new Error("plain"))).toBe(false);
    expect({ code: e.code, message: e.message, name: e.name, cause: e.cause }).toEqual({
      code: "ERR_NETLAB_EXAMPLE",
      message: "could not do it",
      name: "NetlabError",
      cause,
    });
    expect(new NetlabError("ERR_X", "m").cause).toBeUndefined();
  });

  it("is what unwrap() of an Err throws", () => {
    expect(() => unwrap(err("bad-length", "3 bytes"))).toThrow(
      expect.objectContaining({ code: "ERR_NETLAB_UNWRAP", message: "unwrap of Err(bad-length: 3 bytes)" }),
    );
    try {
      unwrap(err("truncated"));
    } catch (e) {
      expect(e).toBeInstanceOf(NetlabError);
    }
  });
});
