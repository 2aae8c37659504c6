/**
 * Where the dashboard's document comes from (issue 17): the window that serves the proxy builds
 * it from its own pool and counters; a window that follows asks the leader
 * (`GET /keyrelay/series`, with a proof of the token, never the token), because the leader's
 * counters are the ones that count requests.
 */
import { buildDashboard } from '../accounting/dashboard';
import type { DashboardDoc, DashboardQuery } from '../accounting/dashboard';
import type { Stats } from '../accounting/stats';
import type { ProviderCatalogue } from '../config/providers';
import type { KeyPool } from '../pool/keyPool';
import type { SharedStoreSummary } from '../types';
import { askLeader } from './localHttp';
import type { ControllerState } from './proxyController';

export interface DashboardFeedDeps {
  pool: KeyPool;
  stats: Stats;
  catalogue: ProviderCatalogue;
  state(): ControllerState;
  token(): string;
  /** This window's shared state (issue 18): its summary, when the pool shares its state. */
  shared?: { summary(): SharedStoreSummary | undefined };
}

/** A document, and where it came from (shown on the dashboard). */
export interface FedDashboard {
  doc: DashboardDoc;
  source: 'local' | 'leader';
}

/** The query as `/keyrelay/series` parameters. */
export function queryString(q: DashboardQuery): string {
  const p = new URLSearchParams({
    range: q.range,
    sort: q.sort,
    dir: q.dir,
    offset: String(q.offset),
    limit: String(q.limit),
    filter: q.filter,
  });
  if (q.key) p.set('key', q.key);
  return p.toString();
}

export class DashboardFeed {
  constructor(private readonly d: DashboardFeedDeps) {}

  /**
   * A mark that changes whenever this window's document would: while following it always
   * changes (the leader's counts are not visible from here), so the caller asks every tick.
   */
  mark(q: DashboardQuery): string {
    const s = this.d.state();
    if (s.role === 'follower') return `leader:${Date.now()}`;
    const shared = this.d.shared?.summary()?.state ?? '';
    return `${this.d.pool.revision}:${this.d.stats.revision}:${this.d.stats.series.revision}:${shared}:${queryString(q)}`;
  }

  async get(q: DashboardQuery): Promise<FedDashboard> {
    const s = this.d.state();
    if (s.role === 'follower' && s.port !== undefined) {
      const r = await askLeader(s.port, this.d.token(), `/keyrelay/series?${queryString(q)}`, { timeoutMs: 3000 });
      if (r.status !== 200 || typeof r.body !== 'object' || r.body === null)
        throw new Error(`The KeyRelay window that serves the proxy answered HTTP ${r.status} for the dashboard.`);
      return { doc: r.body as DashboardDoc, source: 'leader' };
    }
    return { doc: buildDashboard({ ...this.d, shared: () => this.d.shared?.summary() }, q), source: 'local' };
  }
}
