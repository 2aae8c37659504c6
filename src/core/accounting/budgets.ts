/**
 * Budgets (issue 16): daily and monthly spending limits in USD per key and per account. Spend is
 * what `Stats.spend` counted here, or, with a shared store, what every KeyRelay of the pool counted
 * (the larger). A key whose spend (or whose account's) reached a limit is skipped by the pool until
 * the period ends: the next UTC day for a daily limit, the next UTC month for a monthly one.
 */
import { formatUsd } from '../config/prices';
import type { KeyPool } from '../pool/keyPool';
import type { BudgetLimit, BudgetSettings, Clock, KeyRecord } from '../types';
import { PeriodClock } from './spend';
import type { Stats } from './stats';

/** The shared counters of SharedState (issue 18): added by every instance, summed in the store. */
export interface SharedCounter {
  count(keyId: string, field: string, n: number): void;
  total(keyId: string, field: string): number;
}

export interface BudgetsOptions {
  clock: Clock;
  pool: KeyPool;
  stats: Stats;
  settings(): BudgetSettings;
  /** The shared store's counters while one is connected (SharedState): spend counts across every KeyRelay of the pool. */
  shared?(): SharedCounter | undefined;
}

/** Spend in the current UTC day and month. */
export interface Spent {
  dayUsd: number;
  monthUsd: number;
}

/** How a key stands against its budgets, for status and views. */
export interface BudgetStanding {
  spent: Spent;
  limit?: BudgetLimit;
  account?: { name: string; spent: Spent; limit: BudgetLimit };
  /** Set while the key is skipped: until when, and why. */
  over?: { until: number; reason: string };
}

export class Budgets {
  /** Keys this marked over budget, so a raised limit or a new period brings them back. */
  private readonly marked = new Set<string>();
  private accountsOf: { list: readonly KeyRecord[]; byName: Map<string, KeyRecord[]> } | undefined;
  private seen: { settings: BudgetSettings; active: boolean } | undefined;
  /** The key list `keysChanged` last checked (the pool hands out one array per key set). */
  private checkedList: readonly KeyRecord[] | undefined;
  private readonly periods = new PeriodClock();

  constructor(private readonly o: BudgetsOptions) {}

  /** Whether any budget is set (nothing is checked otherwise); worked out once per settings object. */
  get active(): boolean {
    const s = this.o.settings();
    if (s !== this.seen?.settings) {
      const any = (o: object | undefined) => o !== undefined && Object.keys(o).length > 0;
      this.seen = { settings: s, active: any(s.keys) || any(s.accounts) };
    }
    return this.seen.active;
  }

  /** After an attempt whose cost is known: shares it, then checks the key and its account's keys. */
  charge(key: KeyRecord, usd: number): void {
    if (!(usd > 0)) return;
    const shared = this.o.shared?.();
    if (shared) {
      const { dayField, monthField } = this.periods.at(this.o.clock.now());
      shared.count(key.id, dayField, usd);
      shared.count(key.id, monthField, usd);
    }
    if (!this.active) return;
    this.check(key);
    if (key.account) for (const k of this.mates(key.account)) if (k.id !== key.id) this.check(k);
  }

  /** Before a key is used: false (and the key marked over budget) when it may not spend more now. */
  admit(key: KeyRecord): boolean {
    if (!this.active && this.marked.size === 0) return true;
    return this.check(key) === undefined;
  }

  /** The key set changed (keys loaded, added, removed): checks them, so the views show who is over at once. */
  keysChanged(): void {
    const list = this.o.pool.list();
    if (list === this.checkedList) return;
    this.checkedList = list;
    this.recheck();
  }

  /** Checks every key again (settings changed, counters loaded): marks and releases. */
  recheck(): void {
    if (!this.active && this.marked.size === 0) return;
    for (const k of this.o.pool.list()) this.check(k);
  }

