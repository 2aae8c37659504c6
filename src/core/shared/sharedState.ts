/**
 * Shared pool state through Redis or Valkey (issue 18): cooldowns per key × model (with Redis
 * expiry), invalid / discarded / restored states, escalation levels and usage counters, mirrored
 * between every KeyRelay of one pool. The request path never waits on the store: the pool decides
 * on its local copy; local transitions are sent as they happen and usage is sent on a timer;
 * records from other instances arrive by pub/sub and are adopted into the local pool. When the
 * store is down, KeyRelay serves on local state, says so once, and reconciles when it is back
 * (counters add their pending deltas, states merge by time).
 */
import type { Stats } from '../accounting/stats';
import { Emitter, DisposableBase } from '../events';
import type { Event } from '../events';
import type { KeyPool } from '../pool/keyPool';
import type { Clock, KeyRecord, Logger, SharedStoreStatus, SharedStoreSummary, Transition } from '../types';
import { RedisLink } from './redisLink';
import type { RedisCommand } from './redisLink';
import { parseRecord, sharedKeyId, StoreNames, USAGE_FIELDS } from './sharedRecords';
import type { SharedRecord } from './sharedRecords';
import type { StoreAddress } from '../config/storeUrl';
import { SharedRotation } from './sharedRotation';
import { UsageMirror } from './usageMirror';

export interface SharedStateOptions {
  address: StoreAddress;
  /** The store's password when it is not in the URL (environment, SecretStorage). */
  password?: string;
  /** The team secret every instance of the pool shares: keys are known to the store by HMAC under it. */
  teamSecret: string;
  pool: KeyPool;
  stats: Stats;
  logger: Logger;
  clock: Clock;
  instanceId: string;
  /** How often usage deltas are sent and shared totals read (ms). */
  flushMs?: number;
}

/**
 * Writes a record only when it is newer than the stored one (states merge by time), with its
 * expiry (a cooldown ends in the store when it ends), and publishes it, in one atomic step.
 */
const PUT_IF_NEWER = `local cur = redis.call('GET', KEYS[1])
if cur then local ok, c = pcall(cjson.decode, cur) if ok and type(c) == 'table' and tonumber(c.at) and tonumber(c.at) > tonumber(ARGV[2]) then return 0 end end
if ARGV[3] == '0' then redis.call('SET', KEYS[1], ARGV[1]) else redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3]) end
redis.call('PUBLISH', KEYS[2], ARGV[1])
return 1`;

/** A hook field nobody counted or read for this long is no longer read from the store (yesterday's spend). */
const FIELD_IDLE_MS = 10 * 60_000;

export class SharedState extends DisposableBase {
  private readonly changed = this._register(new Emitter<void>());
  /** The connection state changed (views re-render). */
  readonly onDidChange: Event<void> = this.changed.event;
  private readonly flushed = this._register(new Emitter<void>());
  /** A flush finished: counts sent, shared totals and rotation read back (tests wait on it). */
  readonly onDidFlush: Event<void> = this.flushed.event;

  private readonly names: StoreNames;
  private readonly usage: UsageMirror;
  private readonly rotation: SharedRotation;
  /** The store's connections, in a worker thread (see redisLink.ts). */
  private link: RedisLink | undefined;
  private state: SharedStoreStatus['state'] = 'connecting';
  private since: number;
  private lastError: string | undefined;
  /** Records not yet written, by store name (the newest per name). */
  private readonly outbox = new Map<string, SharedRecord>();
  /** Time of the last state record (local or adopted) per sid: older records lose. */
  private readonly stateAt = new Map<string, number>();
  private readonly sids = new Map<string, string>();
  private readonly ids = new Map<string, string>();
  private listSeen: unknown;
  private applying = false;
  private timer: NodeJS.Timeout | undefined;
  private flushing = false;
  private readonly fields = new Set<string>(USAGE_FIELDS);
  /** The flush a hook field (`count`/`total`) was last used in: one unused for FIELD_IDLE_MS is no longer read. */
  private readonly fieldUse = new Map<string, number>();
  /** When the last flush began: the hook fields' clock. */
  private tickAt = 0;

  constructor(private readonly o: SharedStateOptions) {
    super();
    this.names = new StoreNames(o.address.pool);
    this.since = this.tickAt = o.clock.now();
    this.usage = new UsageMirror(o.stats, (id) => this.sidOf(id));
    this.rotation = new SharedRotation(o.pool, this.names, (sid) => this.idOf(sid));
    this._register(o.pool.onDidTransition(({ key, transition }) => this.local(key, transition)));
  }

  /** Connects (without waiting: the proxy serves on local state until the store answers). */
  start(): void {
    const { url, tls } = this.o.address;
    const link = (this.link = new RedisLink(
      { url, tls: Boolean(tls), password: this.o.password },
      {
        ready: (conn) => (conn === 'cmd' ? this.up() : this.state === 'connected' && void this.reconcile()),
        error: (message) => (this.lastError = message),
        close: () => this.down(),
        message: (text) => this.adopt(parseRecord(text)),
      },
    ));
    link.subscribe(this.names.channel).catch((err: Error) => (this.lastError = err.message));
    this.timer = setInterval(() => void this.flush(), this.o.flushMs ?? 250);
    this.timer.unref();
  }

