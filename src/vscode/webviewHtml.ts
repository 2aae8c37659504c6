import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

/**
 * A webview page of ours: `dist/<name>.js` and `dist/<name>.css` only, under a CSP that allows
 * nothing else (no remote resource, no inline script without the nonce).
 */
export function webviewHtml(webview: vscode.Webview, dist: vscode.Uri, name: string, title: string): string {
  const nonce = randomBytes(16).toString('base64');
  const js = webview.asWebviewUri(vscode.Uri.joinPath(dist, `${name}.js`));
  const css = webview.asWebviewUri(vscode.Uri.joinPath(dist, `${name}.css`));
  const csp = [
    "default-src 'none'",
    `style-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
    `img-src ${webview.cspSource} data:`,
    `font-src ${webview.cspSource}`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="${css.toString()}">
<title>${title}</title>
</head>
<body>
<div id="app"></div>
<script nonce="${nonce}" src="${js.toString()}"></script>
</body>
</html>`;
}

/** What `openWebviewPanel` opens: the panel's type and title, and the page's name in dist/. */
export interface WebviewPage {
  viewType: string;
  title: string;
  name: string;
  /** Keep the page alive while its tab is hidden (a page that holds what it showed). */
  retainContextWhenHidden?: boolean;
}

/**
 * Opens one of our pages in a new panel beside the editor: scripts on, resources from dist/ only,
 * KeyRelay's icon, the page's html. The caller wires its messages and disposal.
 */
export function openWebviewPanel(extensionUri: vscode.Uri, page: WebviewPage): vscode.WebviewPanel {
  const dist = vscode.Uri.joinPath(extensionUri, 'dist');
  const panel = vscode.window.createWebviewPanel(page.viewType, page.title, vscode.ViewColumn.Active, {
    enableScripts: true,
    ...(page.retainContextWhenHidden ? { retainContextWhenHidden: true } : {}),
    localResourceRoots: [dist],
  });
  panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'keyrelay.svg');
  panel.webview.html = webviewHtml(panel.webview, dist, page.name, page.title);
  return panel;
}
