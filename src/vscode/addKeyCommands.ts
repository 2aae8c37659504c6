import { promises as fs } from 'node:fs';
import * as vscode from 'vscode';
import { importKeys, keyIdentity } from '../core/config/importers';
import { commandKeyId, splitCommandLine } from '../core/config/credentialSpec';
import { decodeText, keyProblem } from '../core/config/keyText';
import { Command, Setting, SETTINGS_SECTION } from './ids';
import type { KeyCommandDeps, KeyKit } from './keyKit';

/** The same check as every other key source (config, keys file, environment), worded for the box. */
const validSecret = (v: string): string | undefined => {
  if (!v.trim()) return 'Paste the API key.';
  const problem = keyProblem(v.trim());
  return problem && problem[0].toUpperCase() + problem.slice(1) + '.';
};

/** Add Key and Import Keys. */
export function addKeyCommands(d: KeyCommandDeps, kit: KeyKit): Record<string, (arg?: unknown) => Promise<unknown>> {
  return {
    [Command.addKey]: () => addKey(d, kit),
    [Command.addKeyFromCommand]: () => addKeyFromCommand(d, kit),
    [Command.importKeys]: () => importKeysCommand(d, kit),
  };
}

/** Provider, key (password box), optional label, then an offer to test it. */
async function addKey(d: KeyCommandDeps, kit: KeyKit): Promise<unknown> {
  const provider = await kit.pickProvider('Add API Key (1/4): provider', false);
  if (!provider || provider === 'detect') return;
  let baseUrl: string | undefined;
  if (provider.id === 'custom') {
    baseUrl = await d.prompts.input({
      title: 'Add API Key: base URL',
      prompt: 'OpenAI-compatible base URL, with its version segment',
      placeHolder: 'https://example.com/v1',
      ignoreFocusOut: true,
      validateInput: (v) => (/^https?:\/\/\S+$/.test(v.trim()) ? undefined : 'A URL starting with http:// or https://'),
    });
    if (!baseUrl) return;
  }
  const secret = await d.prompts.input({
    title: `Add API Key (2/4): ${provider.name} key`,
    prompt: 'Stored in VS Code SecretStorage, never in settings',
    password: true,
    ignoreFocusOut: true,
    validateInput: validSecret,
  });
  if (!secret) return;
  if (d.vault.keysInUse().has(keyIdentity(provider.id, secret.trim()))) {
    void d.prompts.info(`That key is already in KeyRelay for ${provider.name}.`);
    return;
  }
  const label = await d.prompts.input({
    title: 'Add API Key (3/4): label (optional)',
    prompt: 'A name for this key, e.g. "work" or "personal"',
    ignoreFocusOut: true,
  });
  if (label === undefined) return;
  const rec = await d.vault.add({
    providerId: provider.id,
    secret,
    label,
    baseUrl: baseUrl?.trim().replace(/\/+$/, ''),
  });
  d.log.info(`Added key ${rec.label} (${rec.masked}) for ${provider.name}.`);
  d.hub.refresh();
  const next = await d.prompts.quickPick(
    [{ label: 'Test now', description: "send the provider's cheap test request" }, { label: 'Skip' }],
    // like steps 1–3: a webview or notification taking focus must not drop the question
    { title: 'Add API Key (4/4): test the key?', ignoreFocusOut: true },
  );
  if (next?.label === 'Test now') {
    const key = d.pool.get(rec.id);
    if (key)
      void d.prompts.info(`${rec.label}: ${(await kit.runTest(key)) ? 'works' : 'test failed, see the tree tooltip'}.`);
  }
  return rec;
}

