import * as vscode from 'vscode';
import { normalizeAccount } from '../core/config/importers';
import { addKeyCommands } from './addKeyCommands';
import { Command } from './ids';
import { keyKit } from './keyKit';
import type { KeyArg, KeyCommandDeps, KeyKit } from './keyKit';

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
      // Following: the serving window's counters are the ones every window shows.
      if (!(await d.resetStatsOnLeader())) {
        d.stats.reset();
        d.pool.resetDaily();
      }
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