  /** What `/keyrelay/status` shows: the summary and the counters summed over every instance. */
  status(): SharedStoreStatus {
    const usage: Record<string, Record<string, number>> = {};
    for (const [sid, counts] of this.usage.all()) {
      const id = this.idOf(sid);
      if (id) usage[id] = { ...counts };
    }
    return { ...this.summary(), state: this.state, usage };
  }

  /** What the views show (no counters: cheap enough for every refresh of the tree). */
  summary(): SharedStoreSummary {
    const s: SharedStoreSummary = {
      store: this.o.address.shown,
      pool: this.o.address.pool,
      state: this.state,
      since: this.since,
      pending: this.outbox.size + this.usage.pendingCount,
    };
    if (this.state !== 'connected' && this.lastError) s.lastError = this.lastError;
    return s;
  }

  /**
   * The hook for budget counters (issue 16): adds `n` to a shared counter of a key, e.g. "costUsd";
   * sent with the usage deltas, summed over every instance, read back with `total`.
   */
  count(keyId: string, field: string, n: number): void {
    const sid = this.sidOf(keyId);
    if (!sid) return;
    this.useField(field);
    this.usage.add(sid, field, n);
  }

  /**
   * A key's counter summed over every instance of the pool, as last read from the store. A field
   * this instance never counted is read from the next flush on (0 until then): a KeyRelay that
   * never used a key still sees what the others spent on it.
   */
  total(keyId: string, field: string): number {
    this.useField(field);
    const sid = this.sidOf(keyId);
    return sid ? this.usage.total(sid, field) : 0;
  }

