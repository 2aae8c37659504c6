import * as vscode from 'vscode';
import { readEditorSettings } from '../core/config/editorSettings';
import type { EditorSettings } from '../core/config/editorSettings';
import { DisposableBase, Emitter } from '../core/events';
import { DEFAULT_CHAT_MODELS } from '../core/lm/modelLimits';
import type { Event } from '../core/events';
import type { Logger } from '../core/types';
import { Setting, SETTINGS_SECTION } from './ids';

/** Everything the extension reads from `keyRelay.*`, checked and in the core's units. */
export interface ExtensionConfig extends EditorSettings {
  /** `keyRelay.chatModels`: `providerId/model` patterns of the models offered to the editor's chat. */
  chatModels: readonly string[];
}

/** The settings as they are now (the core's validator decides, so CLI and editor agree). */
export function readConfig(globalStorageDir: string): ExtensionConfig {
  const cfg = vscode.workspace.getConfiguration(SETTINGS_SECTION);
  const chatModels = cfg.get<unknown[]>(Setting.chatModels);
  return {
    ...readEditorSettings(
      (name) => cfg.get(name),
      globalStorageDir,
      (name) => {
        const i = cfg.inspect(name);
        return {
          user: i?.globalValue,
          fromWorkspace: i?.workspaceValue !== undefined || i?.workspaceFolderValue !== undefined,
        };
      },
    ),
    chatModels: Array.isArray(chatModels)
      ? chatModels.filter((p): p is string => typeof p === 'string' && p.trim() !== '').map((p) => p.trim())
      : DEFAULT_CHAT_MODELS,
  };
}

/**
 * Holds the current config and fires with (next, previous) when a `keyRelay.*` setting changes.
 * A setting the core refuses keeps its default, and the user is told which setting and why, once
 * per change, with a button to open the settings.
 */
export class ConfigWatcher extends DisposableBase {
  private readonly _onDidChange = this._register(new Emitter<{ next: ExtensionConfig; previous: ExtensionConfig }>());
  readonly onDidChange: Event<{ next: ExtensionConfig; previous: ExtensionConfig }> = this._onDidChange.event;
  private _current: ExtensionConfig;
  private shown = '';

  constructor(
    private readonly globalStorageDir: string,
    private readonly log: Logger,
  ) {
    super();
    this._current = readConfig(globalStorageDir);
    this.report();
    this._register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (!e.affectsConfiguration(SETTINGS_SECTION)) return;
        const previous = this._current;
        this._current = readConfig(this.globalStorageDir);
        this.report();
        this._onDidChange.fire({ next: this._current, previous });
      }),
    );
  }

  get current(): ExtensionConfig {
    return this._current;
  }

  private report(): void {
    const problems = this._current.problems;
    const key = problems.join('\n');
    if (key === this.shown) return;
    this.shown = key;
    if (problems.length === 0) return;
    for (const p of problems) this.log.warn(`Setting refused (its default is used): ${p}`);
    const text = `KeyRelay settings: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more in the log)` : ''} Its default is used until it is fixed.`;
    void vscode.window.showErrorMessage(text, 'Open Settings').then((pick) => {
      if (pick) void vscode.commands.executeCommand('workbench.action.openSettings', 'keyRelay');
    });
  }
}
