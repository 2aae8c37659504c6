import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import type { Stats } from '../core/accounting/stats';
import { parseStoreUrl } from '../core/config/storeUrl';
import { DisposableBase, Emitter } from '../core/events';
import type { Event } from '../core/events';
import type { KeyPool } from '../core/pool/keyPool';
import { sharedStateModule } from '../core/shared/sharedLoader';
import type { SharedState } from '../core/shared/sharedState';
import { systemClock } from '../core/types';
import type { Logger, SharedStoreStatus, SharedStoreSummary } from '../core/types';
import type { ConfigWatcher } from './config';
import { Command } from './ids';

/** SecretStorage names of the team secret and the store's password (never in settings.json). */
const TEAM_SECRET = 'keyRelay.teamSecret';
const STORE_PASSWORD = 'keyRelay.stateStorePassword';

/**
 * The editor's side of shared state (issue 18): starts the core's SharedState when the
 * machine-scoped `keyRelay.stateStore` is set and a team secret is in SecretStorage (ioredis is
 * loaded only then) and restarts it when the setting or the secrets change. The views show its
 * summary through the view model (the tree's first row, the status item, the dashboard).
 */
export class SharedStoreLink extends DisposableBase {
  private shared: SharedState | undefined;
  private url = '';
  /** Set while the setting names a store but no team secret is stored. */
  private missingSecret = false;
  private readonly changed = this._register(new Emitter<void>());
  /** The summary changed (started, stopped, connected, down). */
  readonly onDidChange: Event<void> = this.changed.event;

  /** The running SharedState, if any: its counters carry budgets across every KeyRelay of the pool. */
  get counter(): SharedState | undefined {
    return this.shared;
  }

  constructor(
    private readonly d: {
      secrets: vscode.SecretStorage;
      config: ConfigWatcher;
      pool: KeyPool;
      stats: Stats;
      log: Logger;
    },
  ) {
    super();
    this._register(d.config.onDidChange(({ next }) => next.proxy.stateStore !== this.url && void this.restart()));
    this._register(
      d.secrets.onDidChange((e) => (e.key === TEAM_SECRET || e.key === STORE_PASSWORD) && void this.restart()),
    );
    this._register(vscode.commands.registerCommand(Command.setTeamSecret, () => this.askSecrets()));
  }

  /** The store's status for `/keyrelay/status` (undefined when sharing is off). */
  status(): SharedStoreStatus | undefined {
    return this.shared?.status();
  }

  /** What the views show; undefined when sharing is off. */
  summary(): SharedStoreSummary | undefined {
    if (this.shared) return this.shared.summary();
    if (!this.missingSecret) return undefined;
    let address: { shown: string; pool: string };
    try {
      address = parseStoreUrl(this.url);
    } catch {
      return undefined;
    }
    return { store: address.shown, pool: address.pool, state: 'no-secret', since: 0, pending: 0 };
  }

  /** (Re)starts sharing from the current setting and secrets; never waits for the store itself. */
  restart(): Promise<void> {
    return this.start().catch((err: Error) => this.d.log.error(`Shared state: ${err.message}`));
  }

  private async start(): Promise<void> {
    this.stop();
    this.url = this.d.config.current.proxy.stateStore.trim();
    if (!this.url) return this.changed.fire();
    const teamSecret = await this.d.secrets.get(TEAM_SECRET);
    if (!teamSecret) {
      this.missingSecret = true;
      this.changed.fire();
      void vscode.window
        .showWarningMessage(
          'KeyRelay: keyRelay.stateStore is set; enter the team secret to share state.',
          'Set Team Secret',
        )
        .then((pick) => pick && vscode.commands.executeCommand(Command.setTeamSecret));
      return;
    }
    const shared = new (sharedStateModule().SharedState)({
      address: parseStoreUrl(this.url),
      password: (await this.d.secrets.get(STORE_PASSWORD)) || undefined,
      teamSecret,
      pool: this.d.pool,
      stats: this.d.stats,
      logger: this.d.log,
      clock: systemClock,
      instanceId: randomUUID(),
    });
    this.shared = shared;
    shared.onDidChange(() => this.changed.fire());
    shared.start();
    this.changed.fire();
  }

  override dispose(): void {
    this.stop();
    super.dispose();
  }

  private stop(): void {
    const s = this.shared;
    this.shared = undefined;
    this.missingSecret = false;
    if (s) void s.close();
  }

  private async askSecrets(): Promise<void> {
    const secret = await vscode.window.showInputBox({
      title: 'KeyRelay: team secret for shared state',
      prompt: 'The same secret on every KeyRelay of the pool (at least 16 characters). Kept in SecretStorage.',
      password: true,
      ignoreFocusOut: true,
      validateInput: (v) => (v.length >= 16 ? undefined : 'At least 16 characters.'),
    });
    if (secret === undefined) return;
    const password = await vscode.window.showInputBox({
      title: "KeyRelay: the store's password (leave empty for none)",
      password: true,
      ignoreFocusOut: true,
    });
    if (password) await this.d.secrets.store(STORE_PASSWORD, password);
    else if (password === '') await this.d.secrets.delete(STORE_PASSWORD);
    await this.d.secrets.store(TEAM_SECRET, secret);
  }
}
