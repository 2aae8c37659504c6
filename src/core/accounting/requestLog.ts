import { createWriteStream, fchmod, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import type { SecretRedactor } from '../redact';
import { reassembleStream } from './reassemble';

const CREDENTIAL_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
  'cookie',
  'set-cookie',
]);
/** `requests-2026-12-06.jsonl`, then `requests-2026-12-06-2.jsonl` … once a file is full. */
export const LOG_FILE = /^requests-(\d{4}-\d{2}-\d{2})(?:-(\d+))?\.jsonl$/;

/** Limits of the request log (settings `requestLogMax*`). */
export interface RequestLogLimits {
  /** One entry's bodies together are cut to about this many bytes. */
  maxEntryBytes: number;
  /** A file past this size is closed and the next one opened. */
  maxFileBytes: number;
  /** Files older than this are deleted. */
  maxAgeMs: number;
}

/** One upstream attempt of a request, as the log lists it. */
export interface LoggedAttempt {
  key: string;
  status: number;
  outcome: string;
  ms: number;
}

/** The answer the client got, as far as the log captured it. */
export interface LoggedResponse {
  status: number;
  contentType: string;
  body: Buffer;
  /** More bytes came than were kept. */
  truncated: boolean;
}

/** One request as the optional request log records it. */
export interface RequestLogEntry {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The body as sent upstream, when KeyRelay changed it. */
  sentBody?: Buffer;
  provider?: string;
  model?: string;
  /** The answering key: `label (masked)`. */
  key?: string;
  attempts: number;
  tries?: LoggedAttempt[];
  status: number;
  ms: number;
  ttfbMs?: number;
  response?: LoggedResponse;
}

/**
 * Optional request logging (DESIGN §6): one JSON line per request with its request and response
 * bodies (a stream reassembled into its text, tool calls and usage), the attempts and timings.
 * Credential headers are dropped and every known key and the token masked; bodies are cut to the
 * entry limit; files are 0600 in a 0700 folder, rotated by size and deleted by age. Off unless a
 * directory is set; writes are buffered by a stream so the request path never waits on the disk.
 */
export class RequestLog {
  private stream: WriteStream | undefined;
  private day = '';
  private part = 1;
  private written = 0;

  constructor(
    private readonly dir: string,
    private readonly redactor: SecretRedactor,
    private readonly limits: RequestLogLimits,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  write(e: RequestLogEntry, at: number): void {
    const line = `${this.redactor.redact(JSON.stringify(entryDocument(e, at, this.limits.maxEntryBytes)))}\n`;
    this.streamFor(at, Buffer.byteLength(line)).write(line);
  }

  dispose(): void {
    this.stream?.end();
    this.stream = undefined;
  }

  /** Ends the current file and resolves once what was written is on disk (tests, shutdown). */
  close(): Promise<void> {
    const s = this.stream;
    this.dispose();
    return s && !s.closed ? new Promise((resolve) => s.once('close', () => resolve())) : Promise.resolve();
  }

  /** The file for this line: a new one on a new day or when the current one is full. */
  private streamFor(at: number, bytes: number): WriteStream {
    const day = new Date(at).toISOString().slice(0, 10);
    const max = this.limits.maxFileBytes;
    const full = this.written > 0 && this.written + bytes > max;
    if (this.stream && day === this.day && !full) {
      this.written += bytes;
      return this.stream;
    }
    this.stream?.end();
    if (day !== this.day) {
      this.day = day;
      this.part = lastPart(this.dir, day);
      this.prune(at);
    } else if (full) this.part++;
    // A file left full by an earlier run is skipped too.
    while ((this.written = sizeOf(this.path())) > 0 && this.written + bytes > max) this.part++;
    const path = this.path();
    const stream = createWriteStream(path, { flags: 'a', mode: 0o600 });
    stream.on('error', () => {
      if (this.stream === stream) this.stream = undefined;
    });
    // `mode` applies only to a file it creates; one made by an older version gets it now.
    stream.once('open', (fd: number) => fchmod(fd, 0o600, () => undefined));
    this.stream = stream;
    this.written += bytes;
    return stream;
  }

  private path(): string {
    return join(this.dir, `requests-${this.day}${this.part > 1 ? `-${this.part}` : ''}.jsonl`);
  }

  /** Deletes log files older than the age limit (in the background: the request does not wait). */
  private prune(now: number): void {
    for (const f of logFiles(this.dir)) {
      const path = join(this.dir, f.name);
      try {
        if (now - statSync(path).mtimeMs > this.limits.maxAgeMs) unlink(path).catch(() => undefined);
      } catch {
        // gone meanwhile
      }
    }
  }
}

/** Log files in `dir`, newest first (by day, then part). */
export function logFiles(dir: string): Array<{ name: string; day: string; part: number }> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((name) => ({ name, m: LOG_FILE.exec(name) }))
    .filter((f): f is { name: string; m: RegExpExecArray } => f.m !== null)
    .map(({ name, m }) => ({ name, day: m[1], part: Number(m[2] ?? 1) }))
    .sort((a, b) => (a.day === b.day ? b.part - a.part : a.day < b.day ? 1 : -1));
}

