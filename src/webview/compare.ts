/**
 * The "KeyRelay: Compare Models" webview: a prompt, a model picker (each provider's models plus
 * typed ids), Run and Cancel, and one column per model that fills as its answer streams in, with
 * time to first token, total time, tokens, cost, the key used and any error. It only renders and
 * asks: the extension runs the fan-out and sends the chunks.
 */
import './base.css';
import './compare.css';
import type { CompareResult, CompareToExtension, CompareToWebview } from '../core/view/compareProtocol';
import { count, el, usd } from './format';

interface VsCodeApi {
  postMessage(m: CompareToExtension): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const app = document.getElementById('app') ?? document.body;

const form = el('form', 'ask');
const promptBox = el('textarea', 'prompt');
promptBox.id = 'prompt';
promptBox.rows = 4;
promptBox.placeholder = 'Prompt (Ctrl+Enter runs)';
promptBox.setAttribute('aria-label', 'Prompt');
const picker = el('fieldset', 'models');
picker.id = 'models';
picker.append(el('legend', undefined, 'Models'));
const typed = el('input', 'typed');
typed.id = 'typed-models';
typed.placeholder = 'More model ids, comma-separated (e.g. openai/gpt-4o)';
typed.setAttribute('aria-label', 'More model ids, comma-separated');
const run = el('button', 'primary', 'Run');
run.id = 'run';
run.type = 'submit';
const cancel = el('button', undefined, 'Cancel');
cancel.id = 'cancel';
cancel.type = 'button';
cancel.disabled = true;
const status = el('span', 'status');
status.id = 'status';
status.setAttribute('role', 'status');
const actions = el('div', 'actions');
actions.append(run, cancel, status);
form.append(promptBox, picker, typed, actions);
const columns = el('section', 'columns');
columns.id = 'columns';
app.append(el('h1', undefined, 'Compare Models'), form, columns);

interface Column {
  root: HTMLElement;
  meta: HTMLElement;
  output: HTMLElement;
  error: HTMLElement;
}
let cols: Column[] = [];

function chosenModels(): string[] {
  const ticked = [...picker.querySelectorAll<HTMLInputElement>('input[type=checkbox]:checked')].map((c) => c.value);
  const extra = typed.value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return [...new Set([...ticked, ...extra])];
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const models = chosenModels();
  if (promptBox.value.trim() === '' || models.length === 0) {
    status.textContent = 'Write a prompt and pick at least one model.';
    return;
  }
  vscode.postMessage({ type: 'run', prompt: promptBox.value, models });
});
promptBox.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) form.requestSubmit();
});
cancel.addEventListener('click', () => vscode.postMessage({ type: 'cancel' }));

function showModels(models: string[]): void {
  for (const old of picker.querySelectorAll('label')) old.remove();
  models.forEach((m, i) => {
    const label = el('label', 'model');
    const box = el('input');
    box.type = 'checkbox';
    box.value = m;
    box.checked = i < 2;
    label.append(box, document.createTextNode(` ${m}`));
    picker.append(label);
  });
  if (models.length === 0) picker.append(el('label', 'hint', 'No model lists yet: type the model ids below.'));
}

function start(models: string[]): void {
  columns.replaceChildren();
  cols = models.map((m, index) => {
    const root = el('article', 'column');
    root.dataset.model = m;
    root.dataset.state = 'running';
    const head = el('header');
    const copy = el('button', undefined, 'Copy');
    copy.addEventListener('click', () => vscode.postMessage({ type: 'copy', index }));
    const open = el('button', undefined, 'Open as Document');
    open.addEventListener('click', () => vscode.postMessage({ type: 'open', index }));
    head.append(el('h2', undefined, m), copy, open);
    const meta = el('div', 'meta', 'waiting for the first token…');
    const output = el('pre', 'output');
    output.setAttribute('aria-live', 'polite');
    const error = el('div', 'error');
    error.hidden = true;
    root.append(head, meta, output, error);
    columns.append(root);
    return { root, meta, output, error };
  });
  run.disabled = true;
  cancel.disabled = false;
  status.textContent = `Running ${models.length} model${models.length === 1 ? '' : 's'}…`;
}

function finish(c: Column, r: CompareResult): void {
  c.root.dataset.state = r.error === null ? 'ok' : 'failed';
  if (r.output !== c.output.textContent) c.output.textContent = r.output;
  const tokens = r.usage ? `${count(r.usage.input_tokens ?? 0)} in / ${count(r.usage.output_tokens ?? 0)} out` : '—';
  const parts = [
    `first token ${r.ttft === null ? '—' : `${r.ttft} ms`}`,
    `total ${r.duration} ms`,
    `tokens ${tokens}`,
    `cost ${usd(r.cost)}`,
    `key ${r.key_label ?? '—'}${r.key ? ` (${r.key})` : ''}`,
  ];
  c.meta.textContent = parts.join(' · ');
  c.error.hidden = r.error === null;
  c.error.textContent = r.error ?? '';
}

window.addEventListener('message', (e: MessageEvent<CompareToWebview>) => {
  const m = e.data;
  if (m.type === 'models') showModels(m.models);
  else if (m.type === 'start') start(m.models);
  else if (m.type === 'delta' && cols[m.index]) {
    const c = cols[m.index];
    if (c.output.textContent === '') c.meta.textContent = 'streaming…';
    c.output.textContent += m.delta;
  } else if (m.type === 'result' && cols[m.index]) finish(cols[m.index], m.result);
  else if (m.type === 'done' || m.type === 'error') {
    run.disabled = false;
    cancel.disabled = true;
    status.textContent =
      m.type === 'done' ? `${m.successful} answered, ${m.failed} failed in ${m.totalMs} ms.` : m.message;
  }
});

vscode.postMessage({ type: 'ready' });
