import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A free loopback port (the OS picks one; it is closed again at once). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * A real redis-server (Debian's, installed by test/redis/setup.sh) on 127.0.0.1 and a free port,
 * without persistence, its working dir a temp dir; stopped by its own PID. `stop()` then `start()`
 * again brings it back on the same port (an outage and a recovery).
 */
export class RedisServer {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'keyrelay-redis-'));
  /** `persist`: an append-only file in the temp dir, so a stop and start keeps the data (a restart, not a wipe). */
  private constructor(
    readonly port: number,
    private readonly persist: boolean,
  ) {}

  static async start(opts: { persist?: boolean } = {}): Promise<RedisServer> {
    const r = new RedisServer(await freePort(), opts.persist ?? false);
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  /** Starts the server; resolves once it accepts connections (bounded: 10 s). */
  start(): Promise<void> {
    const aof = this.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...aof];
    const child = spawn(process.env.REDIS_SERVER ?? '/usr/bin/redis-server', [...args, '--dir', this.dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let out = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`redis-server did not start within 10 s:\n${out}`)), 10_000);
      const onData = (d: Buffer): void => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          child.stdout!.off('data', onData);
          resolve();
        }
      };
      const fail = (err: Error): void => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(err);
      };
      child.stdout!.on('data', onData);
      child.once('exit', (code) => fail(new Error(`redis-server exited (${code}):\n${out}`)));
    });
  }

  /** Stops the server by its PID and waits for it to exit. */
  async stop(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.removeAllListeners('exit');
    const exited = new Promise((r) => c.once('exit', r));
    // SIGTERM: a clean shutdown (clients see the connection close, the append-only file is whole).
    process.kill(c.pid!, 'SIGTERM');
    await exited;
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
