/**
 * The response bytes of one attempt, kept for the request log up to a cap (a stream is kept raw
 * and reassembled when the entry is written). Exists only while the request log is on.
 */
export class BodyCapture {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  truncated = false;

  constructor(private readonly cap: number) {}

  add(chunk: Buffer): void {
    if (this.bytes >= this.cap) {
      this.truncated = true;
      return;
    }
    const part = this.bytes + chunk.length > this.cap ? chunk.subarray(0, this.cap - this.bytes) : chunk;
    if (part !== chunk) this.truncated = true;
    this.chunks.push(part);
    this.bytes += part.length;
  }

  joined(): Buffer {
    return Buffer.concat(this.chunks, this.bytes);
  }
}