/** What a command line typed into the box is, as argv; a message when it is not one. */
function commandProblem(line: string): string | undefined {
  try {
    return splitCommandLine(line).length ? undefined : 'Type the command, e.g. gcloud auth print-access-token';
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Provider, command line (split into argv here: it never runs in a shell), label; the command is
 * run once so a typo shows now, then saved to the user's settings (a machine setting: never a
 * workspace's). The settings watcher puts the key in the pool.
 */
async function addKeyFromCommand(d: KeyCommandDeps, kit: KeyKit): Promise<unknown> {
  const provider = await kit.pickProvider('Add Key from a Command (1/3): provider', false);
  if (!provider || provider === 'detect') return;
  const line = await d.prompts.input({
    title: 'Add Key from a Command (2/3): command',
    prompt: 'Runs without a shell. It prints the token, or JSON {"token": …, "expiresIn": seconds}',
    placeHolder: 'gcloud auth print-access-token',
    ignoreFocusOut: true,
    validateInput: commandProblem,
  });
  if (!line) return;
  const label = await d.prompts.input({
    title: 'Add Key from a Command (3/3): label (optional)',
    prompt: 'A name for this key, e.g. "work"',
    ignoreFocusOut: true,
  });
  if (label === undefined) return;
  const argv = splitCommandLine(line);
  const id = commandKeyId(provider.id, argv);
  const probe = { id: `${id}-probe`, label: label.trim() || argv[0], credentialCommand: { argv } };
  try {
    await d.kit.credentials.token(probe);
  } finally {
    d.kit.credentials.retain(new Set(d.pool.list().map((k) => k.id)));
  }
  const cfg = vscode.workspace.getConfiguration(SETTINGS_SECTION);
  const current = cfg.inspect<unknown[]>(Setting.credentialCommands)?.globalValue ?? [];
  const entry = { provider: provider.id, credentialCommand: argv, ...(label.trim() ? { label: label.trim() } : {}) };
  await cfg.update(Setting.credentialCommands, [...current, entry], vscode.ConfigurationTarget.Global);
  d.log.info(`Added key ${probe.label} for ${provider.name}, its token from a command (in your user settings).`);
  void d.prompts.info(`${probe.label}: the command printed a token; the key is in KeyRelay.`);
  return id;
}

/** A pasted list or a file, then the provider for keys that do not say theirs. */
async function importKeysCommand(d: KeyCommandDeps, kit: KeyKit): Promise<unknown> {
  const source = await d.prompts.quickPick(
    [
      { label: 'Paste keys', description: 'separated by ; , or new lines' },
      { label: 'From a file', description: '.env, one key per line, or JSON ({ apiKeys: [{ key, url, models }] })' },
    ],
    { title: 'Import Keys' },
  );
  if (!source) return;
  let text: string | undefined;
  let fileName: string | undefined;
  if (source.label === 'Paste keys') {
    text = await d.prompts.input({
      title: 'Import Keys: paste',
      prompt: 'Keys separated by ; , or spaces',
      password: true,
      ignoreFocusOut: true,
    });
  } else {
    const uri = await d.prompts.openFile({
      canSelectMany: false,
      openLabel: 'Import',
      filters: { 'Key files': ['env', 'txt', 'json', 'keys'], 'All files': ['*'] },
    });
    if (uri) {
      fileName = uri.path.split('/').pop();
      // UTF-16 (PowerShell's >) and a UTF-8 BOM are read as the CLI reads them.
      text = decodeText(
        uri.scheme === 'file' ? await fs.readFile(uri.fsPath) : await vscode.workspace.fs.readFile(uri),
      );
    }
  }
  if (!text) return;
  const provider = await kit.pickProvider('Import Keys: provider', true);
  if (!provider) return;
  const result = importKeys(text, {
    fileName,
    catalogue: d.catalogue,
    defaultProvider: provider === 'detect' ? 'openai' : provider.id,
    existing: d.vault.keysInUse(),
  });
  for (const k of result.keys) await d.vault.add(k);
  d.hub.refresh();
  const parts = [`Imported ${result.keys.length} key${result.keys.length === 1 ? '' : 's'}.`];
  if (result.duplicates.length)
    parts.push(
      `${result.duplicates.length} already known: ${result.duplicates.slice(0, 5).join(', ')}${result.duplicates.length > 5 ? ', …' : ''}.`,
    );
  if (result.skipped.length)
    parts.push(
      `${result.skipped.length} skipped (${result.skipped
        .slice(0, 3)
        .map((s) => `line ${s.line}: ${s.reason}`)
        .join('; ')}).`,
    );
  d.log.info(parts.join(' '));
  void d.prompts.info(parts.join(' '));
  return result.keys.length;
}
