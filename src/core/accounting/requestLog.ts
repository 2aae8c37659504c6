import { createWriteStream, mkdirSync } from 'node:fs';
import type { WriteStream } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import type { SecretRedactor } from '../redact';

/** Bodies are logged up to this size; the rest is noted, not written. */
const MAX_LOGGED_BODY = 64 * 1024;
const CREDENTIAL_HEADERS = new Set(['authorization', 'x-api-key', 'api-key', 'x-goog-api-key', 'cookie']);

/** One request as the optional request log records it. */
export interface RequestLogEntry {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  provider?: string;
  model?: string;
  key?: string;
  attempts: number;
  status: number;
  ms: number;
  ttfbMs?: number;
}

/**
 * Optional request logging (DESIGN §6): one JSON line per request in `requests-YYYY-MM-DD.jsonl`,
 * credential headers dropped and every known key and the token masked. Off unless the user sets
 * a directory; writes are buffered by a stream so the request path never waits on the disk.
 */
export class RequestLog {
  private stream: WriteStream | undefined;
  private day = '';

  constructor(
    private readonly dir: string,
    private readonly redactor: SecretRedactor,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  write(e: RequestLogEntry, at: number): void {
    const day = new Date(at).toISOString().slice(0, 10);
    if (day !== this.day || !this.stream) {
      this.stream?.end();
      this.day = day;
      this.stream = createWriteStream(join(this.dir, `requests-${day}.jsonl`), { flags: 'a', mode: 0o600 });
      this.stream.on('error', () => {
        this.stream = undefined;
      });
    }
    const headers: Record<string, unknown> = {};
    for (const name in e.headers) if (!CREDENTIAL_HEADERS.has(name)) headers[name] = e.headers[name];
    const body =
      e.body.length > MAX_LOGGED_BODY
        ? `${e.body.subarray(0, MAX_LOGGED_BODY).toString('utf8')}… (${e.body.length} bytes in all)`
        : e.body.toString('utf8');
    const line = JSON.stringify({
      at: new Date(at).toISOString(),
      method: e.method,
      path: e.path,
      provider: e.provider,
      model: e.model,
      key: e.key,
      attempts: e.attempts,
      status: e.status,
      ms: e.ms,
      ttfbMs: e.ttfbMs,
      headers,
      body,
    });
    this.stream.write(`${this.redactor.redact(line)}\n`);
  }

  dispose(): void {
    this.stream?.end();
    this.stream = undefined;
  }
}
