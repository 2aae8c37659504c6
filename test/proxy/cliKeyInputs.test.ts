import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { FakeUpstream } from '../fakes/upstreamServer';
import { TOKEN } from './harness';

const CLI = resolve(__dirname, '../../../dist/cli.js');

/** Fake keys; `MIDDLE` is in every one, so any leak of key text shows up in the output. */
const MIDDLE = 'keyinputs0001aBcDeF';
const KEY = `sk-test-${MIDDLE}GhIjKlMnOpQr`;
const KEY2 = `sk-test-${MIDDLE}StUvWxYzAbCd`;
const cut = (at: number, insert: string): string => KEY.slice(0, at) + insert + KEY.slice(at);
const utf16le = (s: string): Buffer => Buffer.from(s, 'utf16le');
const utf16be = (s: string): Buffer => Buffer.from(s, 'utf16le').swap16();

/** A clean environment (no stray *_API_KEY from the machine) plus `env`. */
function environment(env: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KEYRELAY_TOKEN: TOKEN, ...env };
}

/**
 * One bad input. `files` are written into the test's directory; `args` name them by file name.
 * `why` must match the one line on stderr (the problem), `fix` what to do about it.
 */
interface Row {
  name: string;
  files?: Record<string, string | Buffer>;
  env?: Record<string, string>;
  args: string[];
  why: RegExp;
  fix: RegExp;
}

