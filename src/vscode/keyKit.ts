import type * as vscode from 'vscode';
import type { Stats } from '../core/accounting/stats';
import type { ProviderCatalogue } from '../core/config/providers';
import type { KeyVault } from '../core/keys/keyVault';
import type { KeyPool } from '../core/pool/keyPool';
import { testAndRecord } from '../core/proxy/keyTest';
import type { LeaderAnswer } from '../core/windows/proxyController';
import type { KeyState, Logger, PoolKey, ProviderSpec } from '../core/types';
import type { ViewModelHub } from '../core/view/viewModel';
import type { Prompts } from './prompts';

/** What the key commands need. */
export interface KeyCommandDeps {
  vault: KeyVault;
  pool: KeyPool;
  stats: Stats;
  catalogue: ProviderCatalogue;
  prompts: Prompts;
  hub: ViewModelHub;
  log: Logger;
  /** Discard/Restore through the leading window while following; false when this window serves. */
  /** Asks the serving window when this one follows; undefined: act on this window's own pool. */
  actOnLeader: (id: string, action: 'discard' | 'restore' | 'test') => Promise<LeaderAnswer | undefined>;
  /** Reset Statistics on the serving window when this one follows; false: reset this window's own. */
  resetStatsOnLeader: () => Promise<boolean>;
}

/** A tree node, a key id, or nothing (then the user picks). */
export type KeyArg = { kind?: string; row?: { id: string } } | string | undefined;

/** What every key command needs to ask the user and to test a key. */
export interface KeyKit {
  providerName(id: string): string;
  pickKey(arg: KeyArg, title: string, states?: KeyState[]): Promise<PoolKey | undefined>;
  runTest(key: PoolKey): Promise<boolean>;
  pickProvider(title: string, withDetect: boolean): Promise<ProviderSpec | 'detect' | undefined>;
}

/** The pickers and the key test the commands share. */
export function keyKit(d: KeyCommandDeps): KeyKit {
  const providerName = (id: string): string => d.catalogue.get(id)?.name ?? id;

  /** The key a command acts on: the tree's argument, else a quick pick of keys in `states`. */
  async function pickKey(arg: KeyArg, title: string, states?: KeyState[]): Promise<PoolKey | undefined> {
    const id = typeof arg === 'string' ? arg : arg?.row?.id;
    if (id) return d.pool.get(id);
    const rows = d.hub.refresh().keys.filter((k) => !states || states.includes(k.state));
    if (!rows.length) {
      void d.prompts.info(states ? `No key is ${states.join(' or ')}.` : 'No keys yet: run "KeyRelay: Add Key".');
      return undefined;
    }
    const pick = await d.prompts.quickPick(
      rows.map((k) => ({
        label: k.label,
        description: `${providerName(k.providerId)} · ${k.masked} · ${k.state}`,
        id: k.id,
      })),
      { title, placeHolder: 'Pick a key' },
    );
    return pick && d.pool.get(pick.id);
  }

  async function runTest(key: PoolKey): Promise<boolean> {
    const provider = d.catalogue.get(key.providerId);
    if (!provider) throw new Error(`Provider "${key.providerId}" of key ${key.label} is not configured.`);
    // Following: the serving window tests the key and its pool learns from it (every window mirrors it).
    // A key added a moment ago may not have reached the serving window yet (404): test it here.
    const remote = await d.actOnLeader(key.id, 'test').catch((err: Error) => {
      if (/HTTP 404/.test(err.message)) return undefined;
      throw err;
    });
    if (remote) {
      d.log.info(`Test ${key.label} (${key.masked}) by the serving window: ${remote.message ?? remote.state ?? ''}`);
      return remote.ok === true;
    }
    const r = await testAndRecord(d.pool, key, provider, { timeoutMs: 15_000 });
    d.log.info(`Test ${key.label} (${key.masked}): ${r.message}`);
    return r.ok;
  }

  async function pickProvider(title: string, withDetect: boolean): Promise<ProviderSpec | 'detect' | undefined> {
    type Item = vscode.QuickPickItem & { provider?: ProviderSpec };
    const items: Item[] = d.catalogue
      .list()
      .map((p) => ({ label: p.name, description: p.id, detail: p.baseUrl, provider: p }));
    if (withDetect)
      items.unshift({ label: 'Detect from the keys', description: 'by key prefix or variable name, else OpenAI' });
    const pick = await d.prompts.quickPick(items, {
      title,
      placeHolder: 'Which provider are these keys for?',
      matchOnDescription: true,
    });
    return pick && (pick.provider ?? 'detect');
  }

  return { providerName, pickKey, runTest, pickProvider };
}
