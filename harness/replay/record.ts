// Recording of real-peer captures (in progress).
/** Records captures into options.dir; resolves to an exit code. */
export async function recordAll(_options: { dir: string; only?: readonly string[] }): Promise<number> {
  process.stderr.write("netlab replay --record: not implemented yet\n");
  return 1;
}