const config = (o: object): string => JSON.stringify({ proxy: { port: 0 }, ...o });
const COPY_AGAIN = /copy the (key again|whole key) from the provider's page/;
const WRITE_KEYS = /Write one key per line, OPENAI_API_KEY=… lines or \{"apiKeys".*or leave out --keys-file\.$/;

const ROWS: Row[] = [
  {
    name: 'config keys[]: an unknown field (baseURL)',
    files: { 'c.json': config({ keys: [{ provider: 'openai', key: KEY, baseURL: 'http://127.0.0.1:9/v1' }] }) },
    args: ['--config', 'c.json'],
    why: /c\.json: keys\[0\]: unknown field "baseURL"/,
    fix: /\(did you mean "baseUrl"\?\)\.$/,
  },
  {
    name: 'config providers[]: an unknown field (keyprefix)',
    files: { 'c.json': config({ providers: [{ id: 'gw', shape: 'openai', baseUrl: 'http://x/v1', keyprefix: 'g' }] }) },
    args: ['--config', 'c.json'],
    why: /c\.json: providers\[0\]: Provider "gw": unknown field "keyprefix"/,
    fix: /\(did you mean "keyPrefix"\?\)\.$/,
  },
  {
    name: 'config keys[]: a NUL in the key',
    files: { 'c.json': config({ keys: [{ provider: 'openai', key: cut(12, '\u0000') }] }) },
    args: ['--config', 'c.json'],
    why: /keys\[0\]: the key sk-…OpQr has a NUL character \(U\+0000\) in it/,
    fix: COPY_AGAIN,
  },
  {
    name: 'config keys[]: a right-to-left override (U+202E) in the key',
    files: { 'c.json': config({ keys: [{ provider: 'openai', key: cut(12, '\u202e') }] }) },
    args: ['--config', 'c.json'],
    why: /keys\[0\]: the key sk-…OpQr has an invisible right-to-left override \(U\+202E\)/,
    fix: COPY_AGAIN,
  },
  {
    name: 'config keys[]: implausibly short key text',
    files: { 'c.json': config({ keys: [{ provider: 'openai', key: 'sk-1' }] }) },
    args: ['--config', 'c.json'],
    why: /keys\[0\]: the key … is 4 characters long, too short for an API key/,
    fix: COPY_AGAIN,
  },
  {
    name: 'config apiKeys: a direction control in the key',
    files: { 'c.json': config({ apiKeys: [{ key: cut(12, '\u2067'), url: 'https://api.openai.com/v1' }] }) },
    args: ['--config', 'c.json'],
    why: /c\.json: apiKeys\[0\]: the key sk-…OpQr has an invisible direction control \(U\+2067\)/,
    fix: COPY_AGAIN,
  },
  {
    name: 'keys file (.env): a right-to-left override, the same words as the config',
    files: { 'k.env': `OPENAI_API_KEY=${cut(12, '\u202e')}\n` },
    args: ['--keys-file', 'k.env'],
    why: /Keys file .*k\.env:1: OPENAI_API_KEY: the key sk-…OpQr has an invisible right-to-left override/,
    fix: COPY_AGAIN,
  },
  {
    name: 'keys file (one per line): a NUL in the key',
    files: { 'k.txt': `${cut(12, '\u0000')}\n${KEY2}\n` },
    args: ['--keys-file', 'k.txt'],
    why: /Keys file .*k\.txt:1: the key sk-…OpQr has a NUL character \(U\+0000\)/,
    fix: COPY_AGAIN,
  },
  {
    name: 'keys file (.env): implausibly short key text',
    files: { 'k.env': 'OPENAI_API_KEY=sk-1\n' },
    args: ['--keys-file', 'k.env'],
    why: /Keys file .*k\.env:1: OPENAI_API_KEY: the key … is 4 characters long, too short/,
    fix: COPY_AGAIN,
  },
  {
    name: 'keys file (JSON "keys"): an unknown field',
    files: { 'k.json': JSON.stringify({ keys: [{ provider: 'openai', key: KEY, modles: ['gpt-4o'] }] }) },
    args: ['--keys-file', 'k.json'],
    why: /Keys file .*k\.json:1: keys\[0\]: unknown field "modles"/,
    fix: /\(did you mean "models"\?\)\.$/,
  },
  {
    name: 'environment: a right-to-left override in OPENAI_API_KEY',
    env: { OPENAI_API_KEY: cut(12, '\u202e') },
    args: [],
    why: /Environment variable OPENAI_API_KEY: the key sk-…OpQr has an invisible right-to-left override/,
    fix: /fix the variable or unset it\.$/,
  },
  {
    name: 'environment: implausibly short OPENAI_API_KEY_1',
    env: { OPENAI_API_KEY_1: 'sk-1' },
    args: [],
    why: /Environment variable OPENAI_API_KEY_1: the key … is 4 characters long, too short/,
    fix: /fix the variable or unset it\.$/,
  },
  {
    name: 'keys file (.env): a quoted value wrapped over two lines',
    files: { 'k.env': `OPENAI_API_KEY="${KEY.slice(0, 20)}\n${KEY.slice(20)}"\n` },
    args: ['--keys-file', 'k.env'],
    why: /k\.env:1: OPENAI_API_KEY: the key sk-…OpQr has a line break \(U\+000A\) in it/,
    fix: /on one line\.$/,
  },
  {
    name: 'keys file (.env): a quote never closed',
    files: { 'k.env': `OPENAI_API_KEY="${KEY}\nGROQ_API_KEY=gsk_${MIDDLE}\n` },
    args: ['--keys-file', 'k.env'],
    why: /k\.env:1: OPENAI_API_KEY: the quote that opens its value is never closed/,
    fix: /close it on the same line\.$/,
  },
  {
    name: 'keys file: empty',
    files: { 'empty.txt': '' },
    args: ['--keys-file', 'empty.txt'],
    why: /Keys file .*empty\.txt gave no key: the file is empty\./,
    fix: WRITE_KEYS,
  },
  {
    name: 'keys file: only comments',
    files: { 'k.env': '# my keys\n\n# OPENAI_API_KEY=\n' },
    args: ['--keys-file', 'k.env'],
    why: /Keys file .*k\.env gave no key: it holds only comments and blank lines\./,
    fix: WRITE_KEYS,
  },
  {
    name: 'keys file: truncated JSON',
    files: { 'k.json': `{"apiKeys": [{"key": "${KEY}"` },
    args: ['--keys-file', 'k.json'],
    why: /Keys file .*k\.json gave no key: line 1: the JSON does not parse here: check quotes and commas\./,
    fix: WRITE_KEYS,
  },
  {
    name: 'keys file: {"apiKeys": []}',
    files: { 'k.json': '{"apiKeys": []}' },
    args: ['--keys-file', 'k.json'],
    why: /Keys file .*k\.json gave no key: line 1: the "apiKeys" list is empty/,
    fix: WRITE_KEYS,
  },
  {
    name: 'keys file: words, no key',
    files: { 'k.txt': 'paste your keys here\n' },
    args: ['--keys-file', 'k.txt'],
    why: /Keys file .*k\.txt gave no key: line 1: 4 words that are not API keys\./,
    fix: WRITE_KEYS,
  },
];

/** The config and keys-file rows of issue 11, run against the built CLI as a user runs it. */
suite('the CLI on bad keys and key files: one line, exit 2', () => {
  let dir: string;
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'keyrelay-keyinputs-'));
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  for (const row of ROWS) {
    test(row.name, () => {
      for (const [name, text] of Object.entries(row.files ?? {})) writeFileSync(join(dir, name), text);
      const args = row.args.map((a) => (row.files && a in row.files ? join(dir, a) : a));
      // Bounded: a CLI that started serving instead of refusing is killed after 10 s and the row fails.
      const r = spawnSync(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', join(dir, 'data'), ...args], {
        env: environment(row.env ?? {}),
        encoding: 'utf8',
        timeout: 10_000,
        killSignal: 'SIGKILL',
      });
      const out = `${r.stdout}${r.stderr}`;
      assert.equal(r.status, 2, `exit code 2, got ${r.status} (${r.signal ?? ''}):\n${out}`);
      assert.equal(r.stdout, '');
      const lines = r.stderr.split('\n');
      assert.equal(lines.length, 2, `exactly one line on stderr:\n${r.stderr}`);
      assert.equal(lines[1], '');
      assert.match(lines[0], /^keyrelay: /);
      assert.match(lines[0], row.why);
      assert.match(lines[0], row.fix);
      assert.doesNotMatch(out, /^\s+at /m, 'no stack trace');
      assert.ok(!out.includes(MIDDLE) && !out.includes(TOKEN), `no key text:\n${out}`);
      assert.doesNotMatch(out, /(?!\n)[\p{Cc}\p{Cf}]/u, 'no control or direction character echoed');
    });
  }
});

