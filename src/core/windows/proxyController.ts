import { DisposableBase, Emitter, toDisposable } from '../events';
import type { Event } from '../events';
import type { Logger, ProxyConfig } from '../types';
import type { SyncDoc } from '../accounting/syncFeed';
import { askLeader, isKeyRelayAt, UNTRUSTED } from './localHttp';
import { LeaderMirror } from './leaderMirror';

/** The part of ProxyServer the controller drives; a fresh one is made per bind attempt. */
export interface ServerLike {
  start(): Promise<number>;
  stop(graceMs?: number): Promise<void>;
  dispose(): void;
  readonly endpoint: string | undefined;
  updateConfig(c: ProxyConfig): void;
  setAccessToken(t: string): void;
}

/** What the serving window answered to an action asked of it: the key's state, and a test's result. */
export interface LeaderAnswer {
  id?: string;
  state?: string;
  ok?: boolean;
  message?: string;
}

export type Role = 'stopped' | 'starting' | 'leader' | 'follower' | 'conflict' | 'error';

export interface ControllerState {
  role: Role;
  port?: number;
  /** `http://127.0.0.1:PORT` while leading or following. */
  endpoint?: string;
  error?: string;
  /** The leader's `/keyrelay/status` JSON, while following. */
  remote?: unknown;
}

export interface ControllerDeps {
  createServer(config: ProxyConfig): ServerLike;
  config(): ProxyConfig;
  token(): string;
  log: Logger;
  /** Called when this window starts serving (first bind or takeover): reload persisted health. */
  onBecameLeader?(): void;
  /** Called once when the port is held by something that is not KeyRelay. */
  onConflict?(port: number): void;
  pollMs?: number;
}

/**
 * One proxy across windows (DESIGN §7): the first window to bind leads; a window that finds
 * KeyRelay on the port follows, mirrors the leader's status, and tries to bind every second so it
 * takes over within ~2 s when the leader's window closes.
 */
export class ProxyController extends DisposableBase {
  private readonly _onDidChange = this._register(new Emitter<ControllerState>());
  readonly onDidChange: Event<ControllerState> = this._onDidChange.event;
  private _state: ControllerState = { role: 'stopped' };
  private server: ServerLike | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly mirror = new LeaderMirror();
  /** Bumped by start/stop so a stale async step cannot change the state. */
  private generation = 0;
  /** The latest start while it runs: an action asked meanwhile waits for it (see `settled`). */
  private pending: Promise<ControllerState> | undefined;

  constructor(private readonly deps: ControllerDeps) {
    super();
    this._register(toDisposable(() => this.halt()));
  }

  get state(): ControllerState {
    return this._state;
  }

  get isServing(): boolean {
    return this._state.role === 'leader' || this._state.role === 'follower';
  }

  start(): Promise<ControllerState> {
    const run = this.run(++this.generation);
    this.pending = run;
    const done = () => {
      if (this.pending === run) this.pending = undefined;
    };
    run.then(done, done);
    return run;
  }

  private async run(gen: number): Promise<ControllerState> {
    await this.stopServer();
    this.set({ role: 'starting' });
    const cfg = this.deps.config();
    const outcome = await this.tryBind(cfg);
    if (gen !== this.generation) return this._state;
    if (outcome === 'bound') return this._state;
    if (outcome !== 'in-use') {
      this.set({ role: 'error', error: outcome.message });
      return this._state;
    }
    const trust = await this.trustHolder(cfg.port);
    if (gen !== this.generation) return this._state;
    if (trust === 'leader') {
      this.deps.log.info(`Port ${cfg.port} is held by KeyRelay in another window; following it.`);
      this.set({ role: 'follower', port: cfg.port, endpoint: `http://127.0.0.1:${cfg.port}` });
      await this.poll(gen);
      this.schedule(gen);
    } else {
      this.set({ role: 'conflict', port: cfg.port, error: trust });
      this.deps.onConflict?.(cfg.port);
    }
    return this._state;
  }

  /** Stops serving (leader: lets in-flight streams finish within the grace period). */
  async stop(graceMs = 3_000): Promise<void> {
    this.generation++;
    clearTimeout(this.timer);
    const s = this.server;
    this.server = undefined;
    this.set({ role: 'stopped' });
    if (s) {
      try {
        await s.stop(graceMs);
      } finally {
        s.dispose();
      }
    }
  }

  restart(): Promise<ControllerState> {
    return this.start();
  }

  updateConfig(c: ProxyConfig): void {
    this.server?.updateConfig(c);
  }

  setAccessToken(t: string): void {
    this.server?.setAccessToken(t);
  }

