import { promises as fs } from 'node:fs';
import * as vscode from 'vscode';
import { importKeys, normalizeAccount } from '../core/config/importers';
import { testKey } from '../core/proxy/keyTest';
import type { KeyPool } from '../core/pool/keyPool';
import type { ProviderCatalogue } from '../core/config/providers';
import type { Stats } from '../core/accounting/stats';
import type { KeyState, Logger, PoolKey, ProviderSpec } from '../core/types';
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
type KeyArg = { kind?: string; row?: { id: string } } | string | undefined;

const validSecret = (v: string): string | undefined =>
  !v.trim() ? 'Paste the API key.' : /\s/.test(v.trim()) ? 'An API key has no spaces or line breaks.' : undefined;

/** Handlers of the key commands, by command id (registered by `registerCommands`). */
export function keyCommands(d: KeyCommandDeps): Record<string, (arg?: unknown) => Promise<unknown>> {
  const providerName = (id: string) => d.catalogue.get(id)?.name ?? id;

  /** The key a command acts on: the tree's argument, else a quick pick of keys in `states`. */
  async function pickKey(arg: KeyArg, title: string, states?: KeyState[]): Promise<PoolKey | undefined> {
    const id = typeof arg === 'string' ? arg : arg?.row?.id;
    if (id) return d.pool.get(id);
    const rows = d.hub.refresh().keys.filter((k) => !states || states.includes(k.state));
    if (!rows.length) {
      void d.prompts.info(states ? `No key is ${states.join(' or ')}.` : 'No keys yet: run "KeyRelay: Add Key".');
      return undefined;
    }
    const pick = await d.prompts.quickPick(rows.map((k) => ({ label: k.label, description: `${providerName(k.providerId)} · ${k.masked} · ${k.state}`, id: k.id })), { title, placeHolder: 'Pick a key' });
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
    const items: Item[] = d.catalogue.list().map((p) => ({ label: p.name, description: p.id, detail: p.baseUrl, provider: p }));
    if (withDetect) items.unshift({ label: 'Detect from the keys', description: 'by key prefix or variable name, else OpenAI' });
    const pick = await d.prompts.quickPick(items, { title, placeHolder: 'Which provider are these keys for?', matchOnDescription: true });
    return pick && (pick.provider ?? 'detect');
  }


  return {
    [Command.addKey]: async () => {
      const provider = await pickProvider('Add API Key (1/4): provider', false);
      if (!provider || provider === 'detect') return;
      let baseUrl: string | undefined;
      if (provider.id === 'custom') {
        baseUrl = await d.prompts.input({ title: 'Add API Key: base URL', prompt: 'OpenAI-compatible base URL, with its version segment', placeHolder: 'https://example.com/v1', ignoreFocusOut: true,
          validateInput: (v) => (/^https?:\/\/\S+$/.test(v.trim()) ? undefined : 'A URL starting with http:// or https://') });
        if (!baseUrl) return;
      }
      const secret = await d.prompts.input({ title: `Add API Key (2/4): ${provider.name} key`, prompt: 'Stored in VS Code SecretStorage, never in settings', password: true, ignoreFocusOut: true, validateInput: validSecret });
      if (!secret) return;
      if (d.vault.secretsInUse().includes(secret.trim())) {
        void d.prompts.info('That key is already in KeyRelay.');
        return;
      }
      const label = await d.prompts.input({ title: 'Add API Key (3/4): label (optional)', prompt: 'A name for this key, e.g. "work" or "personal"', ignoreFocusOut: true });
      if (label === undefined) return;
      const rec = await d.vault.add({ providerId: provider.id, secret, label, baseUrl: baseUrl?.trim().replace(/\/+$/, '') });
      d.log.info(`Added key ${rec.label} (${rec.masked}) for ${provider.name}.`);
      d.hub.refresh();
      const next = await d.prompts.quickPick([{ label: 'Test now', description: 'send the provider\'s cheap test request' }, { label: 'Skip' }], { title: 'Add API Key (4/4): test the key?' });
      if (next?.label === 'Test now') {
        const key = d.pool.get(rec.id);
        if (key) void d.prompts.info(`${rec.label}: ${(await runTest(key)) ? 'works' : 'test failed, see the tree tooltip'}.`);
      }
      return rec;
    },

    [Command.importKeys]: async () => {
      const source = await d.prompts.quickPick([
        { label: 'Paste keys', description: 'separated by ; , or new lines' },
        { label: 'From a file', description: '.env, one key per line, or JSON ({ apiKeys: [{ key, url, models }] })' },
      ], { title: 'Import Keys' });
      if (!source) return;
      let text: string | undefined;
      let fileName: string | undefined;
      if (source.label === 'Paste keys') {
        text = await d.prompts.input({ title: 'Import Keys: paste', prompt: 'Keys separated by ; , or spaces', password: true, ignoreFocusOut: true });
      } else {
        const uri = await d.prompts.openFile({ canSelectMany: false, openLabel: 'Import', filters: { 'Key files': ['env', 'txt', 'json', 'keys'], 'All files': ['*'] } });
        if (uri) {
          fileName = uri.path.split('/').pop();
          text = uri.scheme === 'file' ? await fs.readFile(uri.fsPath, 'utf8') : Buffer.from(await vscode.workspace.fs.readFile(uri)).toString('utf8');
        }
      }
      if (!text) return;
      const provider = await pickProvider('Import Keys: provider', true);
      if (!provider) return;
      const result = importKeys(text, { fileName, catalogue: d.catalogue, defaultProvider: provider === 'detect' ? 'openai' : provider.id, existing: d.vault.secretsInUse() });
      for (const k of result.keys) await d.vault.add(k);
      d.hub.refresh();
      const parts = [`Imported ${result.keys.length} key${result.keys.length === 1 ? '' : 's'}.`];
      if (result.duplicates.length) parts.push(`${result.duplicates.length} already known: ${result.duplicates.slice(0, 5).join(', ')}${result.duplicates.length > 5 ? ', …' : ''}.`);
      if (result.skipped.length) parts.push(`${result.skipped.length} skipped (${result.skipped.slice(0, 3).map((s) => `line ${s.line}: ${s.reason}`).join('; ')}).`);
      d.log.info(parts.join(' '));
      void d.prompts.info(parts.join(' '));
      return result.keys.length;
    },

    [Command.testKey]: async (arg) => {
      const key = await pickKey(arg as KeyArg, 'Test Key');
      if (!key) return;
      const ok = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Testing ${key.label}…` }, () => runTest(key));
      d.hub.refresh();
      void d.prompts.info(`${key.label} (${key.masked}): ${ok ? 'works' : 'failed, see the tree tooltip or the log'}.`);
      return ok;
    },

    [Command.testAllKeys]: async () => {
      const keys = d.pool.list();
      const results = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Testing ${keys.length} keys…` },
        () => Promise.all(keys.map((k) => runTest(k).catch((err) => { d.log.error(err as Error); return false; }))));
      d.hub.refresh();
      void d.prompts.info(`${results.filter(Boolean).length} of ${keys.length} keys work.`);
    },

    [Command.discardKey]: async (arg) => {
      const key = await pickKey(arg as KeyArg, 'Discard Key', ['active', 'cooling', 'invalid']);
      if (!key) return;
      // The serving window's pool is the one that matters; a following window asks it.
      if (!(await d.actOnLeader(key.id, 'discard'))) d.pool.discard(key.id, 'discarded by the user');
      d.hub.refresh();
    },

    [Command.restoreKey]: async (arg) => {
      const key = await pickKey(arg as KeyArg, 'Restore Key', ['invalid', 'discarded', 'cooling']);
      if (!key) return;
      if (!(await d.actOnLeader(key.id, 'restore'))) d.pool.restore(key.id);
      d.hub.refresh();
    },

    [Command.removeKey]: async (arg) => {
      const key = await pickKey(arg as KeyArg, 'Remove Key');
      if (!key) return;
      const ok = await d.prompts.confirm(`Remove ${key.label} (${key.masked})?`, 'The key is deleted from SecretStorage in every window.', 'Remove');
      if (ok !== 'Remove') return;
      await d.vault.remove(key.id);
      d.log.info(`Removed key ${key.label} (${key.masked}).`);
      d.hub.refresh();
    },

    [Command.renameKey]: async (arg) => {
      const key = await pickKey(arg as KeyArg, 'Rename Key');
      if (!key) return;
      const label = await d.prompts.input({ title: `Rename ${key.label}`, value: key.label, validateInput: (v) => (v.trim() ? undefined : 'A label is needed.') });
      if (!label?.trim()) return;
      await d.vault.rename(key.id, label.trim());
      d.hub.refresh();
    },

    [Command.setKeyAccount]: async (arg) => {
      const key = await pickKey(arg as KeyArg, 'Set Key Account');
      if (!key) return;
      const siblings = d.pool.list().filter((k) => k.providerId === key.providerId && k.account);
      const accounts = [...new Set(siblings.map((k) => k.account as string))].sort();
      type Item = vscode.QuickPickItem & { account?: string; action?: 'new' | 'none' };
      const items: Item[] = [
        ...accounts.map((a): Item => ({ label: a, description: a === key.account ? 'current' : `${siblings.filter((k) => k.account === a).length} key(s)`, account: a })),
        { label: '$(add) New account…', action: 'new' },
        ...(key.account ? [{ label: '$(close) No account', description: 'the key has limits of its own', action: 'none' } as Item] : []),
      ];
      const pick = await d.prompts.quickPick(items, { title: `Account of ${key.label} (${key.masked})`, placeHolder: 'Keys of one account share its rate limits: rotating between them adds no capacity' });
      if (!pick) return;
      let account = pick.account;
      if (pick.action === 'new') {
        const name = await d.prompts.input({ title: `New ${providerName(key.providerId)} account for ${key.label}`, placeHolder: 'e.g. work', validateInput: (v) => (v.trim() ? undefined : 'Name the account.') });
        if (!name?.trim()) return;
        account = normalizeAccount(name);
      }
      if (account === key.account) return;
      await d.vault.setAccount(key.id, account);
      d.log.info(`Key ${key.label} (${key.masked}) ${account ? `is now in account "${account}"` : 'is in no account now'}.`);
      d.hub.refresh();
    },

    [Command.resetStats]: async () => {
      if ((await d.prompts.confirm('Reset KeyRelay statistics?', 'Request, token and latency counters of every key go back to zero.', 'Reset')) !== 'Reset') return;
      d.stats.reset();
      d.pool.resetDaily();
      d.hub.refresh();
    },
  };
}
