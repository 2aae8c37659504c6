/**
 * Pure text edits that point coding assistants at KeyRelay. Each keeps the user's other content
 * and replaces only what KeyRelay wrote earlier (a marked block or named fields), so re-running
 * after a port change updates the endpoint in place. No YAML/TOML dependency: the edits are textual.
 */
import { jsonSyntaxProblem } from '../errors';

/** Where the assistant should send requests. */
export interface WiringTarget {
  /** `http://127.0.0.1:PORT`, no trailing slash, no `/v1`. */
  endpoint: string;
  token: string;
  model: string;
}

const BEGIN = '>>> keyrelay (managed by KeyRelay: edits inside this block are replaced)';
const END = '<<< keyrelay';

/** Replaces the text between the marker comments; returns undefined when there is no block. */
function replaceBlock(text: string, comment: string, body: string): string | undefined {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === `${comment} ${BEGIN}`);
  if (start < 0) return undefined;
  const end = lines.findIndex((l, i) => i > start && l.trim() === `${comment} ${END}`);
  if (end < 0)
    throw new Error(
      `The KeyRelay block that starts on line ${start + 1} has no end marker "${comment} ${END}"; fix or remove it first.`,
    );
  const indent = /^\s*/.exec(lines[start])![0];
  return [...lines.slice(0, start), ...block(comment, body, indent), ...lines.slice(end + 1)].join('\n');
}

function block(comment: string, body: string, indent: string): string[] {
  return [`${indent}${comment} ${BEGIN}`, ...body.split('\n').map((l) => indent + l), `${indent}${comment} ${END}`];
}

const yamlString = (s: string): string => JSON.stringify(s);
const ensureNewline = (s: string): string => (s === '' || s.endsWith('\n') ? s : `${s}\n`);

/**
 * `~/.continue/config.yaml`: a model entry with provider openai and apiBase `<endpoint>/v1`, as a
 * marked item of the top-level `models:` list (created when missing).
 */