  /**
   * Discard, Restore or Test while following: the key states that matter are the leader's, so ask
   * it (token-guarded `/keyrelay/keys/<id>/<action>`) and refresh the mirrored status. Returns the
   * leader's answer, or undefined when this window serves itself and should act on its own pool.
   */
  actOnLeader(id: string, action: 'discard' | 'restore' | 'test'): Promise<LeaderAnswer | undefined> {
    // A key test waits for the provider (up to 15 s) before the leader answers.
    const timeoutMs = action === 'test' ? 20_000 : 3_000;
    return this.postToLeader(`/keyrelay/keys/${encodeURIComponent(id)}/${action}`, `${action} the key`, timeoutMs);
  }

  /** Reset Statistics while following: the leader's counters are the ones every window shows. */
  async resetStatsOnLeader(): Promise<boolean> {
    return (await this.postToLeader('/keyrelay/stats/reset', 'reset the statistics', 3_000)) !== undefined;
  }

  private async postToLeader(path: string, what: string, timeoutMs: number): Promise<LeaderAnswer | undefined> {
    await this.settled();
    if (this._state.role !== 'follower' || this._state.port === undefined) return undefined;
    const gen = this.generation;
    const { status, body } = await askLeader(this._state.port, this.deps.token(), path, { method: 'POST', timeoutMs });
    if (status !== 200) {
      const message = (body as { error?: { message?: string } } | undefined)?.error?.message;
      throw new Error(
        `The KeyRelay window that serves the proxy refused to ${what} (HTTP ${status}${message ? `: ${message}` : ''}).`,
      );
    }
    await this.poll(gen);
    return (body ?? {}) as LeaderAnswer;
  }

  /**
   * Waits out a start under way (a restart after a port change: a bind attempt and at most one
   * question to the port's holder), so an action asked meanwhile goes to the window that will
   * serve, not to this window's own pool because it was, for a moment, neither leader nor follower.
   */
  private async settled(): Promise<void> {
    for (let i = 0; i < 3 && this._state.role === 'starting' && this.pending; i++) {
      await this.pending.catch(() => undefined);
    }
  }

  /**
   * Whether the port's holder is a KeyRelay that knows this window's token ('leader'), proved
   * without sending the token (core/proof.ts); otherwise why not, in words for the user.
   */
  private async trustHolder(port: number): Promise<'leader' | string> {
    try {
      await askLeader(port, this.deps.token(), '/keyrelay/health');
      return 'leader';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== UNTRUSTED || !(await isKeyRelayAt(port))) {
        return `Port ${port} is in use by another program.`;
      }
      return `Port ${port} is held by a KeyRelay that does not know this window's access token (another VS Code profile, or a headless keyrelay?). Not following it: pick another port.`;
    }
  }

  private async tryBind(cfg: ProxyConfig): Promise<'bound' | 'in-use' | Error> {
    const server = this.deps.createServer(cfg);
    try {
      const port = await server.start();
      this.server = server;
      this.set({ role: 'leader', port, endpoint: server.endpoint ?? `http://127.0.0.1:${port}` });
      this.deps.onBecameLeader?.();
      return 'bound';
    } catch (err) {
      server.dispose();
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') return 'in-use';
      this.deps.log.error(err as Error);
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  private schedule(gen: number): void {
    this.timer = setTimeout(() => void this.tick(gen), this.deps.pollMs ?? 1_000);
  }

  /** Follower step: try to take the port, else refresh the leader's status. */
  private async tick(gen: number): Promise<void> {
    if (gen !== this.generation) return;
    const outcome = await this.tryBind(this.deps.config());
    if (gen !== this.generation || outcome === 'bound') return;
    await this.poll(gen);
    if (gen === this.generation) this.schedule(gen);
  }

  /**
   * Follower step: what changed at the leader since the last poll (`/keyrelay/sync`), merged into
   * the mirrored rows. The leader proves it knows the token on every poll, so a program that took
   * the port in between gets nothing, and the token never leaves this window.
   */
  private async poll(gen: number): Promise<void> {
    const port = this._state.port!;
    try {
      const path = `/keyrelay/sync?pool=${this.mirror.cursor.pool}&stats=${this.mirror.cursor.stats}`;
      const { status, body, instanceId } = await askLeader(port, this.deps.token(), path);
      if (gen !== this.generation) return;
      if (status !== 200) {
        this.set({ ...this._state, error: `leader answered ${status}` });
        return;
      }
      this.set({ ...this._state, remote: this.mirror.apply(instanceId, body as SyncDoc), error: undefined });
    } catch (err) {
      // The leader is going away (the next bind attempt takes over), or is no longer one we trust.
      if (gen === this.generation) this.set({ ...this._state, error: (err as Error).message });
    }
  }

  private set(s: ControllerState): void {
    this._state = s;
    this._onDidChange.fire(s);
  }

  private async stopServer(): Promise<void> {
    clearTimeout(this.timer);
    const s = this.server;
    this.server = undefined;
    if (s) {
      try {
        await s.stop(0);
      } finally {
        s.dispose();
      }
    }
  }

  /** Synchronous teardown: frees the port now (dispose path). */
  private halt(): void {
    this.generation++;
    clearTimeout(this.timer);
    this.server?.dispose();
    this.server = undefined;
  }
}
