/**
 * The worker thread that holds the shared store's two connections (see redisLink.ts for why):
 * commands in, replies and events out. Options as in SharedState before: commands fail at once
 * while the store is away (they stay in SharedState's outbox), the subscriber queues its
 * SUBSCRIBE until it is connected, and both reconnect quickly, then every second.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Redis } from 'ioredis';
import { ioredis } from './redisLoader';
import type { BatchReplies, Conn, LinkEvent, LinkOptions, LinkRequest } from './redisLink';

const port = parentPort;
if (port) serve(port, workerData as LinkOptions);

function serve(p: NonNullable<typeof parentPort>, o: LinkOptions): void {
  const { Redis: Client } = ioredis();
  const common = {
    ...(o.password ? { password: o.password } : {}),
    connectTimeout: 2_000,
    maxRetriesPerRequest: 1,
    retryStrategy: (n: number) => Math.min(50 * n, 1_000),
    ...(o.tls ? { tls: {} } : {}),
  };
  const cmd = new Client(o.url, { ...common, enableOfflineQueue: false, commandTimeout: 2_000 });
  const sub = new Client(o.url, { ...common, enableOfflineQueue: true });
  const post = (e: LinkEvent): void => p.postMessage(e);
  const conns: Array<[Conn, Redis]> = [
    ['cmd', cmd],
    ['sub', sub],
  ];
  for (const [conn, c] of conns) {
    c.on('ready', () => post({ ev: 'ready', conn }));
    c.on('error', (err: Error) => post({ ev: 'error', message: err.message }));
    c.on('close', () => post({ ev: 'close', conn }));
  }
  sub.on('message', (_channel: string, text: string) => post({ ev: 'message', text }));

  const run = async (r: LinkRequest): Promise<unknown> => {
    switch (r.op) {
      case 'call': {
        const [name, ...args] = r.command;
        return cmd.call(String(name), ...args);
      }
      case 'multi':
        return replies(await cmd.multi(r.commands).exec());
      case 'pipeline':
        return replies(await cmd.pipeline(r.commands).exec());
      case 'subscribe':
        return sub.subscribe(r.channel);
      default:
        cmd.disconnect();
        sub.disconnect();
        p.close();
        return undefined;
    }
  };
  p.on('message', (r: LinkRequest) => {
    run(r).then(
      (value) => r.op !== 'disconnect' && post({ ev: 'reply', id: r.id, value }),
      (err: Error) => post({ ev: 'reply', id: r.id, error: err.message }),
    );
  });
}

/** exec()'s [Error | null, reply] pairs with the errors as messages: Errors do not cross threads whole. */
function replies(got: Array<[Error | null, unknown]> | null): BatchReplies {
  return (got ?? []).map(([err, v]) => [err ? err.message : null, v]);
}
