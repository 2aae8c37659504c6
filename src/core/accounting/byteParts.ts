/**
 * Output written straight into a buffer by JS loops and taken out in parts: `/keyrelay/status` at
 * 100,000 keys (20 MB of JSON, 4 MB of table). Strings built by concatenation spent most of their
 * time flattening millions of pieces, and one large string (or buffer) cost far more than many
 * small ones: see PART_BYTES.
 */

/**
 * Where a part ends: at the first key (or line) boundary past this many bytes. Below V8's 128 KB
 * large-object limit: on the bench VM a 200 KB string or buffer, each in fresh pages, cost ~1 ms
 * to make where 100 KB cost 12 µs.
 */
export const PART_BYTES = 64 * 1024;

/** A growing buffer of output; `takeText` hands out what was written, and the buffer is reused. */
export class ByteParts {
  protected buf = Buffer.allocUnsafe(96 * 1024);
  protected at = 0;

  get length(): number {
    return this.at;
  }

  /**
   * What was written since the last take, as a string (for the redactor, and for the socket: a
   * string it can write at once is never copied into a buffer of its own). A buffer per part
   * instead, held by the socket until the reader took it, was 30 MB of external memory per status
   * call at 100,000 keys, and V8 answered it with full collections of the whole heap.
   */
  takeText(encoding: 'latin1' | 'utf8'): string {
    const text = this.buf.toString(encoding, 0, this.at);
    this.at = 0;
    return text;
  }

  /** Text as UTF-8. */
  utf8(s: string): void {
    const n = s.length;
    this.room(3 * n);
    const b = this.buf;
    let o = this.at;
    for (let i = 0; i < n; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        b[o++] = c;
        continue;
      }
      if (c < 0x800) {
        b[o++] = 0xc0 | (c >> 6);
      } else {
        const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (c >= 0xd800 && c < 0xdc00 && next >= 0xdc00 && next < 0xe000) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
          b[o++] = 0xf0 | (c >> 18);
          b[o++] = 0x80 | ((c >> 12) & 0x3f);
        } else {
          if (c >= 0xd800 && c < 0xe000) c = 0xfffd; // a lone surrogate, as Buffer.from writes it
          b[o++] = 0xe0 | (c >> 12);
        }
        b[o++] = 0x80 | ((c >> 6) & 0x3f);
      }
      b[o++] = 0x80 | (c & 0x3f);
    }
    this.at = o;
  }

  /** `n` spaces. */
  spaces(n: number): void {
    if (n <= 0) return;
    this.room(n);
    const b = this.buf;
    const end = this.at + n;
    for (let o = this.at; o < end; o++) b[o] = 0x20; // a loop: Buffer.fill's call into C++ cost more for these few
    this.at = end;
  }

  /** Makes room for `n` more bytes. */
  protected room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.at + n));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }
}
