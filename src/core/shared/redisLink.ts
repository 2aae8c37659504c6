/**
 * The shared store's connection, run in a worker thread (src/core/shared/redisWorker.ts). With
 * ioredis's two sockets in the proxy's own thread, every request cost 10–15 % more CPU although
 * none of them touched the store (test/bench/storeAB.mjs: 1.15× with the store on; the profile
 * spread the extra over node's stream, GC and undici code, none in KeyRelay's or ioredis's). With
 * the same connections in a worker the two read the same (0.98×). This side only posts commands
 * and gets replies and events back; the proxy's thread never loads ioredis.
 */
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';

/** Where and how the worker connects. */
export interface LinkOptions {
  url: string;
  password?: string;
  tls: boolean;
}

/** One Redis command: its name, then its arguments. */
export type RedisCommand = Array<string | number>;
/** Each command's error message (or null) and reply, as ioredis's `exec()` gives them. */
export type BatchReplies = Array<[string | null, unknown]>;

export type Conn = 'cmd' | 'sub';

/** Requests to the worker. */
export type LinkRequest =
  | { id: number; op: 'call'; command: RedisCommand }
  | { id: number; op: 'multi' | 'pipeline'; commands: RedisCommand[] }
  | { id: number; op: 'subscribe'; channel: string }
  | { id: number; op: 'disconnect' };

/** What the worker posts back. */
export type LinkEvent =
  | { ev: 'ready' | 'close'; conn: Conn }
  | { ev: 'error'; message: string }
  | { ev: 'message'; text: string }
  | { ev: 'reply'; id: number; value?: unknown; error?: string };

export interface LinkHandlers {
  /** A connection is ready (after each reconnect too). */
  ready(conn: Conn): void;
  /** A connection closed, or the worker stopped. */
  close(): void;
  error(message: string): void;
  /** A pub/sub message on the subscribed channel. */
  message(text: string): void;
}

/** How long `disconnect` lets the worker say QUIT before it is stopped. */
const STOP_GRACE_MS = 1_000;

type WithoutId<R> = R extends unknown ? Omit<R, 'id'> : never;
type Request = WithoutId<LinkRequest>;

export class RedisLink {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private nextId = 1;
  private stopped = false;

  constructor(o: LinkOptions, h: LinkHandlers) {
    this.worker = new Worker(join(__dirname, 'redisWorker.js'), {
      workerData: o,
      // A few commands every 250 ms: a small young generation keeps the isolate's RSS ~5 MB lower.
      resourceLimits: { maxYoungGenerationSizeMb: 2 },
    });
    // The store never keeps the process alive: the CLI and the editor decide when it ends.
    this.worker.unref();
    this.worker.on('message', (e: LinkEvent) => {
      switch (e.ev) {
        case 'reply':
          return this.settle(e);
        case 'message':
          return h.message(e.text);
        case 'error':
          return h.error(e.message);
        case 'ready':
          return h.ready(e.conn);
        default:
          return h.close();
      }
    });
    this.worker.on('error', (err: Error) => h.error(err.message));
    this.worker.on('exit', () => {
      this.stopped = true;
      const gone = new Error('the shared store connection stopped');
      for (const w of this.waiting.values()) w.reject(gone);
      this.waiting.clear();
      h.close();
    });
  }

  /** One command on the command connection. */
  call<T>(...command: RedisCommand): Promise<T> {
    return this.ask({ op: 'call', command }) as Promise<T>;
  }

  /** Commands in one MULTI/EXEC transaction. */
  multi(commands: RedisCommand[]): Promise<BatchReplies> {
    return this.ask({ op: 'multi', commands }) as Promise<BatchReplies>;
  }

  /** Commands in one round trip. */
  pipeline(commands: RedisCommand[]): Promise<BatchReplies> {
    return this.ask({ op: 'pipeline', commands }) as Promise<BatchReplies>;
  }

  subscribe(channel: string): Promise<unknown> {
    return this.ask({ op: 'subscribe', channel });
  }

  /** Closes both connections; the worker is stopped if it has not ended within STOP_GRACE_MS. */
  disconnect(): void {
    if (this.stopped) return;
    this.worker.postMessage({ id: 0, op: 'disconnect' } satisfies LinkRequest);
    setTimeout(() => void this.worker.terminate(), STOP_GRACE_MS).unref();
  }

  private ask(r: Request): Promise<unknown> {
    if (this.stopped) return Promise.reject(new Error('the shared store connection stopped'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ ...r, id } as LinkRequest);
    });
  }

  private settle(e: Extract<LinkEvent, { ev: 'reply' }>): void {
    const w = this.waiting.get(e.id);
    if (!w) return;
    this.waiting.delete(e.id);
    if (e.error !== undefined) w.reject(new Error(e.error));
    else w.resolve(e.value);
  }
}
