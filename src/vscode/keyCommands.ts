import * as vscode from 'vscode';
import { normalizeAccount } from '../core/config/importers';
import { testKey } from '../core/proxy/keyTest';
import type { KeyPool } from '../core/pool/keyPool';
import type { ProviderCatalogue } from '../core/config/providers';
import type { Stats } from '../core/accounting/stats';
import type { KeyState, Logger, PoolKey, ProviderSpec } from '../core/types';
import { addKeyCommands } from './addKeyCommands';
import { Command } from './ids';
import type { Prompts } from './prompts';
import type { KeyVault } from '../core/keys/keyVault';
import type { ViewModelHub } from '../core/view/viewModel';

export interface KeyCommandDeps {
  vault: KeyVault;
  pool: KeyPool;
  stats: Stats;
  catalogue: ProviderCatalogue;
  prompts: Prompts;
  hub: ViewModelHub;
  log: Logger;
  /** Discard/Restore through the leading window while following; false when this window serves. */
  actOnLeader: (id: string, action: 'discard' | 'restore') => Promise<boolean>;
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
    const r = await testKey(key, provider, { timeoutMs: 15_000 });
    if (r.ok) d.pool.markTested(key.id, true, r.message);
    else if (r.outcome.kind !== 'success') d.pool.report(key.id, undefined, r.outcome);
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

/** Handlers of the key commands, by command id (registered by `registerCommands`). */
export function keyCommands(d: KeyCommandDeps): Record<string, (arg?: unknown) => Promise<unknown>> {
  const kit = keyKit(d);
  return { ...addKeyCommands(d, kit), ...keyStateCommands(d, kit), ...keyEditCommands(d, kit) };
}

/** Test, Test All, Discard, Restore: what changes a key's state. */
function keyStateCommands(d: KeyCommandDeps, kit: KeyKit): Record<string, (arg?: unknown) => Promise<unknown>> {
  return {
    [Command.testKey]: async (arg) => {
      const key = await kit.pickKey(arg as KeyArg, 'Test Key');
      if (!key) return;
      const ok = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Testing ${key.label}…` },
        () => kit.runTest(key),
      );
      d.hub.refresh();
      void d.prompts.info(`${key.label} (${key.masked}): ${ok ? 'works' : 'failed, see the tree tooltip or the log'}.`);
      return ok;
    },

    [Command.testAllKeys]: async () => {
      const keys = d.pool.list();
      const results = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Testing ${keys.length} keys…` },
        () =>
          Promise.all(
            keys.map((k) =>
              kit.runTest(k).catch((err) => {
                d.log.error(err as Error);
                return false;
              }),
            ),
          ),
      );
      d.hub.refresh();
      void d.prompts.info(`${results.filter(Boolean).length} of ${keys.length} keys work.`);
    },

    [Command.discardKey]: async (arg) => {
      const key = await kit.pickKey(arg as KeyArg, 'Discard Key', ['active', 'cooling', 'invalid']);
      if (!key) return;
      // The serving window's pool is the one that matters; a following window asks it.
      if (!(await d.actOnLeader(key.id, 'discard'))) d.pool.discard(key.id, 'discarded by the user');
      d.hub.refresh();
    },

    [Command.restoreKey]: async (arg) => {
      const key = await kit.pickKey(arg as KeyArg, 'Restore Key', ['invalid', 'discarded', 'cooling']);
      if (!key) return;
      if (!(await d.actOnLeader(key.id, 'restore'))) d.pool.restore(key.id);
      d.hub.refresh();
    },
  };
}

/** Remove, Rename, Set Key Account, Reset Statistics: what changes the key set or its records. */
function keyEditCommands(d: KeyCommandDeps, kit: KeyKit): Record<string, (arg?: unknown) => Promise<unknown>> {
  return {
    [Command.removeKey]: async (arg) => {
      const key = await kit.pickKey(arg as KeyArg, 'Remove Key');
      if (!key) return;
      const ok = await d.prompts.confirm(
        `Remove ${key.label} (${key.masked})?`,
        'The key is deleted from SecretStorage in every window.',
        'Remove',
      );
      if (ok !== 'Remove') return;
      await d.vault.remove(key.id);
      d.log.info(`Removed key ${key.label} (${key.masked}).`);
      d.hub.refresh();
    },

    [Command.renameKey]: async (arg) => {
      const key = await kit.pickKey(arg as KeyArg, 'Rename Key');
      if (!key) return;
      const label = await d.prompts.input({
        title: `Rename ${key.label}`,
        value: key.label,
        validateInput: (v) => (v.trim() ? undefined : 'A label is needed.'),
      });
      if (!label?.trim()) return;
      await d.vault.rename(key.id, label.trim());
      d.hub.refresh();
    },

    [Command.setKeyAccount]: (arg) => setKeyAccount(d, kit, arg),
    [Command.resetStats]: async () => {
      if (
        (await d.prompts.confirm(
          'Reset KeyRelay statistics?',
          'Request, token and latency counters of every key go back to zero.',
          'Reset',
        )) !== 'Reset'
      )
        return;
      d.stats.reset();
      d.pool.resetDaily();
      d.hub.refresh();
    },
  };
}

/** Puts a key into an account (an existing one or a new one), or takes it out. */
async function setKeyAccount(d: KeyCommandDeps, kit: KeyKit, arg: unknown): Promise<void> {
  const key = await kit.pickKey(arg as KeyArg, 'Set Key Account');
  if (!key) return;
  const siblings = d.pool.list().filter((k) => k.providerId === key.providerId && k.account);
  const accounts = [...new Set(siblings.map((k) => k.account as string))].sort();
  type Item = vscode.QuickPickItem & { account?: string; action?: 'new' | 'none' };
  const items: Item[] = [
    ...accounts.map((a): Item => ({
      label: a,
      description: a === key.account ? 'current' : `${siblings.filter((k) => k.account === a).length} key(s)`,
      account: a,
    })),
    { label: '$(add) New account…', action: 'new' },
    ...(key.account
      ? [{ label: '$(close) No account', description: 'the key has limits of its own', action: 'none' } as Item]
      : []),
  ];
  const pick = await d.prompts.quickPick(items, {
    title: `Account of ${key.label} (${key.masked})`,
    placeHolder: 'Keys of one account share its rate limits: rotating between them adds no capacity',
  });
  if (!pick) return;
  let account = pick.account;
  if (pick.action === 'new') {
    const name = await d.prompts.input({
      title: `New ${kit.providerName(key.providerId)} account for ${key.label}`,
      placeHolder: 'e.g. work',
      validateInput: (v) => (v.trim() ? undefined : 'Name the account.'),
    });
    if (!name?.trim()) return;
    account = normalizeAccount(name);
  }
  if (account === key.account) return;
  await d.vault.setAccount(key.id, account);
  d.log.info(
    `Key ${key.label} (${key.masked}) ${account ? `is now in account "${account}"` : 'is in no account now'}.`,
  );
  d.hub.refresh();
}
