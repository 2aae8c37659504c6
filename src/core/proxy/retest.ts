import type { Dispatcher } from 'undici';
import type { ProviderCatalogue } from '../config/providers';
import { Emitter } from '../events';
import type { Disposable, Event } from '../events';
import { discardedByProvider } from '../pool/health';
import type { KeyPool } from '../pool/keyPool';
import type { Logger, PoolKey, ProxyConfig } from '../types';
import { testKey } from './keyTest';

export interface RetestDeps {
  pool: KeyPool;
  catalogue: ProviderCatalogue;
  logger: Logger;
  config(): ProxyConfig;
  /** The server's upstream dispatcher; without one each test uses its own short-lived Agent. */
  dispatcher?(): Dispatcher;
}

/** A key that passed its background re-test and is back in rotation. */
export interface Recovered {
  key: PoolKey;
  message: string;
}

/**
 * The optional background re-test (`retestIntervalMs`, off by default): once per interval, the
 * provider's cheap test request with each key that is invalid or that the provider discarded for
 * credit; a key that passes comes back. Keys a person discarded are left alone, and a key with a
 * cooldown running is not tested (the provider asked for quiet). One round at a time, one key at a
 * time, so a large pool never turns into a burst. Only the serving window runs it (it is part of
 * the server); followers see the result in the mirrored state.
 */
export class BackgroundRetest implements Disposable {
  private readonly _onDidRecover = new Emitter<Recovered>();
  readonly onDidRecover: Event<Recovered> = this._onDidRecover.event;
  private timer: NodeJS.Timeout | undefined;
  private intervalMs = 0;
  private round: Promise<number> | undefined;
  private disposed = false;

  constructor(private readonly d: RetestDeps) {}

  /** Follows the setting: starts, re-times or stops the timer. */
  update(): void {
    const ms = this.d.config().retestIntervalMs;
    if (ms === this.intervalMs || this.disposed) return;
    this.intervalMs = ms;
    clearInterval(this.timer);
    this.timer = undefined;
    if (ms <= 0) return;
    this.timer = setInterval(() => void this.runOnce(), ms);
    this.timer.unref(); // never keeps the CLI alive on its own
    this.d.logger.info(`Background re-test of invalid and out-of-credit keys every ${Math.round(ms / 60_000)} min.`);
  }

  /** No more rounds until `update()` (the server stopped serving). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.intervalMs = 0;
  }

  /** One round now (the timer's job; tests call it directly). Resolves with the keys tested. */
  runOnce(): Promise<number> {
    this.round ??= this.testDue().finally(() => (this.round = undefined));
    return this.round;
  }

  private async testDue(): Promise<number> {
    const { pool, catalogue, logger } = this.d;
    const due: string[] = [];
    pool.forEachKey((k, h) => {
      if ((h.state === 'invalid' || discardedByProvider(h)) && h.modelCooldowns.size === 0) due.push(k.id);
    });
    let tested = 0;
    for (const id of due) {
      const key = pool.get(id);
      const h = pool.health(id);
      const provider = key && catalogue.get(key.providerId);
      // A person may have restored, discarded or removed it since the round began.
      if (this.disposed || !key || !h || !provider) continue;
      if (h.state !== 'invalid' && !discardedByProvider(h)) continue;
      tested++;
      const r = await testKey(key, provider, { timeoutMs: 15_000, dispatcher: this.d.dispatcher?.() });
      if (this.disposed || !pool.get(id)) continue;
      if (r.ok) {
        pool.restore(id, `background re-test passed: ${r.message}`);
        logger.info(`Background re-test: ${key.label} (${key.masked}) works again and is back in rotation.`);
        this._onDidRecover.fire({ key, message: r.message });
      } else {
        // Only the detail: a failing test must not move an invalid key into a cooldown or back.
        pool.markTested(id, false, r.message);
        logger.debug(`Background re-test: ${key.label} (${key.masked}) still fails: ${r.message}`);
      }
    }
    return tested;
  }

  dispose(): void {
    this.disposed = true;
    this.stop();
    this._onDidRecover.dispose();
  }
}
