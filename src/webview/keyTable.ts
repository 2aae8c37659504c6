/**
 * The key table: one page of rows the extension sorted and filtered (10,000 keys never reach the
 * webview), headers that sort, a filter box, paging, cooldowns that count down every second, a
 * 24 h sparkline, and Test / Discard / Restore / Remove buttons that run the tree's commands.
 */
import type { DashboardDoc, DashboardQuery, DashboardRow, SortKey } from '../core/accounting/dashboard';
import type { DashboardAction } from '../core/view/dashboardProtocol';
import { count, el, percent, remaining, usd } from './format';
import type { Palette } from './theme';

const COLUMNS: Array<[label: string, sort: SortKey | undefined, cls: string]> = [
  ['Key', 'label', 'key'],
  ['Provider', 'provider', 'provider'],
  ['State', 'state', 'state'],
  ['Cooldown', 'cooldown', 'cooldown'],
  ['Requests', 'requests', 'num'],
  ['Success', 'success', 'num'],
  ['Tokens', 'tokens', 'num'],
  ['Cost', 'cost', 'num'],
  ['Last 24 h', undefined, 'spark'],
  ['Last error', 'error', 'error'],
  ['', undefined, 'actions'],
];

/** Which buttons a key in `state` gets (the tree's context menu rules). */
function actionsFor(r: DashboardRow): DashboardAction[] {
  const out: DashboardAction[] = ['test'];
  if (r.state !== 'discarded') out.push('discard');
  if (r.state !== 'active' || r.cooldowns.length > 0) out.push('restore');
  out.push('remove');
  return out;
}

export interface TableHandlers {
  query(q: Partial<DashboardQuery>): void;
  action(action: DashboardAction, id: string): void;
}