export function wireContinue(existing: string | undefined, t: WiringTarget): string {
  const entry = [
    `- name: ${yamlString(`KeyRelay ${t.model}`)}`,
    '  provider: openai',
    `  model: ${yamlString(t.model)}`,
    `  apiBase: ${yamlString(`${t.endpoint}/v1`)}`,
    `  apiKey: ${yamlString(t.token)}`,
    '  roles:',
    '    - chat',
    '    - edit',
    '    - apply',
  ].join('\n');
  if (existing === undefined || existing.trim() === '') {
    return ['name: Local Assistant', 'version: 1.0.0', 'schema: v1', 'models:', ...block('#', entry, '  '), ''].join(
      '\n',
    );
  }
  const replaced = replaceBlock(existing, '#', entry);
  if (replaced !== undefined) return replaced;
  const lines = existing.split('\n');
  const at = lines.findIndex((l) => /^models:\s*(#.*)?$/.test(l));
  if (at >= 0) {
    // Items of one YAML sequence must share an indent: copy the first existing item's.
    const next = lines.slice(at + 1).find((l) => l.trim() !== '' && !l.trim().startsWith('#'));
    const indent = next && /^\s*- /.test(next) ? /^\s*/.exec(next)![0] : '  ';
    return [...lines.slice(0, at + 1), ...block('#', entry, indent), ...lines.slice(at + 1)].join('\n');
  }
  const empty = lines.findIndex((l) => /^models:\s*\[\s*\]\s*(#.*)?$/.test(l));
  if (empty >= 0)
    return [...lines.slice(0, empty), 'models:', ...block('#', entry, '  '), ...lines.slice(empty + 1)].join('\n');
  return `${ensureNewline(existing)}models:\n${block('#', entry, '  ').join('\n')}\n`;
}

/**
 * `~/.claude/settings.json`: the `env` block's `ANTHROPIC_BASE_URL` (no `/v1`: Claude Code adds it)
 * and `ANTHROPIC_AUTH_TOKEN`; every other key is kept. Throws on a file that is not a JSON object.
 */
export function wireClaudeCode(existing: string | undefined, t: Pick<WiringTarget, 'endpoint' | 'token'>): string {
  let json: Record<string, unknown> = {};
  if (existing !== undefined && existing.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(existing);
    } catch (err) {
      throw new Error(
        `settings.json is not valid JSON (${jsonSyntaxProblem(err, existing).problem}): fix it, then run the command again`,
      );
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('settings.json is not a JSON object');
    json = parsed as Record<string, unknown>;
  }
  const env =
    typeof json.env === 'object' && json.env !== null && !Array.isArray(json.env)
      ? (json.env as Record<string, unknown>)
      : {};
  json.env = { ...env, ANTHROPIC_BASE_URL: t.endpoint, ANTHROPIC_AUTH_TOKEN: t.token };
  return `${JSON.stringify(json, null, 2)}\n`;
}

/**
 * `~/.codex/config.toml`: a `[model_providers.keyrelay]` table speaking the Responses API, plus a
 * top-level `model_provider = "keyrelay"` unless the user already chose another provider there.
 */
export function wireCodex(existing: string | undefined, t: WiringTarget): string {
  const table = [
    '[model_providers.keyrelay]',
    'name = "KeyRelay"',
    `base_url = ${JSON.stringify(`${t.endpoint}/v1`)}`,
    `experimental_bearer_token = ${JSON.stringify(t.token)}`,
    'wire_api = "responses"',
  ].join('\n');
  let text = existing ?? '';
  const withTable = replaceBlock(text, '#', table);
  text = withTable ?? `${ensureNewline(text)}${text.trim() ? '\n' : ''}${block('#', table, '').join('\n')}\n`;
  // Top-level keys must come before the first table header in TOML; drop our old ones, then
  // add what the user has not set themselves.
  const HEAD = '# >>> keyrelay-default (managed by KeyRelay)';
  const HEAD_END = '# <<< keyrelay-default';
  let lines = text.split('\n');
  const hs = lines.indexOf(HEAD);
  const he = hs >= 0 ? lines.indexOf(HEAD_END, hs) : -1;
  if (he > hs) lines = [...lines.slice(0, hs), ...lines.slice(he + (lines[he + 1] === '' ? 2 : 1))];
  const firstTable = lines.findIndex((l) => /^\s*\[/.test(l));
  const topLevel = firstTable < 0 ? lines : lines.slice(0, firstTable);
  const head: string[] = [];
  if (!topLevel.some((l) => /^\s*model_provider\s*=/.test(l))) head.push('model_provider = "keyrelay"');
  if (!topLevel.some((l) => /^\s*model\s*=/.test(l))) head.push(`model = ${JSON.stringify(t.model)}`);
  if (head.length === 0) return lines.join('\n');
  return [HEAD, ...head, HEAD_END, '', ...lines].join('\n');
}

/** Top-level keys of `.aider.conf.yml` that KeyRelay sets. */
const AIDER_KEYS = ['openai-api-base', 'openai-api-key', 'model'];
const AIDER_SET_ASIDE = '# (set aside by KeyRelay, which sets it in the block below) ';

/**
 * `~/.aider.conf.yml`: Aider's OpenAI-compatible route (`openai-api-base` `<endpoint>/v1`,
 * `openai-api-key`, `model: openai/<model>`) as a marked block of top-level keys. YAML forbids a
 * key twice, so the user's own lines for those keys are commented out, not lost.
 */
export function wireAider(existing: string | undefined, t: WiringTarget): string {
  const body = [
    `openai-api-base: ${yamlString(`${t.endpoint}/v1`)}`,
    `openai-api-key: ${yamlString(t.token)}`,
    `model: ${yamlString(t.model.startsWith('openai/') ? t.model : `openai/${t.model}`)}`,
  ].join('\n');
  const lines = (existing ?? '').split('\n');
  const start = lines.findIndex((l) => l.trim() === `# ${BEGIN}`);
  const end = start < 0 ? -1 : lines.findIndex((l, i) => i > start && l.trim() === `# ${END}`);
  const ours = new RegExp(`^(${AIDER_KEYS.join('|')})\\s*:`);
  const kept = lines
    .map((l, i) => ((i >= start && i <= end) || !ours.test(l) ? l : `${AIDER_SET_ASIDE}${l}`))
    .join('\n');
  const replaced = replaceBlock(kept, '#', body);
  if (replaced !== undefined) return replaced;
  return `${ensureNewline(kept)}${kept.trim() ? '\n' : ''}${block('#', body, '').join('\n')}\n`;
}

/** The values to paste into Cline / Roo Code's "OpenAI Compatible" provider. */
export function clineSetup(t: WiringTarget): Array<{ label: string; value: string }> {
  return [
    { label: 'API Provider', value: 'OpenAI Compatible' },
    { label: 'Base URL', value: `${t.endpoint}/v1` },
    { label: 'API Key', value: t.token },
    { label: 'Model ID', value: t.model },
  ];
}
