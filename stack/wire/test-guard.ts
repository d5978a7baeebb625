// Test-only: a view that throws on any read outside [0, length) and on a subarray/slice whose
// bounds a silent clamp would have hidden, so that a property can assert "never reads past
// what it validated" (harness/fuzz/oracles.ts guards the fuzz targets the same way).

/** bytes behind a bounds-checking Proxy; views made by subarray are guarded too. */
export function guard(bytes: Uint8Array): Uint8Array {
  const length = bytes.length;
  const check = (what: string, begin: unknown, end: unknown): void => {
    const b = begin === undefined ? 0 : Number(begin);
    const e = end === undefined ? length : Number(end);
    if (b > length || e > length || b < 0 || e < 0) throw new RangeError(`${what}(${String(begin)}, ${String(end)}) on ${length} bytes`);
  };
  return new Proxy(bytes, {
    get(target, key) {
      if (typeof key === "string") {
        const c = key.charCodeAt(0);
        if ((c >= 48 && c <= 57) || c === 45) {
          const i = Number(key);
          if (Number.isInteger(i) && (i < 0 || i >= length)) throw new RangeError(`read of [${key}] on ${length} bytes`);
          return target[i];
        }
        if (key === "subarray")
          return (b?: number, e?: number) => {
            check("subarray", b, e);
            return guard(target.subarray(b, e));
          };
        if (key === "slice")
          return (b?: number, e?: number) => {
            check("slice", b, e);
            return target.slice(b, e);
          };
      }
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
