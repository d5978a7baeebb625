// UTF-8 for body strings without platform globals (stack/ is runtime-neutral).
//
// utf8Encode(s)  bytes of s (lone surrogates become U+FFFD)
// utf8Decode(b)  text of b (malformed sequences become U+FFFD)

/** The first code unit past ASCII (named: a fuzz build hooks each comparison with a numeric literal, here one per char). */
const ASCII_END = 0x80;

/** Encodes a string as UTF-8. */
export function utf8Encode(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 3);
  let at = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < ASCII_END) {
      out[at++] = c;
      continue;
    }
    if (c < 0x800) {
      out[at++] = 0xc0 | (c >> 6);
      out[at++] = 0x80 | (c & 63);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        out[at++] = 0xf0 | (c >> 18);
        out[at++] = 0x80 | ((c >> 12) & 63);
        out[at++] = 0x80 | ((c >> 6) & 63);
        out[at++] = 0x80 | (c & 63);
        continue;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    out[at++] = 0xe0 | (c >> 12);
    out[at++] = 0x80 | ((c >> 6) & 63);
    out[at++] = 0x80 | (c & 63);
  }
  return out.slice(0, at);
}

/** Decodes UTF-8 (WHATWG-style replacement of malformed sequences). */
export function utf8Decode(b: Uint8Array): string {
  const parts: string[] = [];
  let codes: number[] = [];
  const flush = (): void => {
    parts.push(String.fromCharCode(...codes));
    codes = [];
  };
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let need = 0,
      cp = 0,
      min = 0;
    if (c < 0x80) {
      codes.push(c);
      i++;
      if (codes.length > 4096) flush();
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      cp = c & 0x1f;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      cp = c & 0x0f;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      cp = c & 0x07;
      min = 0x10000;
    } else {
      codes.push(0xfffd);
      i++;
      continue;
    }
    let j = 1;
    for (; j <= need; j++) {
      const d = b[i + j];
      if (d === undefined || (d & 0xc0) !== 0x80) break;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (j <= need || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      codes.push(0xfffd);
      i += Math.max(1, j);
      continue;
    }
    i += need + 1;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      codes.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
    } else codes.push(cp);
    if (codes.length > 4096) flush();
  }
  flush();
  return parts.join("");
}