export class KeyTable {
  private readonly body: HTMLTableSectionElement;
  private readonly head: HTMLTableRowElement;
  private readonly info: HTMLElement;
  private readonly prev: HTMLButtonElement;
  private readonly next: HTMLButtonElement;
  private readonly filter: HTMLInputElement;
  private query: DashboardQuery | undefined;
  /** The document's clock against this page's: countdowns run from the document's `at`. */
  private skew = 0;
  private filterTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    parent: HTMLElement,
    private readonly on: TableHandlers,
  ) {
    const bar = el('div', 'toolbar');
    this.filter = el('input', 'filter');
    this.filter.type = 'search';
    this.filter.placeholder = 'Filter keys (label, key, provider, state, error)';
    this.filter.setAttribute('aria-label', 'Filter keys');
    this.filter.addEventListener('input', () => {
      clearTimeout(this.filterTimer);
      this.filterTimer = setTimeout(() => this.on.query({ filter: this.filter.value, offset: 0 }), 250);
    });
    this.prev = el('button', 'page', '‹ Previous');
    this.next = el('button', 'page', 'Next ›');
    this.info = el('span', 'info');
    this.prev.addEventListener('click', () => this.page(-1));
    this.next.addEventListener('click', () => this.page(1));
    bar.append(this.filter, this.prev, this.info, this.next);
    const table = el('table', 'keys');
    const thead = el('thead');
    this.head = el('tr');
    for (const [label, sort, cls] of COLUMNS) {
      const th = el('th', cls, label);
      if (sort) {
        th.dataset.sort = sort;
        th.tabIndex = 0;
        th.addEventListener('click', () => this.sortBy(sort));
        th.addEventListener('keydown', (e) => (e.key === 'Enter' || e.key === ' ') && this.sortBy(sort));
      }
      this.head.append(th);
    }
    thead.append(this.head);
    this.body = el('tbody');
    table.append(thead, this.body);
    const wrap = el('div', 'table-wrap');
    wrap.append(table);
    parent.append(bar, wrap);
  }

  render(doc: DashboardDoc, p: Palette): void {
    const q = doc.table.query;
    this.query = q;
    this.skew = Date.now() - doc.at;
    for (const th of this.head.children as HTMLCollectionOf<HTMLElement>) {
      const active = th.dataset.sort === q.sort;
      th.classList.toggle('sorted', active);
      th.setAttribute('aria-sort', active ? (q.dir === 'asc' ? 'ascending' : 'descending') : 'none');
      th.dataset.dir = active ? q.dir : '';
    }
    const { total, rows } = doc.table;
    const last = Math.min(total, q.offset + rows.length);
    this.info.textContent = total ? `${q.offset + 1}–${last} of ${count(total)} keys` : 'No keys';
    this.prev.disabled = q.offset === 0;
    this.next.disabled = last >= total;
    this.body.replaceChildren(...rows.map((r) => this.row(r, p)));
    this.tick();
  }

  /** Updates every cooldown countdown (once a second, between documents). */
  tick(): void {
    const now = Date.now() - this.skew;
    for (const span of this.body.querySelectorAll<HTMLElement>('.countdown')) {
      const left = Number(span.dataset.until) - now;
      span.textContent = `${span.dataset.model ? `${span.dataset.model} ` : ''}${left > 0 ? remaining(left) : 'ready'}`;
    }
  }

  private row(r: DashboardRow, p: Palette): HTMLTableRowElement {
    const tr = el('tr');
    tr.dataset.id = r.id;
    const key = el('td', 'key');
    key.append(el('span', 'label', r.label), el('span', 'masked', r.masked));
    if (r.account) key.append(el('span', 'account', r.account));
    const state = el('td', 'state');
    const cooling = r.state === 'active' && r.cooldowns.length > 0;
    state.append(el('span', `badge ${cooling ? 'cooling' : r.state}`, cooling ? 'active, cooling' : r.state));
    const cd = el('td', 'cooldown');
    for (const c of r.cooldowns) {
      const s = el('span', 'countdown');
      s.dataset.until = String(c.until);
      if (c.model) s.dataset.model = c.model;
      cd.append(s);
    }
    const tokens = el('td', 'num', count(r.tokensIn + r.tokensOut));
    tokens.title = `${r.tokensIn} in, ${r.tokensOut} out`;
    const spark = el('td', 'spark');
    spark.append(sparkline(r.spark, p));
    const err = el('td', 'error');
    err.append(el('span', 'text', r.lastError ?? ''));
    err.title = r.lastError ?? '';
    const actions = el('td', 'actions');
    for (const a of actionsFor(r)) {
      const b = el('button', `action ${a}`, a[0].toUpperCase() + a.slice(1));
      b.addEventListener('click', () => this.on.action(a, r.id));
      actions.append(b);
    }
    tr.append(key, el('td', 'provider', r.provider), state, cd, el('td', 'num', count(r.requests)));
    tr.append(el('td', 'num', percent(r.successRate)), tokens, el('td', 'num', usd(r.costUsd)), spark, err, actions);
    return tr;
  }

  private sortBy(sort: SortKey): void {
    const q = this.query;
    const dir =
      q?.sort === sort ? (q.dir === 'asc' ? 'desc' : 'asc') : sort === 'label' || sort === 'provider' ? 'asc' : 'desc';
    this.on.query({ sort, dir, offset: 0 });
  }

  private page(delta: number): void {
    const q = this.query;
    if (q) this.on.query({ offset: Math.max(0, q.offset + delta * q.limit) });
  }
}

/** Attempts per hour over 24 h as a small bar chart on a canvas. */
function sparkline(values: number[], p: Palette): HTMLCanvasElement {
  const c = el('canvas', 'sparkline');
  const ratio = window.devicePixelRatio || 1;
  const [w, h] = [72, 18];
  c.width = w * ratio;
  c.height = h * ratio;
  c.style.width = `${w}px`;
  c.style.height = `${h}px`;
  const max = Math.max(1, ...values);
  c.setAttribute('aria-label', `${values.reduce((a, b) => a + b, 0)} attempts in the last 24 hours`);
  const g = c.getContext('2d');
  if (!g) return c;
  g.scale(ratio, ratio);
  g.fillStyle = p.info;
  const bw = w / values.length;
  values.forEach((v, i) => {
    if (v > 0) {
      const bh = Math.max(1, (v / max) * (h - 1));
      g.fillRect(i * bw, h - bh, Math.max(1, bw - 1), bh);
    }
  });
  return c;
}