function lastPart(dir: string, day: string): number {
  return logFiles(dir).find((f) => f.day === day)?.part ?? 1;
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** The JSON document of one entry; the bodies share `maxBytes` (half each, at most). */
export function entryDocument(e: RequestLogEntry, at: number, maxBytes: number): Record<string, unknown> {
  const headers: Record<string, unknown> = {};
  for (const name in e.headers) if (!CREDENTIAL_HEADERS.has(name)) headers[name] = e.headers[name];
  const half = Math.max(1024, Math.floor(maxBytes / 2));
  return {
    at: new Date(at).toISOString(),
    method: e.method,
    path: e.path,
    provider: e.provider,
    model: e.model,
    key: e.key,
    attempts: e.attempts,
    tries: e.tries,
    status: e.status,
    ms: e.ms,
    ttfbMs: e.ttfbMs,
    request: {
      headers,
      body: bodyValue(e.body, e.sentBody ? half / 2 : half),
      sentUpstream: e.sentBody && bodyValue(e.sentBody, half / 2),
    },
    response: e.response && responseValue(e.response, half),
  };
}

/** A JSON body as its value (readable when the entry is opened), else text; cut to `max` bytes. */
function bodyValue(body: Buffer, max: number): unknown {
  if (body.length === 0) return undefined;
  if (body.length <= max) {
    try {
      return JSON.parse(body.toString('utf8'));
    } catch {
      // not JSON: logged as text below
    }
  }
  return cut(body.toString('utf8'), max, body.length);
}

function responseValue(r: LoggedResponse, max: number): Record<string, unknown> {
  const base = { status: r.status, contentType: r.contentType || undefined, truncated: r.truncated || undefined };
  if (!r.contentType.startsWith('text/event-stream')) return { ...base, body: bodyValue(r.body, max) };
  const s = reassembleStream(r.body.toString('utf8'));
  const text = cut(s.text, max, Buffer.byteLength(s.text));
  const reasoning = s.reasoning === undefined ? undefined : cut(s.reasoning, Math.floor(max / 4), s.reasoning.length);
  const toolCalls = s.toolCalls.map((c) => ({
    ...c,
    arguments: cut(c.arguments, Math.floor(max / 4), c.arguments.length),
  }));
  return { ...base, stream: { ...s, text, reasoning, toolCalls } };
}

/** `text` within `max` bytes (about: cut by characters), with a note of the whole size. */
function cut(text: string, max: number, total: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= max) return text;
  return `${bytes.subarray(0, max).toString('utf8')}… (cut: ${total} bytes in all)`;
}

/** One logged request as "Open Request Log" lists it. */
export interface LoggedEntry {
  /** The entry's JSON line, parsed. */
  doc: Record<string, unknown>;
  file: string;
}

/**
 * The last `limit` entries of the request log in `dir`, newest first, read from the newest files
 * back; a line that does not parse (one being written) is skipped.
 */
export function readRecentEntries(dir: string, limit: number): LoggedEntry[] {
  const out: LoggedEntry[] = [];
  for (const f of logFiles(dir)) {
    let text: string;
    try {
      text = readFileSync(join(dir, f.name), 'utf8');
    } catch {
      continue;
    }
    const lines = text.split('\n');
    for (let i = lines.length - 1; i >= 0 && out.length < limit; i--) {
      if (!lines[i]) continue;
      try {
        out.push({ doc: JSON.parse(lines[i]) as Record<string, unknown>, file: f.name });
      } catch {
        // a line cut by a crash, or still being written
      }
    }
    if (out.length >= limit) break;
  }
  return out;
}
