import type { KeyPool } from '../pool/keyPool';
import type { Stats } from '../accounting/stats';
import type { KeyCounters } from '../accounting/stats';
import type { HealthView } from '../pool/health';
import type { KeyRecord, KeyState, SharedStoreSummary, Transition } from '../types';
import type { ControllerState } from '../windows/proxyController';
import { DisposableBase, Emitter, toDisposable } from '../events';
import { cooldownRecord } from '../pool/health';
import { isFullyUsable } from './keyRow';
import type { KeyRow } from './keyRow';
import type { Event } from '../events';
import { costFigure } from '../accounting/costReport';
import type { CostFigure } from '../accounting/costReport';

export interface ViewModel {
  at: number;
  role: ControllerState['role'];
  endpoint?: string;
  port?: number;
  error?: string;
  keys: KeyRow[];
  requestsToday: number;
  /** Cost since the counters started (null: nothing priced yet) and attempts of unknown cost. */
  cost: CostFigure;
  /** The shared state store (issue 18), when the pool shares its state: which, and whether it is reachable. */
  shared?: SharedStoreSummary;
}

/** Where the local shared-state summary comes from (the editor's SharedStoreLink). */
export interface SharedSource {
  summary(): SharedStoreSummary | undefined;
  readonly onDidChange: Event<void>;
}

/**
 * Builds what the views render: from the local pool and stats while leading or stopped, from the
 * leader's `/keyrelay/status` while following (its counters are the real ones). `previous` (the
 * last model's rows) lets rows that did not change be kept as they are: same object, nothing
 * allocated, and the tree can tell them unchanged by identity.
 */
export function buildViewModel(
  pool: KeyPool,
  stats: Stats,
  ctl: ControllerState,
  now: number,
  previous: readonly KeyRow[] = [],
): ViewModel {
  const base = { at: now, role: ctl.role, endpoint: ctl.endpoint, port: ctl.port, error: ctl.error };
  if (ctl.role === 'follower' && ctl.remote) {
    const remote = fromRemote(ctl.remote);
    if (remote) return { ...base, ...remote };
  }
  // Live records read in place: copying 10,000 keys' health and counters cost 100–190 ms a refresh.
  const live = stats.liveKeys();
  const keys: KeyRow[] = [];
  pool.forEachKey((k, h) => {
    const c = live.get(k.id);
    const old = previous[keys.length] as KeyRow | undefined;
    keys.push(old && isSameRow(old, k, h, c) ? old : toRow(k, h, c));
  });
  // Client requests, however many attempts each took (passthrough ones included).
  return { ...base, keys, requestsToday: stats.requestsToday(), cost: costFigure(stats.totals().total) };
}

/** The history of every key that never changed state (frozen, shared). */
const NO_TRANSITIONS = Object.freeze([]) as unknown as Transition[];

function toRow(k: Readonly<KeyRecord>, h: HealthView, c: Readonly<KeyCounters> | undefined): KeyRow {
  return {
    id: k.id,
    providerId: k.providerId,
    label: k.label,
    masked: k.masked,
    account: k.account,
    state: h.state,
    coolingUntil: h.state === 'cooling' ? h.coolingUntil : undefined,
    modelCooldowns: cooldownRecord(h),
    lastError: h.lastError,
    // Only keys that changed state have a history; the row keeps its own (the pool's grows).
    history: h.history.length === 0 ? NO_TRANSITIONS : h.history.slice(),
    today: c?.today ?? 0,
    requests: c?.all.requests ?? 0,
    successes: c?.all.successes ?? 0,
    inputTokens: c?.all.inputTokens ?? 0,
    outputTokens: c?.all.outputTokens ?? 0,
    costUsd: c?.all.costUsd ?? 0,
    priced: c?.all.priced ?? 0,
    unpriced: c?.all.unpriced ?? 0,
    overBudget: h.overBudget && { ...h.overBudget },
  };
}

/**
 * Whether `old` still says everything about the key. Keys cooling for a model are always rebuilt
 * (their record is a copy); a history is the same when its length and newest entry are (it only
 * ever grows at the end, and is cut from the front).
 */
