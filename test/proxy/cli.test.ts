import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { request } from 'undici';
import { FakeUpstream } from '../fakes/upstreamServer';
import { endpointOf, start, untilOutput } from './cliProcess';
import type { Run } from './cliProcess';
import { assertNoKeys, OPENAI_KEYS } from './harness';

/** `keyrelay serve` as a user runs it (DESIGN §9). */
suite('the headless CLI', () => {
  let dir: string;
  let fake: FakeUpstream;
  const runs: Run[] = [];

  setup(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyrelay-cli-'));
    fake = await FakeUpstream.start();
  });
  teardown(async () => {
    for (const r of runs.splice(0))
      if (r.child.exitCode === null) {
        r.child.kill('SIGKILL');
        await r.exited;
      }
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function config(extra: Record<string, unknown> = {}): string {
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        proxy: { port: 0 },
        providers: [{ id: 'mock', name: 'Mock', shape: 'openai', baseUrl: `${fake.url}/v1`, auth: 'bearer' }],
        ...extra,
      }),
    );
    return file;
  }

  test('--help documents every flag', async () => {
    const r = start(['--help']);
    runs.push(r);
    assert.equal(await r.exited, 0);
    for (const flag of [
      '--port',
      '--host',
      '--config',
      '--keys-file',
      '--data-dir',
      '--token',
      '--strategy',
      '--log-level',
      'status',
      '--json',
    ]) {
      assert.ok(r.stdout.includes(flag), flag);
    }
  });

  test('serves with keys from a keys file, persists state with mode 0600 and no key text, stops cleanly on SIGTERM', async () => {
    const keysFile = join(dir, 'factory_keys.txt');
    writeFileSync(keysFile, `${OPENAI_KEYS.join('\n')}\n${OPENAI_KEYS[0]}\n`);
    const data = join(dir, 'data');
    const r = start(
      [
        'serve',
        '--config',
        config({ keys: [] }),
        '--keys-file',
        keysFile,
        '--data-dir',
        data,
        '--token',
        'kr-cli-test-token',
        '--log-level',
        'trace',
      ],
      {},
    );
    runs.push(r);
    const endpoint = await endpointOf(r);
    assert.match(r.stdout, /Continue/);
    assert.match(r.stdout, /Claude Code/);
    assert.match(r.stdout, /Codex/);
    assert.match(r.stdout, /Cline/);
    const sdk = new OpenAI({ baseURL: `${endpoint}/v1`, apiKey: 'kr-cli-test-token', maxRetries: 0 });
    // The keys file holds bare keys: they belong to the provider detected by prefix (openai), so
    // route them with a model whose provider prefix is explicit.
    const status = await request(`${endpoint}/keyrelay/status`, {
      headers: { authorization: 'Bearer kr-cli-test-token' },
    });
    const body = await status.body.text();
    assertNoKeys(body, 'status');
    assert.equal((JSON.parse(body) as { keys: unknown[] }).keys.length, 3, 'the duplicate was dropped');
    assert.ok(sdk);
    r.child.kill('SIGTERM');
    assert.equal(await r.exited, 0);
    const stateFile = join(data, 'state.json');
    assert.equal(statSync(stateFile).mode & 0o777, 0o600);
    assertNoKeys(readFileSync(stateFile, 'utf8'), 'state.json');
    assertNoKeys(r.stdout + r.stderr, 'CLI output');
    assert.match(r.stderr, /duplicate/);
  });

  test('keys from the environment and config; requests go through with a pool key; state survives a restart', async () => {
    const data = join(dir, 'data');
    const cfg = config({
      keys: [
        { provider: 'mock', key: OPENAI_KEYS[0], label: 'one' },
        { provider: 'mock', key: OPENAI_KEYS[1] },
      ],
    });
    let r = start(['serve', '--config', cfg, '--data-dir', data]);
    runs.push(r);
    let endpoint = await endpointOf(r);
    const token = readFileSync(join(data, 'token'), 'utf8').trim();
    assert.equal(statSync(join(data, 'token')).mode & 0o777, 0o600);
    const sdk = new OpenAI({ baseURL: `${endpoint}/v1`, apiKey: token, maxRetries: 0 });
    for (let i = 0; i < 4; i++)
      await sdk.chat.completions.create({ model: 'mock/gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    assert.deepEqual(Object.values(fake.countsByKey()).sort(), [2, 2]);
    r.child.kill('SIGINT');
    assert.equal(await r.exited, 0);

    r = start(['serve', '--config', cfg, '--data-dir', data]);
    runs.push(r);
    endpoint = await endpointOf(r);
    const status = await request(`${endpoint}/keyrelay/status`, { headers: { authorization: `Bearer ${token}` } });
    const json = (await status.body.json()) as { totals: { requests: number } };
    assert.equal(json.totals.requests, 4, 'stats survived the restart');
  });

  test('one gateway key under an OpenAI-shaped and an Anthropic-shaped provider serves both (not a duplicate)', async () => {
    const data = join(dir, 'data-gw');
    const cfg = config({
      providers: [
        { id: 'mock', name: 'Mock', shape: 'openai', baseUrl: `${fake.url}/v1`, auth: 'bearer' },
        { id: 'mockant', name: 'Mock Anthropic', shape: 'anthropic', baseUrl: fake.anthropicBase, auth: 'x-api-key' },
      ],
      keys: [
        { provider: 'mock', key: OPENAI_KEYS[0] },
        { provider: 'mockant', key: OPENAI_KEYS[0] },
      ],
    });
    const r = start(['serve', '--config', cfg, '--data-dir', data]);
    runs.push(r);
    const endpoint = await endpointOf(r);
    const token = readFileSync(join(data, 'token'), 'utf8').trim();
    const sdk = new OpenAI({ baseURL: `${endpoint}/v1`, apiKey: token, maxRetries: 0 });
    await sdk.chat.completions.create({ model: 'mock/gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    const anthropic = new Anthropic({ baseURL: endpoint, apiKey: token, maxRetries: 0 });
    const m = await anthropic.messages.create({
      model: 'mockant/claude-sonnet-4-6',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(m.type, 'message');
    assert.deepEqual(
      fake.requests.map((q) => [q.shape, q.key]),
      [
        ['openai', OPENAI_KEYS[0]],
        ['anthropic', OPENAI_KEYS[0]],
      ],
    );
    assert.doesNotMatch(r.stdout + r.stderr, /duplicate/);
    assertNoKeys(r.stdout + r.stderr, 'CLI output');
  });

  test('no keys: starts in fallback mode and says so', async () => {
    const r = start(['serve', '--port', '0', '--data-dir', join(dir, 'd')]);
    runs.push(r);
    await endpointOf(r);
    assert.match(r.stdout, /fallback mode/);
  });

  test('an invalid config file: exit 2 with a message naming the field', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ proxy: { port: 'eighty' } }));
    const r = start(['serve', '--config', file, '--data-dir', join(dir, 'd')]);
    runs.push(r);
    assert.equal(await r.exited, 2);
    assert.match(r.stderr, /"port" must be an integer/);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ "keys": [ { "provider": "openai", "key": "sk-x" } ');
    const r2 = start(['serve', '--config', broken, '--data-dir', join(dir, 'd')]);
    runs.push(r2);
    assert.equal(await r2.exited, 2);
    assert.match(r2.stderr, /not valid JSON/);
    // Node's parser quotes the text around the error: none of it may reach the terminal.
    writeFileSync(broken, `{ "keys": [ { "provider": "openai", "key": "${OPENAI_KEYS[0]}" },] }`);
    const r3 = start(['serve', '--config', broken, '--data-dir', join(dir, 'd')]);
    runs.push(r3);
    assert.equal(await r3.exited, 2);
    assert.match(r3.stderr, /not valid JSON: Unexpected token/);
    assert.ok(!r3.stderr.includes(OPENAI_KEYS[0].slice(-6)), r3.stderr);
  });

  test('status: the keys of a running proxy, masked; --json; one-line errors for a wrong token or no proxy', async () => {
    const data = join(dir, 'data');
    const cfg = config({
      keys: OPENAI_KEYS.map((key, i) => ({
        provider: 'mock',
        key,
        label: `key-${i}`,
        ...(i === 2 ? { account: 'team' } : {}),
      })),
    });
    const r = start(['serve', '--config', cfg, '--data-dir', data]);
    runs.push(r);
    const endpoint = await endpointOf(r);
    const port = new URL(endpoint).port;
    const token = readFileSync(join(data, 'token'), 'utf8').trim();
    fake.setKeyBehaviour(OPENAI_KEYS[1], { kind: 'status', status: 429, headers: { 'retry-after': '30' } });
    const sdk = new OpenAI({ baseURL: `${endpoint}/v1`, apiKey: token, maxRetries: 0 });
    for (let i = 0; i < 3; i++)
      await sdk.chat.completions.create({ model: 'mock/gpt-4o', messages: [{ role: 'user', content: 'hi' }] });

    // The token from the data directory, as `serve` wrote it.
    const s = start(['status', '--port', port, '--data-dir', data]);
    runs.push(s);
    assert.equal(await s.exited, 0, s.stderr);
    const lines = s.stdout.split('\n');
    // The 429 cools key-1 for that model only (DESIGN §3): it serves other models but not every
    // one, so it is not counted as usable. Three client requests, one of which took two attempts.
    assert.match(
      lines[0],
      /^KeyRelay \S+ at http:\/\/127\.0\.0\.1:\d+ · round-robin · 2\/3 keys usable · 3 requests today$/,
    );
    assert.ok(lines.includes('Mock · 2/3 usable'), s.stdout);
    assert.match(
      s.stdout,
      /^ {2}key-1 +sk-…\w{4} +active, gpt-4o cooling (29|30)s +0 today +0% ok +HTTP 429 requests: Rate limit reached/m,
    );
    assert.match(s.stdout, /^ {2}key-0 +sk-…\w{4} +active +\d today +100% ok$/m);
    assert.match(s.stdout, /^ {2}\[team\] key-2 +sk-…\w{4} +active/m);
    assertNoKeys(s.stdout + s.stderr, 'status output');
    assert.ok(!s.stdout.includes(token), 'nor the token');

    const j = start(['status', '--port', port, '--json'], { KEYRELAY_TOKEN: token });
    runs.push(j);
    assert.equal(await j.exited, 0, j.stderr);
    const doc = JSON.parse(j.stdout) as { keys: Array<{ label: string; state: string }> };
    assert.deepEqual(
      doc.keys.map((k) => [k.label, k.state]),
      [
        ['key-0', 'active'],
        ['key-1', 'active'],
        ['key-2', 'active'],
      ],
    );
    assert.ok(
      (doc.keys[1] as unknown as { modelCooldowns: Record<string, number> }).modelCooldowns['gpt-4o'] > Date.now(),
    );

    const wrong = start(['status', '--port', port, '--token', 'kr-not-it']);
    runs.push(wrong);
    assert.equal(await wrong.exited, 1);
    assert.match(
      wrong.stderr,
      /^keyrelay: the KeyRelay on port \d+ does not know this access token \(token from --token\); nothing was sent to it\. Pass the right port with --port, or the proxy's token with --token or KEYRELAY_TOKEN/,
    );

    r.child.kill('SIGTERM');
    assert.equal(await r.exited, 0);
    const none = start(['status', '--port', port, '--data-dir', data]);
    runs.push(none);
    assert.equal(await none.exited, 1);
    assert.match(
      none.stderr,
      new RegExp(`^keyrelay: Nothing listens on 127\\.0\\.0\\.1:${port}\\. Start it with "keyrelay serve"`),
    );
  });

  test('status --watch redraws the table every second with sparklines, proving the token each time', async () => {
    const data = join(dir, 'data');
    const cfg = config({ keys: OPENAI_KEYS.map((key, i) => ({ provider: 'mock', key, label: `key-${i}` })) });
    const r = start(['serve', '--config', cfg, '--data-dir', data]);
    runs.push(r);
    const endpoint = await endpointOf(r);
    const port = new URL(endpoint).port;
    const token = readFileSync(join(data, 'token'), 'utf8').trim();
    fake.setKeyBehaviour(OPENAI_KEYS[1], { kind: 'status', status: 429, headers: { 'retry-after': '120' } });
    const sdk = new OpenAI({ baseURL: `${endpoint}/v1`, apiKey: token, maxRetries: 0 });
    for (let i = 0; i < 4; i++)
      await sdk.chat.completions.create({ model: 'mock/gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    const w = start(['status', '--watch', '--port', port, '--data-dir', data]);
    runs.push(w);
    // Frames arrive once a second: wait for the second one, then stop it as a user does (Ctrl+C).
    await untilOutput(w, () => (w.stdout.match(/^KeyRelay at /gm) ?? []).length >= 2, 10_000);
    w.child.kill('SIGINT');
    assert.equal(await w.exited, 0, w.stderr);
    const frame = w.stdout.split(/\n\n(?=KeyRelay at )/)[1];
    assert.match(
      frame,
      /^KeyRelay at http:\/\/127\.0\.0\.1:\d+ · 2\/3 keys usable · 1 cooling · 0 invalid · 0 discarded · 4 requests today/,
    );
    assert.match(frame, /^Mock +[ ▁-█]*[▁-█] +4 +0 /m);
    assert.match(frame, /^key-1 sk-…\w{4} +active, gpt-4o (1[12]\d|2m)s? +1 +0% +0 +[▁-█] +HTTP 429/m);
    assert.match(frame, /^key-0 sk-…\w{4} +active +\d +100% /m);
    assertNoKeys(w.stdout + w.stderr, 'status --watch');
    assert.ok(!w.stdout.includes(token), 'nor the token');

    const wrong = start(['status', '--watch', '--port', port, '--token', 'kr-not-it']);
    runs.push(wrong);
    assert.equal(await wrong.exited, 1);
    assert.match(wrong.stderr, /does not know this access token \(token from --token\); nothing was sent to it/);
  });

  test('status --json through a pipe: the whole document, however long (a pipe takes 64 KiB at a time)', async () => {
    const data = join(dir, 'data');
    const keys = Array.from({ length: 2000 }, (_, i) => ({
      provider: 'mock',
      key: `sk-test-pipe-${String(i).padStart(4, '0')}-${'p'.repeat(32)}`,
      label: `pipe-key-${i}`,
    }));
    const r = start(['serve', '--config', config({ keys }), '--data-dir', data]);
    runs.push(r);
    const port = new URL(await endpointOf(r)).port;
    // stdout is a pipe here, read by this process, as in `keyrelay status --json | jq`.
    const j = start(['status', '--port', port, '--data-dir', data, '--json']);
    runs.push(j);
    assert.equal(await j.exited, 0, j.stderr);
    const doc = JSON.parse(j.stdout) as { keyrelay: boolean; keys: Array<{ label: string }> };
    assert.ok(j.stdout.length > 4 * 65_536, `${j.stdout.length} bytes: big enough to fill a pipe several times`);
    assert.equal(doc.keyrelay, true);
    assert.equal(doc.keys.length, 2000);
    assert.equal(doc.keys[1999].label, 'pipe-key-1999');
    assert.ok(!j.stdout.includes('p'.repeat(32)), 'no key text');

    // The text form of the same status is as long and arrives whole too.
    const t = start(['status', '--port', port, '--data-dir', data]);
    runs.push(t);
    assert.equal(await t.exited, 0, t.stderr);
    assert.equal(t.stdout.split('\n').filter((l) => /^ {2}pipe-key-\d+ /.test(l)).length, 2000);
    assert.ok(t.stdout.endsWith('\n'));
  });

  test('an unknown flag or command: exit 2 pointing at --help', async () => {
    const r = start(['serve', '--prot', '1']);
    runs.push(r);
    assert.equal(await r.exited, 2);
    const r2 = start(['srv']);
    runs.push(r2);
    assert.equal(await r2.exited, 2);
    assert.match(r2.stderr, /--help/);
  });
});