  /** Sends what is pending (bounded), then disconnects. */
  async close(waitMs = 1_000): Promise<void> {
    if (this.state === 'connected') {
      let t: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (t = setTimeout(resolve, waitMs)));
      await Promise.race([this.flush(), late]);
      clearTimeout(t);
    }
    this.dispose();
  }

  override dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.link?.disconnect();
    super.dispose();
  }

  private up(): void {
    const wasDown = this.state === 'down';
    this.setState('connected');
    this.lastError = undefined;
    if (wasDown) this.o.logger.info(`Shared state: ${this.o.address.shown} is back; reconciling.`);
    else this.o.logger.info(`Shared state: connected to ${this.o.address.shown}, pool "${this.o.address.pool}".`);
    void this.reconcile();
  }

  private down(): void {
    if (this.state === 'down' || this.isDisposed()) return;
    this.lastError ??= 'connection closed';
    // Said once per outage: the proxy goes on serving on its local state.
    this.o.logger.warn(
      `Shared state: ${this.o.address.shown} is unreachable${this.lastError ? ` (${this.lastError})` : ''}; ` +
        'serving on local state, changes are sent when it is back.',
    );
    this.setState('down');
  }

  private isDisposed(): boolean {
    return this.timer === undefined && this.link !== undefined;
  }

  private setState(s: SharedStoreStatus['state']): void {
    this.state = s;
    this.since = this.o.clock.now();
    this.changed.fire();
  }

  /** A local transition: sent to the store unless it came from the store itself. */
  private local(key: KeyRecord, t: Transition): void {
    if (this.applying) return;
    const sid = this.sidOf(key.id);
    if (!sid) return;
    const base = { sid, at: t.at, reason: t.reason, from: this.o.instanceId };
    if (t.to === 'cooling') {
      const h = this.o.pool.health(key.id);
      const until = t.model !== undefined ? h?.modelCooldowns[t.model] : h?.coolingUntil;
      if (until === undefined) return;
      const level = this.o.pool.backoffLevel(key.id, t.model);
      this.send({ ...base, k: 'cool', model: t.model ?? '', until, level });
    } else if (t.to === 'invalid' || t.to === 'discarded' || (t.to === 'active' && t.reason !== 'cooldown ended')) {
      this.stateAt.set(sid, t.at);
      this.send({ ...base, k: 'state', state: t.to });
    }
  }

  private send(r: SharedRecord): void {
    this.outbox.set(r.k === 'cool' ? this.names.cool(r.sid, r.model) : this.names.state(r.sid), r);
    void this.sendOutbox();
  }

  private async sendOutbox(): Promise<void> {
    const link = this.link;
    if (!link || this.state !== 'connected') return;
    for (const [name, r] of [...this.outbox]) {
      this.outbox.delete(name);
      const px = r.k === 'cool' ? Math.ceil(r.until - this.o.clock.now()) : 0;
      if (r.k === 'cool' && px <= 0) continue;
      try {
        await link.call('eval', PUT_IF_NEWER, 2, name, this.names.channel, JSON.stringify(r), String(r.at), String(px));
      } catch (err) {
        this.lastError = (err as Error).message;
        if (!this.outbox.has(name)) this.outbox.set(name, r);
      }
    }
  }

  /** Another instance's record (pub/sub or the store on reconnect), adopted when newer. */
  private adopt(r: SharedRecord | undefined): void {
    if (!r || r.from === this.o.instanceId) return;
    const id = this.idOf(r.sid);
    if (!id) return;
    const pool = this.o.pool;
    const h = pool.health(id);
    if (!h || r.at < (this.stateAt.get(r.sid) ?? 0)) return;
    this.applying = true;
    try {
      if (r.k === 'cool') {
        const mine = r.model ? h.modelCooldowns[r.model] : h.state === 'cooling' ? h.coolingUntil : undefined;
        if (r.until > this.o.clock.now() && (mine ?? 0) < r.until)
          pool.adoptCooldown(id, r.model || undefined, r.until, r.level, `another KeyRelay: ${r.reason}`);
        return;
      }
      this.stateAt.set(r.sid, r.at);
      const why = `another KeyRelay: ${r.reason}`;
      if (r.state === 'discarded') pool.discard(id, why);
      else if (r.state === 'invalid' && h.state !== 'invalid' && h.state !== 'discarded')
        pool.report(id, undefined, { kind: 'invalid', status: 401, reason: why });
      else if (r.state === 'active' && (h.state !== 'active' || Object.keys(h.modelCooldowns).length > 0))
        pool.restore(id);
    } finally {
      this.applying = false;
    }
  }

  /** After (re)connecting: local changes out first, then everything the store holds in. */
  private async reconcile(): Promise<void> {
    const link = this.link;
    if (!link) return;
    try {
      await this.flush();
      const names: string[] = [];
      for (const pattern of [this.names.state('*'), `${this.names.prefix}cd:*`]) {
        let cursor = '0';
        do {
          const [next, batch] = await link.call<[string, string[]]>('scan', cursor, 'MATCH', pattern, 'COUNT', 1000);
          cursor = next;
          names.push(...batch);
        } while (cursor !== '0');
      }
      // States first: a restore newer than a cooldown wins over it.
      for (let i = 0; i < names.length; i += 500) {
        const values = await link.call<Array<string | null>>('mget', ...names.slice(i, i + 500));
        for (const v of values) this.adopt(parseRecord(v));
      }
    } catch (err) {
      this.lastError = (err as Error).message;
    }
  }

  /** Usage deltas out (atomic increments), shared totals in; outbox retried. Never overlaps itself. */
  private async flush(): Promise<void> {
    const link = this.link;
    this.tickAt = this.o.clock.now();
    this.sweepFields();
    this.usage.look();
    if (!link || this.state !== 'connected' || this.flushing) return;
    this.flushing = true;
    let batch = this.usage.take();
    try {
      await this.sendOutbox();
      if (batch.size > 0) {
        const adds: RedisCommand[] = [];
        for (const [field, bySid] of batch)
          for (const [sid, n] of bySid)
            adds.push([Number.isInteger(n) ? 'hincrby' : 'hincrbyfloat', this.names.usage(field), sid, n]);
        await link.multi(adds);
        // In the store now: a later failure (reading totals back) must not send them twice.
        this.rotation.noteSent(batch.get('requests'));
        batch = new Map();
      }
      const fields = [...this.fields];
      const got = await link.pipeline(fields.map((f) => ['hgetall', this.names.usage(f)]));
      this.usage.setTotals(got.map(([, v], i) => [fields[i], (v ?? {}) as Record<string, string>]));
      this.rotation.adoptUses(this.usage.all());
      await this.rotation.reserve(link);
      this.flushed.fire();
    } catch (err) {
      this.usage.putBack(batch);
      this.lastError = (err as Error).message;
    } finally {
      this.flushing = false;
    }
  }

  /**
   * Reads `field` from the next flush on. Called per request (budgets count every cost), so it
   * reads no clock: a field's last use is the time of the flush it was used after, and
   * `sweepFields` (on the timer) drops a period's field (budgets: `usd:<day>`) once it has been
   * idle for FIELD_IDLE_MS.
   */
  private useField(field: string): void {
    if (this.fieldUse.get(field) === this.tickAt) return;
    this.fieldUse.set(field, this.tickAt);
    this.fields.add(field);
  }

  private sweepFields(): void {
    for (const [f, at] of this.fieldUse) {
      if (this.tickAt - at < FIELD_IDLE_MS) continue;
      this.fieldUse.delete(f);
      this.fields.delete(f);
    }
  }

  private sidOf(keyId: string): string | undefined {
    this.index();
    return this.sids.get(keyId);
  }

  private idOf(sid: string): string | undefined {
    this.index();
    return this.ids.get(sid);
  }

  /** Key id ↔ shared id, recomputed for new keys when the key set changed. */
  private index(): void {
    const list = this.o.pool.list();
    if (list === this.listSeen) return;
    this.listSeen = list;
    const old = new Map(this.sids);
    this.sids.clear();
    this.ids.clear();
    for (const k of list) {
      const sid = old.get(k.id) ?? sharedKeyId(this.o.teamSecret, k.providerId, k.secret);
      this.sids.set(k.id, sid);
      this.ids.set(sid, k.id);
    }
  }
}
