import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { clineSetup, wireAider, wireClaudeCode, wireCodex, wireContinue } from '../core/config/clientConfig';
import type { WiringTarget } from '../core/config/clientConfig';
import { writePrivateFile } from '../core/config/privateFile';
import { DisposableBase } from '../core/events';
import type { ValueStore } from '../core/keys/keyVault';
import type { Logger } from '../core/types';
import { StorageKey } from './ids';
import type { Prompts } from './prompts';

export type Client = 'continue' | 'claude' | 'codex' | 'aider';

interface ClientSpec {
  title: string;
  file: (home: string) => string;
  defaultModel: string;
  transform: (existing: string | undefined, t: WiringTarget) => string;
}

const CLIENTS: Record<Client, ClientSpec> = {
  continue: {
    title: 'Continue',
    file: (h) => path.join(h, '.continue', 'config.yaml'),
    defaultModel: 'gpt-4o',
    transform: wireContinue,
  },
  claude: {
    title: 'Claude Code',
    file: (h) => path.join(h, '.claude', 'settings.json'),
    defaultModel: '',
    transform: wireClaudeCode,
  },
  codex: {
    title: 'Codex',
    file: (h) => path.join(h, '.codex', 'config.toml'),
    defaultModel: 'gpt-5',
    transform: wireCodex,
  },
  aider: { title: 'Aider', file: (h) => path.join(h, '.aider.conf.yml'), defaultModel: 'gpt-4o', transform: wireAider },
};

const SCHEME = 'keyrelay-preview';

export interface WiringDeps {
  prompts: Prompts;
  /** globalState (through Services.state: one write at a time). */
  memento: ValueStore;
  log: Logger;
  /** Injectable for tests; the real one is os.homedir(). */
  homeDir: () => string;
  /** The current endpoint and token, or undefined while the proxy is off. */
  target: () => { endpoint: string; token: string } | undefined;
}

async function readOrUndefined(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Writes assistants' config files after showing the exact change; remembers them for port moves. */
export class ClientWiring extends DisposableBase {
  private readonly previews = new Map<string, string>();

  constructor(private readonly deps: WiringDeps) {
    super();
    this._register(
      vscode.workspace.registerTextDocumentContentProvider(SCHEME, {
        provideTextDocumentContent: (uri) => this.previews.get(uri.path) ?? '',
      }),
    );
  }

  /** Preview → confirm → write. Returns the file written, or undefined when nothing was written. */
  async configure(client: Client): Promise<string | undefined> {
    const spec = CLIENTS[client];
    const t = this.requireTarget();
    const model = spec.defaultModel
      ? await this.deps.prompts.input({
          title: `${spec.title}: model`,
          prompt: 'Model id the assistant should request',
          value: spec.defaultModel,
          ignoreFocusOut: true,
        })
      : '';
    if (model === undefined) return undefined;
    const file = spec.file(this.deps.homeDir());
    const before = await readOrUndefined(file);
    const after = spec.transform(before, { ...t, model: model.trim() || spec.defaultModel });
    if (after === before) {
      void this.deps.prompts.info(`${spec.title} already points at ${t.endpoint}.`);
      await this.remember(client, model);
      return undefined;
    }
    await this.showDiff(client, file, before ?? '', after, t.token);
    const answer = await this.deps.prompts.confirm(
      `Write the KeyRelay settings to ${file}?`,
      `The diff shows the change (the access token is masked there). Other content of the file is kept.`,
      'Write',
    );
    if (answer !== 'Write') return undefined;
    await this.write(file, after);
    await this.remember(client, model);
    this.deps.log.info(`Configured ${spec.title} in ${file}.`);
    void this.deps.prompts.info(`${spec.title} now uses KeyRelay at ${t.endpoint}.`);
    return file;
  }

  /** Copyable values for Cline / Roo Code's "OpenAI Compatible" provider. */
  async showCline(): Promise<void> {
    const t = this.requireTarget();
    const model = await this.deps.prompts.input({
      title: 'Cline / Roo: model',
      prompt: 'Model id to use',
      value: 'gpt-4o',
    });
    if (model === undefined) return;
    const rows = clineSetup({ ...t, model });
    const pick = await this.deps.prompts.quickPick(
      rows.map((r) => ({
        label: r.label,
        description: r.label === 'API Key' ? 'the KeyRelay access token (select to copy)' : r.value,
        value: r.value,
      })),
      { title: 'Cline / Roo Code: API Provider "OpenAI Compatible"', placeHolder: 'Select a value to copy it' },
    );
    if (!pick) return;
    await vscode.env.clipboard.writeText(pick.value);
    void this.deps.prompts.info(`Copied ${pick.label}.`);
  }

  /** After a port move: rewrite every file KeyRelay configured before (the user confirms once). */
  async followPortChange(): Promise<void> {
    const wired = this.deps.memento.get<Partial<Record<Client, string>>>(StorageKey.wiredClients) ?? {};
    const clients = Object.keys(wired) as Client[];
    const t = this.deps.target();
    if (!clients.length || !t) return;
    const names = clients.map((c) => CLIENTS[c].title).join(', ');
    if ((await this.deps.prompts.info(`KeyRelay moved to ${t.endpoint}. Update ${names}?`, 'Update')) !== 'Update')
      return;
    for (const c of clients) {
      const file = CLIENTS[c].file(this.deps.homeDir());
      const before = await readOrUndefined(file);
      const after = CLIENTS[c].transform(before, { ...t, model: wired[c] || CLIENTS[c].defaultModel });
      if (after !== before) await this.write(file, after);
    }
  }

  private requireTarget(): { endpoint: string; token: string } {
    const t = this.deps.target();
    if (!t) throw new Error('The proxy is not running: start it first (KeyRelay: Start Proxy).');
    return t;
  }

  private async remember(client: Client, model: string): Promise<void> {
    const wired = this.deps.memento.get<Partial<Record<Client, string>>>(StorageKey.wiredClients) ?? {};
    await this.deps.memento.update(StorageKey.wiredClients, { ...wired, [client]: model });
  }

  private async write(file: string, text: string): Promise<void> {
    // The file holds the access token: atomic, 0600, through a symlink to its target (see writePrivateFile).
    const w = await writePrivateFile(file, text);
    if (w.wasMode !== undefined)
      this.deps.log.warn(
        `${w.written} could be read by other users (mode ${w.wasMode.toString(8)}); it holds the access token, so KeyRelay made it 0600.`,
      );
  }

  private async showDiff(client: Client, file: string, before: string, after: string, token: string): Promise<void> {
    const mask = (s: string) => s.split(token).join(`${token.slice(0, 3)}…${token.slice(-4)}`);
    const stamp = Date.now();
    const left = `/${client}/${stamp}/before/${path.basename(file)}`;
    const right = `/${client}/${stamp}/after/${path.basename(file)}`;
    this.previews.set(left, mask(before));
    this.previews.set(right, mask(after));
    await vscode.commands.executeCommand(
      'vscode.diff',
      vscode.Uri.from({ scheme: SCHEME, path: left }),
      vscode.Uri.from({ scheme: SCHEME, path: right }),
      `${path.basename(file)}: KeyRelay change (preview)`,
      { preview: true },
    );
  }
}
