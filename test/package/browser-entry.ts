// Browser entry of the portability test: runs the example and puts its JSON into
// <pre id="result"> for `chromium --headless --dump-dom` to print.
import { runPortableExample } from "./portable-example.ts";

const doc = globalThis as unknown as { document: { getElementById(id: string): { textContent: string } | null }; location: { search: string } };
const seed = Number(new URLSearchParams(doc.location.search).get("seed") ?? "1");
const out = doc.document.getElementById("result")!;
try {
  out.textContent = JSON.stringify(await runPortableExample(seed));
} catch (e) {
  out.textContent = JSON.stringify({ error: e instanceof Error ? `${e.stack ?? e.message}` : String(e) });
}
