// mergeMarkdownSections(): a suite's generated Markdown merged into the file already written.
import { describe, expect, it } from "vitest";
import { mergeMarkdownSections } from "./report.ts";

describe("mergeMarkdownSections()", () => {
  it("replaces the head and the sections the generated text has, keeps the others where they are, appends new ones", () => {
    const previous = "# Grid\n\nold intro\n\n## Table\n\nold table\n\n## Notes by hand\n\nkeep me\n\n## Other table\n\nold other\n";
    const generated = "# Grid\n\nnew intro\n\n## Table\n\nnew table\n\n## Other table\n\nnew other\n\n## Third\n\nnew third\n";
    expect(mergeMarkdownSections(previous, generated)).toBe(
      "# Grid\n\nnew intro\n\n## Table\n\nnew table\n\n## Notes by hand\n\nkeep me\n\n## Other table\n\nnew other\n\n## Third\n\nnew third\n",
    );
  });

  it("a file without hand-written sections becomes the generated text", () => {
    const generated = "# Grid\n\nintro\n\n## Table\n\nrows\n";
    expect(mergeMarkdownSections("# Grid\n\nold\n\n## Table\n\nold rows\n", generated)).toBe(generated);
  });
});
