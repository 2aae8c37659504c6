import * as vscode from 'vscode';
import { DEFAULT_QUERY, parseQuery } from '../core/accounting/dashboard';
import type { DashboardQuery } from '../core/accounting/dashboard';
import type { Logger } from '../core/types';
import type { DashboardAction, ToExtension, ToWebview } from '../core/view/dashboardProtocol';
import type { DashboardFeed } from '../core/windows/dashboardFeed';
import { Command } from './ids';
import { openWebviewPanel } from './webviewHtml';

/** The webview panel's type id. */
export const DASHBOARD_VIEW_TYPE = 'keyRelay.dashboard';
/** At most one document a second; one at least every 5 s so the time axis moves on. */
const TICK_MS = 1_000;
const IDLE_REFRESH_MS = 5_000;

const ACTIONS: Record<DashboardAction, string> = {
  test: Command.testKey,
  discard: Command.discardKey,
  restore: Command.restoreKey,
  remove: Command.removeKey,
};

/**
 * "KeyRelay: Open Dashboard" (issue 17): one webview panel, live while visible (a document per
 * second at most, only when something changed), paused while hidden. The page is bundled into
 * dist/ (uPlot included), loaded under a strict CSP with a nonce; nothing remote.
 */
export class DashboardPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private timer: NodeJS.Timeout | undefined;
  private query: DashboardQuery = { ...DEFAULT_QUERY };
  private lastMark = '';
  private lastSent = 0;
  private busy = false;
  /** Documents posted (host tests wait on it). */
  posted = 0;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly feed: DashboardFeed,
    private readonly log: Logger,
  ) {}

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  open(): void {
    if (this.panel) {
      this.panel.reveal();
      return;
    }
    const panel = openWebviewPanel(this.extensionUri, {
      viewType: DASHBOARD_VIEW_TYPE,
      title: 'KeyRelay Dashboard',
      name: 'dashboard',
    });
    this.panel = panel;
    panel.webview.onDidReceiveMessage((m: ToExtension) => void this.onMessage(m));
    panel.onDidChangeViewState(() => this.schedule());
    panel.onDidDispose(() => {
      clearInterval(this.timer);
      this.timer = undefined;
      this.panel = undefined;
    });
    this.schedule();
  }

  /** Ticks while the panel is visible; none while hidden. */
  private schedule(): void {
    const visible = this.panel?.visible === true;
    if (visible && !this.timer) this.timer = setInterval(() => void this.push(false), TICK_MS);
    if (!visible && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    if (visible) void this.push(true);
  }

  private async onMessage(m: ToExtension): Promise<void> {
    if (m.type === 'ready') return this.push(true);
    if (m.type === 'query') {
      const q = m.query as unknown as Record<string, unknown>;
      this.query = parseQuery((n) => (q[n] === undefined || q[n] === null ? undefined : String(q[n])));
      return this.push(true);
    }
    if (m.type === 'action' && m.action in ACTIONS && typeof m.id === 'string') {
      await vscode.commands.executeCommand(ACTIONS[m.action], m.id);
      return this.push(true);
    }
  }

  /** Posts a fresh document when something changed (or `force`), never two at once. */
  private async push(force: boolean): Promise<void> {
    const panel = this.panel;
    if (!panel?.visible || this.busy) return;
    const mark = this.feed.mark(this.query);
    if (!force && mark === this.lastMark && Date.now() - this.lastSent < IDLE_REFRESH_MS) return;
    this.busy = true;
    try {
      const { doc, source } = await this.feed.get(this.query);
      [this.lastMark, this.lastSent] = [mark, Date.now()];
      await panel.webview.postMessage({ type: 'doc', doc, source } satisfies ToWebview);
      this.posted++;
    } catch (err) {
      this.log.warn(`Dashboard: ${(err as Error).message}`);
      await panel.webview.postMessage({ type: 'error', message: (err as Error).message } satisfies ToWebview);
    } finally {
      this.busy = false;
    }
  }

  dispose(): void {
    clearInterval(this.timer);
    this.panel?.dispose();
  }
}