/** Files people really have: written by PowerShell (UTF-16), Notepad (BOM), dotenv (multi-line lists). */
suite('the CLI reads keys files in every encoding editors write', () => {
  let dir: string;
  let fake: FakeUpstream;
  setup(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyrelay-keyfiles-'));
    fake = await FakeUpstream.start();
  });
  teardown(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const ENV_TEXT = `# keys\nMOCK_API_KEY=${KEY}\n`;
  const cases: Array<[string, Buffer | string, string[]]> = [
    ['UTF-16 LE with a BOM (PowerShell >)', Buffer.concat([Buffer.from([0xff, 0xfe]), utf16le(ENV_TEXT)]), [KEY]],
    ['UTF-16 BE with a BOM', Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be(ENV_TEXT)]), [KEY]],
    ['UTF-16 LE without a BOM', utf16le(ENV_TEXT), [KEY]],
    ['UTF-8 with a BOM (Notepad)', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(ENV_TEXT)]), [KEY]],
    ['a quoted multi-line list, as dotenv reads it', `MOCK_KEYS="${KEY}\n  ${KEY2}"\n`, [KEY, KEY2]],
  ];
  for (const [name, bytes, keys] of cases) {
    test(`${name}: every key is loaded whole and used upstream`, async () => {
      const cfg = join(dir, 'c.json');
      writeFileSync(cfg, config({ providers: [{ id: 'mock', shape: 'openai', baseUrl: `${fake.url}/v1` }] }));
      writeFileSync(join(dir, 'k.env'), bytes);
      const args = ['serve', '--config', cfg, '--keys-file', join(dir, 'k.env'), '--data-dir', join(dir, 'data')];
      const child = spawn(process.execPath, [CLI, ...args], {
        env: environment({}),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      let out = '';
      child.stderr.on('data', (d) => (out += d));
      try {
        const endpoint = await new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no banner within 10 s:\n${out}`)), 10_000);
          child.on('exit', () => reject(new Error(`the CLI exited:\n${out}`)));
          child.stdout.on('data', (d) => {
            out += d;
            const m = /KeyRelay listening on (http:\/\/\S+)/.exec(out);
            if (m && /key\(s\) for/.test(out)) {
              clearTimeout(timer);
              resolve(m[1]);
            }
          });
        });
        assert.match(out, new RegExp(`${keys.length} key\\(s\\) for mock`));
        for (let i = 0; i < keys.length; i++) {
          const res = await request(`${endpoint}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'mock/gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
          });
          assert.equal(res.statusCode, 200);
          await res.body.dump();
        }
        assert.deepEqual(fake.requests.map((q) => q.key).sort(), [...keys].sort());
        assert.ok(!out.includes(MIDDLE), 'no key text in the output');
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
    });
  }
});