  /** How `key` stands: its spend, its limits and its account's, and whether it is over. */
  standing(key: KeyRecord): BudgetStanding {
    const s = this.o.settings();
    const out: BudgetStanding = { spent: this.spentBy(key.id) };
    const limit = this.limitOf(key, s);
    if (limit) out.limit = limit;
    const acc = key.account !== undefined ? s.accounts?.[key.account] : undefined;
    if (acc && key.account !== undefined)
      out.account = { name: key.account, spent: this.accountSpent(key.account), limit: acc };
    const over = this.overOf(out);
    if (over) out.over = over;
    return out;
  }

  /** The key's spend: this instance's, or the pool's over every instance when that is more. */
  private spentBy(id: string): Spent {
    const now = this.o.clock.now();
    const local = this.o.stats.spend.spent(id, now);
    const shared = this.o.shared?.();
    if (!shared) return local;
    const { dayField, monthField } = this.periods.at(now);
    return {
      dayUsd: Math.max(local.dayUsd, shared.total(id, dayField)),
      monthUsd: Math.max(local.monthUsd, shared.total(id, monthField)),
    };
  }

  private accountSpent(name: string): Spent {
    const sum: Spent = { dayUsd: 0, monthUsd: 0 };
    for (const k of this.mates(name)) {
      const s = this.spentBy(k.id);
      sum.dayUsd += s.dayUsd;
      sum.monthUsd += s.monthUsd;
    }
    return sum;
  }

  /** The key's own limit: by label, then id, then `*`. */
  private limitOf(key: KeyRecord, s: BudgetSettings): BudgetLimit | undefined {
    const keys = s.keys ?? {};
    return Object.hasOwn(keys, key.label) ? keys[key.label] : Object.hasOwn(keys, key.id) ? keys[key.id] : keys['*'];
  }

  /** Marks or releases one key; returns its over-budget spell, if any. */
  private check(key: KeyRecord): BudgetStanding['over'] {
    const over = this.standing(key).over;
    if (over) {
      this.marked.add(key.id);
      this.o.pool.setOverBudget(key.id, over.until, over.reason);
    } else if (this.marked.delete(key.id)) {
      this.o.pool.setOverBudget(key.id, undefined);
    }
    return over;
  }

  /** The spell a standing comes to: the latest end among the limits reached. */
  private overOf(st: BudgetStanding): BudgetStanding['over'] {
    const period = this.periods.at(this.o.clock.now());
    const ends = { day: period.dayEnds, month: period.monthEnds };
    const hits: Array<{ until: number; why: string }> = [];
    const test = (spent: Spent, limit: BudgetLimit | undefined, whose: string): void => {
      if (limit?.dailyUsd !== undefined && spent.dayUsd >= limit.dailyUsd)
        hits.push({
          until: ends.day,
          why: `${whose} spent ${formatUsd(spent.dayUsd)} of ${formatUsd(limit.dailyUsd)} today`,
        });
      if (limit?.monthlyUsd !== undefined && spent.monthUsd >= limit.monthlyUsd)
        hits.push({
          until: ends.month,
          why: `${whose} spent ${formatUsd(spent.monthUsd)} of ${formatUsd(limit.monthlyUsd)} this month`,
        });
    };
    test(st.spent, st.limit, 'the key');
    if (st.account) test(st.account.spent, st.account.limit, `account "${st.account.name}"`);
    if (hits.length === 0) return undefined;
    const until = Math.max(...hits.map((h) => h.until));
    const back = new Date(until).toISOString().slice(0, 16).replace('T', ' ');
    return { until, reason: `over budget: ${hits.map((h) => h.why).join('; ')} (UTC); back at ${back} UTC` };
  }

  /** The keys of an account (any provider), indexed once per key set. */
  private mates(name: string): readonly KeyRecord[] {
    const list = this.o.pool.list();
    if (this.accountsOf?.list !== list) {
      const byName = new Map<string, KeyRecord[]>();
      for (const k of list) {
        if (!k.account) continue;
        const keys = byName.get(k.account);
        if (keys) keys.push(k);
        else byName.set(k.account, [k]);
      }
      this.accountsOf = { list, byName };
    }
    return this.accountsOf.byName.get(name) ?? [];
  }
}
