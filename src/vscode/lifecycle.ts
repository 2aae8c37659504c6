import * as vscode from 'vscode';
import type { KeyPool, PoolOptions } from '../core/pool/keyPool';
import type { ProviderCatalogue } from '../core/config/providers';
import type { Stats } from '../core/accounting/stats';
import type { Logger, PoolKey, ProxyConfig } from '../core/types';
import type { ClientWiring } from './clientWiring';
import { needsRestart } from '../core/config/proxyConfig';
import type { ExtensionConfig } from './config';
import { Setting, SETTINGS_SECTION, StorageKey } from './ids';
import type { ProxyController } from '../core/windows/proxyController';
import type { ForwardKit } from '../core/proxy/forwardKit';
import type { ChatModelCatalog } from '../core/lm/chatModels';
import type { HealthPersistence } from './persistence';
import type { KeyVault, ValueStore } from '../core/keys/keyVault';
import type { ViewModelHub } from '../core/view/viewModel';
import { findFreePort } from '../core/windows/localHttp';

/** The pool's share of the proxy settings. */
export function poolOptions(p: ProxyConfig): Omit<PoolOptions, 'clock'> {
  return {
    strategy: p.strategy,
    cooldownStepsMs: p.cooldownStepsMs,
    maxCooldownMs: p.maxCooldownMs,
    degradedAfter: p.degradedAfter,
    discardOnQuota: p.discardOnQuota,
  };
}

const isLoopback = (host: string) => host === '127.0.0.1' || host === 'localhost' || host === '::1';

/** Applies a settings change live; a port or host change rebinds the server (DESIGN §8). */
export function applyConfig(d: {
  pool: KeyPool;
  stats: Stats;
  catalogue: ProviderCatalogue;
  controller: ProxyController;
  kit: ForwardKit;
  chatModels: ChatModelCatalog;
  wiring: ClientWiring;
  log: Logger;
}) {
  return ({ next, previous }: { next: ExtensionConfig; previous: ExtensionConfig }): void => {
    d.catalogue.set(next.providers);
    syncCommandKeys(d.pool, next.commandKeys);
    d.pool.setOptions(poolOptions(next.proxy));
    if (next.proxy.strategy !== previous.proxy.strategy) d.pool.setStrategy(next.proxy.strategy);
    d.stats.setDailyResetHour(next.proxy.dailyResetHour);
    d.controller.updateConfig(next.proxy);
    d.kit.updateConfig(next.proxy);
    d.chatModels.refresh();
    if (next.proxy.host !== previous.proxy.host && !isLoopback(next.proxy.host)) {
      void vscode.window.showWarningMessage(
        `KeyRelay now listens on ${next.proxy.host}: other machines that can reach it may use your keys if they learn the access token.`,
      );
    }
    if (needsRestart(previous.proxy, next.proxy) && d.controller.state.role !== 'stopped') {
      d.log.info(`Proxy settings changed (port ${previous.proxy.port} → ${next.proxy.port}); restarting.`);
      void d.controller
        .restart()
        .then((s) => (s.role === 'leader' ? d.wiring.followPortChange() : undefined))
        .catch((err) => d.log.error(err));
    }
  };
}

/** The port is held by a program that is not KeyRelay: say so, offer a free one in one click. */
export async function offerAnotherPort(port: number): Promise<void> {
  const pick = await vscode.window.showErrorMessage(
    `KeyRelay cannot start: port ${port} is in use by another program (not KeyRelay).`,
    'Pick Another Port',
  );
  if (pick !== 'Pick Another Port') return;
  const free = await findFreePort();
  // The settings listener restarts the proxy on the new port.
  await vscode.workspace
    .getConfiguration(SETTINGS_SECTION)
    .update(Setting.port, free, vscode.ConfigurationTarget.Global);
}

/**
 * Tells the user once where their keys are weakly protected: web hosts such as code-server keep
 * secrets in the browser, and VS Code on Linux without a keyring uses "basic text" encryption.
 */
export function warnAboutSecretStorage(memento: ValueStore, log: Logger): void {
  if (memento.get<boolean>(StorageKey.warnedStorage)) return;
  const web = vscode.env.uiKind === vscode.UIKind.Web || vscode.env.appHost !== 'desktop';
  // VS Code does not expose which backend it chose; no D-Bus session on Linux means no keyring.
  const weakLinux = !web && process.platform === 'linux' && !process.env.DBUS_SESSION_BUS_ADDRESS;
  if (!web && !weakLinux) return;
  const msg = web
    ? "KeyRelay: this is a web host (code-server or similar). API keys are kept in this browser's storage for the editor, which is weaker than an OS keychain."
    : 'KeyRelay: no OS keyring was found, so VS Code likely stores API keys with weak "basic text" encryption. Install and unlock a keyring (e.g. gnome-keyring) to protect them.';
  log.warn(msg);
  void memento.update(StorageKey.warnedStorage, true);
  void vscode.window.showWarningMessage(msg);
}

/** Loads keys and health, then starts the proxy; never rejects (failures go to the log). */
export async function startUp(d: {
  vault: KeyVault;
  pool: KeyPool;
  persistence: HealthPersistence;
  controller: ProxyController;
  kit: ForwardKit;
  hub: ViewModelHub;
  state: ValueStore;
  log: Logger;
  autoStart: () => boolean;
  commandKeys: () => readonly PoolKey[];
}): Promise<void> {
  try {
    syncCommandKeys(d.pool, d.commandKeys());
    await d.vault.load();
    d.kit.setAccessToken(d.vault.accessToken);
    d.pool.importHealth(d.persistence.loadHealth() ?? {});
    warnAboutSecretStorage(d.state, d.log);
    if (d.autoStart()) await d.controller.start();
  } catch (err) {
    d.log.error(err instanceof Error ? err : String(err));
  } finally {
    d.hub.refresh();
  }
}

/**
 * Puts the keys of `keyRelay.credentialCommands` (user settings only) in the pool, beside the
 * vault's: added, changed (health kept) or removed as the setting says.
 */
export function syncCommandKeys(pool: KeyPool, keys: readonly PoolKey[]): void {
  const wanted = new Set(keys.map((k) => k.id));
  for (const k of pool.list()) if (k.credentialCommand && !wanted.has(k.id)) pool.remove(k.id);
  for (const k of keys) {
    const have = pool.get(k.id);
    if (!have || have.label !== k.label || JSON.stringify(have) !== JSON.stringify(k)) pool.upsert(k);
  }
}

/** One warn line per key state change (the key masked, the reason already redacted by the pool). */
export function logTransitions(pool: KeyPool, log: Logger): vscode.Disposable {
  return pool.onDidTransition(({ key, transition: t }) =>
    log.warn(
      `Key ${key.label} (${key.masked}) ${t.from} → ${t.to}: ${t.reason}${t.status ? ` (HTTP ${t.status})` : ''}${t.model ? ` [${t.model}]` : ''}`,
    ),
  );
}
