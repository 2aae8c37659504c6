import * as vscode from 'vscode';
import { readRecentEntries } from '../core/accounting/requestLog';
import type { ForwardKit } from '../core/proxy/forwardKit';
import { Setting, SETTINGS_SECTION } from './ids';
import type { Prompts } from './prompts';

/** Entries offered in the list: the last ones, newest first. */
const SHOWN = 200;

/**
 * "KeyRelay: Open Request Log": the last requests in a quick pick (method, path, status, model,
 * time, key label), the chosen one opened as a JSON document. With the log off it offers to turn
 * it on. Every window reads the same folder (global storage), so a following window shows what
 * the serving window logged.
 */
export async function openRequestLog(
  d: { prompts: Prompts; kit: ForwardKit },
  show: (name: string, body: unknown) => Promise<void>,
): Promise<void> {
  const dir = d.kit.current.requestLogDir;
  if (!dir) {
    const on = await d.prompts.info(
      'KeyRelay: the request log is off. Turn it on to record each request and its answer (keys and tokens redacted).',
      'Turn On',
    );
    if (on === 'Turn On') {
      await vscode.workspace
        .getConfiguration(SETTINGS_SECTION)
        .update(Setting.logRequests, true, vscode.ConfigurationTarget.Global);
    }
    return;
  }
  const entries = readRecentEntries(dir, SHOWN);
  if (entries.length === 0) {
    await d.prompts.info('KeyRelay: no request logged yet. Send one through the proxy, then open the log again.');
    return;
  }
  const items = entries.map(({ doc }) => ({
    label: `${String(doc.method)} ${String(doc.path)}`,
    description: `${String(doc.status)} · ${String(doc.model ?? '-')} · ${String(doc.ms)} ms`,
    detail: `${String(doc.at)}${doc.key ? ` · ${String(doc.key)}` : ''}${Number(doc.attempts) > 1 ? ` · ${String(doc.attempts)} attempts` : ''}`,
    doc,
  }));
  const pick = await d.prompts.quickPick(items, {
    title: 'KeyRelay: Request Log',
    placeHolder: `The last ${entries.length} requests, newest first`,
    matchOnDescription: true,
    matchOnDetail: true,
  });
  if (pick) await show(`/KeyRelay request ${String(pick.doc.at).replace(/[:]/g, '-')}.json`, pick.doc);
}
