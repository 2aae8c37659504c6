import type { KeyPool } from '../pool/keyPool';
import type { Stats } from '../accounting/stats';
import type { KeyState, Transition } from '../types';
import type { ControllerState } from '../windows/proxyController';
import { DisposableBase, Emitter, toDisposable } from '../events';
import { isFullyUsable } from './keyRow';
import type { KeyRow } from './keyRow';
import type { Event } from '../events';

export interface ViewModel {
  at: number;
  role: ControllerState['role'];
  endpoint?: string;
  port?: number;
  error?: string;
  keys: KeyRow[];
  requestsToday: number;
}

/**
 * Builds what the views render: from the local pool and stats while leading or stopped, from the
 * leader's `/keyrelay/status` while following (its counters are the real ones).
 */
export function buildViewModel(pool: KeyPool, stats: Stats, ctl: ControllerState, now: number): ViewModel {
  const base = { at: now, role: ctl.role, endpoint: ctl.endpoint, port: ctl.port, error: ctl.error };
  if (ctl.role === 'follower' && ctl.remote) {
    const remote = fromRemote(ctl.remote);
    if (remote) return { ...base, ...remote };
  }
  const snap = stats.snapshot();
  const keys = pool.snapshot().keys.map((k): KeyRow => {
    const c = snap.byKey[k.id];
    return {
      id: k.id,
      providerId: k.providerId,
      label: k.label,
      masked: k.masked,
      account: k.account,
      state: k.health.state,
      coolingUntil: k.health.coolingUntil,
      modelCooldowns: k.health.modelCooldowns,
      lastError: k.health.lastError,
      history: k.health.history,
      today: snap.today.byKey[k.id] ?? 0,
      requests: c?.requests ?? 0,
      successes: c?.successes ?? 0,
      inputTokens: c?.inputTokens ?? 0,
      outputTokens: c?.outputTokens ?? 0,
    };
  });
  // Client requests, however many attempts each took (passthrough ones included).
  return { ...base, keys, requestsToday: stats.requestsToday() };
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** A `{ model: epoch ms }` record from JSON; anything else is dropped. */
const times = (v: unknown): Record<string, number> =>
  typeof v === 'object' && v !== null
    ? Object.fromEntries(Object.entries(v).filter((e): e is [string, number] => typeof e[1] === 'number'))
    : {};

/** Tolerant reader of the leader's status JSON: unknown fields are ignored, missing ones zero. */
function fromRemote(json: unknown): Pick<ViewModel, 'keys' | 'requestsToday'> | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const j = json as { keys?: unknown[]; stats?: { today?: { byKey?: Record<string, number> } } };
  if (!Array.isArray(j.keys)) return undefined;
  const today = j.stats?.today?.byKey ?? {};
  const keys = j.keys.map((raw): KeyRow => {
    const k = raw as Record<string, unknown>;
    const s = (k.stats ?? {}) as Record<string, unknown>;
    const id = str(k.id) ?? '';
    return {
      id,
      providerId: str(k.providerId) ?? 'unknown',
      label: str(k.label) ?? id,
      masked: str(k.masked) ?? '…',
      account: str(k.account),
      state: (str(k.state) as KeyState) ?? 'active',
      coolingUntil: typeof k.coolingUntil === 'number' ? k.coolingUntil : undefined,
      modelCooldowns: times(k.modelCooldowns),
      lastError: str(k.lastError),
      history: Array.isArray(k.history) ? (k.history as Transition[]) : [],
      // A sync row (core/accounting/syncFeed.ts) carries its counts flat; a status document nests them.
      today: num(k.today ?? k.requestsToday ?? today[id]),
      requests: num(k.attempts ?? s.requests),
      successes: num(k.successes ?? s.successes),
      inputTokens: num(k.inputTokens ?? s.inputTokens),
      outputTokens: num(k.outputTokens ?? s.outputTokens),
    };
  });
  const total = (json as { requestsToday?: unknown }).requestsToday;
  return {
    keys,
    requestsToday: typeof total === 'number' ? total : keys.reduce((a, k) => a + k.today, 0),
  };
}

/** Keys that can serve every request now: active and rate-limited for no model. */
export function usableCount(vm: ViewModel): number {
  let n = 0;
  for (const k of vm.keys) if (isFullyUsable(k, vm.at)) n++;
  return n;
}

/** Whether something on screen counts down (a key or one of its models is cooling). */
function hasCountdown(vm: ViewModel): boolean {
  return vm.keys.some((k) => k.state === 'cooling' || (k.state === 'active' && !isFullyUsable(k, vm.at)));
}

/**
 * Recomputes the view model when the pool, the stats or the controller change, at most every
 * `throttleMs` (≤ 4/s), and once a second while a key (or one of its models) is cooling, so
 * "cools for 12s" counts down.
 */
export class ViewModelHub extends DisposableBase {
  private readonly _onDidChange = this._register(new Emitter<ViewModel>());
  readonly onDidChange: Event<ViewModel> = this._onDidChange.event;
  private _current: ViewModel;
  private timer: NodeJS.Timeout | undefined;
  private due = 0;

  constructor(
    private readonly pool: KeyPool,
    private readonly stats: Stats,
    private readonly controller: { readonly state: ControllerState; readonly onDidChange: Event<ControllerState> },
    private readonly now: () => number = Date.now,
    private readonly throttleMs = 250,
  ) {
    super();
    this._current = buildViewModel(pool, stats, controller.state, now());
    const kick = () => this.schedule();
    this._register(pool.onDidChange(kick));
    this._register(stats.onDidChange(kick));
    this._register(controller.onDidChange(kick));
    this._register(toDisposable(() => clearTimeout(this.timer)));
  }

  get current(): ViewModel {
    return this._current;
  }

  /** Recompute at once (tests, commands that want the view to reflect their change now). */
  refresh(): ViewModel {
    clearTimeout(this.timer);
    this.timer = undefined;
    this._current = buildViewModel(this.pool, this.stats, this.controller.state, this.now());
    this._onDidChange.fire(this._current);
    if (hasCountdown(this._current)) this.schedule(1_000);
    return this._current;
  }

  private schedule(delay = this.throttleMs): void {
    const due = this.now() + delay;
    if (this.timer && this.due <= due) return;
    clearTimeout(this.timer);
    this.due = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refresh();
    }, delay);
    this.timer.unref?.();
  }
}
