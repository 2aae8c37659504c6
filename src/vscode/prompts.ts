import * as vscode from 'vscode';

/**
 * Every question the commands ask goes through this object, so the host tests can answer them
 * (replace a method on the instance returned by `activate()`); the defaults are VS Code's own UI.
 */
export class Prompts {
  quickPick<T extends vscode.QuickPickItem>(
    items: readonly T[],
    options: vscode.QuickPickOptions,
  ): Promise<T | undefined> {
    return Promise.resolve(vscode.window.showQuickPick(items, options));
  }

  input(options: vscode.InputBoxOptions): Promise<string | undefined> {
    return Promise.resolve(vscode.window.showInputBox(options));
  }

  /** A modal question; resolves to the chosen action or undefined when cancelled. */
  confirm(message: string, detail: string, ...actions: string[]): Promise<string | undefined> {
    return Promise.resolve(vscode.window.showWarningMessage(message, { modal: true, detail }, ...actions));
  }

  info(message: string, ...actions: string[]): Promise<string | undefined> {
    return Promise.resolve(vscode.window.showInformationMessage(message, ...actions));
  }

  openFile(options: vscode.OpenDialogOptions): Promise<vscode.Uri | undefined> {
    return Promise.resolve(vscode.window.showOpenDialog(options)).then((uris) => uris?.[0]);
  }
}