function isSameRow(old: KeyRow, k: Readonly<KeyRecord>, h: HealthView, c: Readonly<KeyCounters> | undefined): boolean {
  const n = h.history.length;
  return (
    old.id === k.id &&
    old.state === h.state &&
    h.modelCooldowns.size === 0 &&
    old.modelCooldowns === cooldownRecord(h) &&
    old.coolingUntil === (h.state === 'cooling' ? h.coolingUntil : undefined) &&
    old.history.length === n &&
    (n === 0 || old.history[n - 1] === h.history[n - 1]) &&
    old.lastError === h.lastError &&
    old.today === (c?.today ?? 0) &&
    old.requests === (c?.all.requests ?? 0) &&
    old.successes === (c?.all.successes ?? 0) &&
    old.inputTokens === (c?.all.inputTokens ?? 0) &&
    old.outputTokens === (c?.all.outputTokens ?? 0) &&
    old.priced === (c?.all.priced ?? 0) &&
    old.unpriced === (c?.all.unpriced ?? 0) &&
    old.overBudget?.until === h.overBudget?.until &&
    old.label === k.label &&
    old.masked === k.masked &&
    old.account === k.account &&
    old.providerId === k.providerId
  );
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** A `{ model: epoch ms }` record from JSON; anything else is dropped. */
const times = (v: unknown): Record<string, number> =>
  typeof v === 'object' && v !== null
    ? Object.fromEntries(Object.entries(v).filter((e): e is [string, number] => typeof e[1] === 'number'))
    : {};

const overBudgetOf = (v: unknown): KeyRow['overBudget'] => {
  const o = v as { until?: unknown; reason?: unknown } | undefined;
  return typeof o?.until === 'number' ? { until: o.until, reason: str(o.reason) ?? 'over budget' } : undefined;
};

/** Tolerant reader of the leader's status JSON: unknown fields are ignored, missing ones zero. */
function fromRemote(json: unknown): Pick<ViewModel, 'keys' | 'requestsToday' | 'cost' | 'shared'> | undefined {
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
      costUsd: num(k.costUsd ?? s.costUsd),
      priced: num(k.priced ?? s.priced),
      unpriced: num(k.unpriced ?? s.unpriced),
      overBudget: overBudgetOf(k.overBudget),
    };
  });
  const doc = json as { requestsToday?: unknown; cost?: { costUsd?: unknown; unpricedAttempts?: unknown } };
  const cost: CostFigure = {
    costUsd: typeof doc.cost?.costUsd === 'number' ? doc.cost.costUsd : null,
    unpricedAttempts: num(doc.cost?.unpricedAttempts),
  };
  const shared = sharedFromRemote((json as { shared?: unknown }).shared);
  return {
    keys,
    requestsToday: typeof doc.requestsToday === 'number' ? doc.requestsToday : keys.reduce((a, k) => a + k.today, 0),
    cost,
    ...(shared ? { shared } : {}),
  };
}

const SHARED_STATES = new Set(['connecting', 'connected', 'down', 'no-secret']);

/** The leader's `shared` (its store serves the requests), without its counters; undefined when absent or malformed. */
export function sharedFromRemote(v: unknown): SharedStoreSummary | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const s = v as Record<string, unknown>;
  const state = str(s.state);
  if (str(s.store) === undefined || str(s.pool) === undefined || !state || !SHARED_STATES.has(state)) return undefined;
  const lastError = str(s.lastError);
  return {
    store: s.store as string,
    pool: s.pool as string,
    state: state as SharedStoreSummary['state'],
    since: num(s.since),
    pending: num(s.pending),
    ...(lastError ? { lastError } : {}),
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
  return vm.keys.some(
    (k) => k.state === 'cooling' || k.overBudget !== undefined || (k.state === 'active' && !isFullyUsable(k, vm.at)),
  );
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
  private sharedSource: SharedSource | undefined;

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

  /** Shows this window's shared-state summary (a follower shows the leader's, from its status). */
  showShared(source: SharedSource): void {
    this.sharedSource = source;
    this._register(source.onDidChange(() => this.schedule()));
    this.schedule();
  }

  /** Recompute at once (tests, commands that want the view to reflect their change now). */
  refresh(): ViewModel {
    clearTimeout(this.timer);
    this.timer = undefined;
    const vm = buildViewModel(this.pool, this.stats, this.controller.state, this.now(), this._current.keys);
    const shared = vm.shared ?? this.sharedSource?.summary();
    this._current = shared ? { ...vm, shared } : vm;
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
