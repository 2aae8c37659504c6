import * as vscode from 'vscode';
import { parseFanOutInput, runModels } from '../core/proxy/fanOut';
import type { FanOutEvent, FanOutSummary } from '../core/proxy/fanOut';
import type { ForwardDeps } from '../core/proxy/requestContext';
import type { Logger } from '../core/types';
import type { CompareToExtension, CompareToWebview } from '../core/view/compareProtocol';
import { openWebviewPanel } from './webviewHtml';

/** The webview panel's type id. */
export const COMPARE_VIEW_TYPE = 'keyRelay.compareModels';

/**
 * "KeyRelay: Compare Models": one prompt to several models side by side. The page (src/webview/
 * compare.ts) asks; this runs the core's fan-out (the same as `POST /keyrelay/run`, through this
 * window's forwarder: each model its own key, failover per model) and streams chunks back.
 */
export class ComparePanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private abort: AbortController | undefined;
  private outputs: string[] = [];
  private models: string[] = [];
  /** The last finished run (host tests read it). */
  lastSummary: FanOutSummary | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly deps: () => ForwardDeps,
    private readonly modelIds: () => Promise<readonly string[]>,
    private readonly log: Logger,
  ) {}

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  open(): void {
    if (this.panel) {
      this.panel.reveal();
      return;
    }
    const panel = openWebviewPanel(this.extensionUri, {
      viewType: COMPARE_VIEW_TYPE,
      title: 'Compare Models',
      name: 'compare',
      retainContextWhenHidden: true,
    });
    this.panel = panel;
    panel.webview.onDidReceiveMessage((m: CompareToExtension) => void this.onMessage(m));
    panel.onDidDispose(() => {
      this.abort?.abort();
      this.panel = undefined;
    });
  }

  /** Runs one comparison (what the Run button does); resolves with the summary. */
  async run(prompt: string, models: string[]): Promise<FanOutSummary> {
    this.abort?.abort();
    const abort = (this.abort = new AbortController());
    const input = parseFanOutInput({ prompt, models });
    this.models = input.models;
    this.outputs = input.models.map(() => '');
    this.post({ type: 'start', models: input.models });
    const summary = await runModels(this.deps(), input, abort.signal, (e) => this.relay(e));
    if (this.abort === abort) this.abort = undefined;
    this.lastSummary = summary;
    this.post({
      type: 'done',
      successful: summary.successful,
      failed: summary.failed,
      totalMs: summary.total_duration,
    });
    return summary;
  }

  private relay(e: FanOutEvent): void {
    if (e.event === 'delta') {
      this.outputs[e.data.index] += e.data.delta;
      this.post({ type: 'delta', index: e.data.index, delta: e.data.delta });
    } else {
      this.outputs[e.data.index] = e.data.output;
      this.post({ type: 'result', index: e.data.index, result: e.data });
    }
  }

  private async onMessage(m: CompareToExtension): Promise<void> {
    try {
      if (m.type === 'ready') this.post({ type: 'models', models: [...(await this.modelIds())] });
      else if (m.type === 'run') await this.run(m.prompt, m.models);
      else if (m.type === 'cancel') this.abort?.abort();
      else if (m.type === 'copy' && this.outputs[m.index] !== undefined) {
        await vscode.env.clipboard.writeText(this.outputs[m.index]);
      } else if (m.type === 'open' && this.outputs[m.index] !== undefined) {
        const header = `<!-- ${this.models[m.index]} -->\n\n`;
        const doc = await vscode.workspace.openTextDocument({
          content: header + this.outputs[m.index],
          language: 'markdown',
        });
        await vscode.window.showTextDocument(doc, { preview: false });
      }
    } catch (err) {
      this.log.warn(`Compare Models: ${(err as Error).message}`);
      this.post({ type: 'error', message: (err as Error).message });
    }
  }

  private post(m: CompareToWebview): void {
    void this.panel?.webview.postMessage(m);
  }

  dispose(): void {
    this.abort?.abort();
    this.panel?.dispose();
  }
}
