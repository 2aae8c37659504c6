import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readRecentEntries } from '../../src/core/accounting/requestLog';
import { leaderProof, newNonce } from '../../src/core/proof';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { request } from 'undici';
import { FakeUpstream } from '../fakes/upstreamServer';
import { CLI, endpointOf, start, untilOutput } from './cliProcess';
import type { Run } from './cliProcess';
import { assertNoKeys, OPENAI_KEYS, TOKEN } from './harness';

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

  test('config: reasoning per model, the full request log and GET /v1/providers work headless', async () => {
    const data = join(dir, 'data');
    const logDir = join(dir, 'requests');
    const cfg = config({
      proxy: { port: 0, reasoning: { 'gpt-5*': 'high' }, requestLogDir: logDir },
      keys: [{ provider: 'mock', key: OPENAI_KEYS[0], label: 'one' }],
    });
    const r = start(['serve', '--config', cfg, '--data-dir', data]);
    runs.push(r);
    const endpoint = await endpointOf(r);
    const token = readFileSync(join(data, 'token'), 'utf8').trim();
    const sdk = new OpenAI({ baseURL: `${endpoint}/v1`, apiKey: token, maxRetries: 0 });
    await sdk.chat.completions.create({ model: 'mock/gpt-5', messages: [{ role: 'user', content: 'think' }] });
    assert.equal(JSON.parse(fake.requests.at(-1)!.body).reasoning_effort, 'high');
    await sdk.chat.completions.create({ model: 'mock/gpt-4o', messages: [{ role: 'user', content: 'plain' }] });
    assert.equal('reasoning_effort' in JSON.parse(fake.requests.at(-1)!.body), false, 'no pattern for gpt-4o');

    const providers = await request(`${endpoint}/v1/providers`, { headers: { authorization: `Bearer ${token}` } });
    const list = (await providers.body.json()) as { data: Array<{ id: string; keys: { total: number } }> };
    assert.deepEqual(
      list.data.map((p) => [p.id, p.keys.total]),
      [['mock', 1]],
    );
    r.child.kill('SIGINT');
    assert.equal(await r.exited, 0);
    const entries = readRecentEntries(logDir, 10).map((e) => e.doc as { model: string; key: string });
    assert.deepEqual(
      entries.map((e) => [e.model, e.key]),
      [
        ['gpt-4o', 'one (sk-…1111)'],
        ['gpt-5', 'one (sk-…1111)'],
      ],
      'both requests logged by the time the process exited',
    );
    assertNoKeys(
      readdirSync(logDir)
        .map((f) => readFileSync(join(logDir, f), 'utf8'))
        .join(''),
      'the CLI request log',
    );
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

  test('a preset overridden in "providers" keeps its key prefix; --provider names the provider of bare keys', async () => {
    const cfg = join(dir, 'gw.json');
    // Only the URL moves: no shape, no keyPrefix, and key-per-line files still find their provider.
    writeFileSync(
      cfg,
      JSON.stringify({ proxy: { port: 0 }, providers: [{ id: 'openai', baseUrl: `${fake.url}/v1` }] }),
    );
    const keysFile = join(dir, 'factory_keys.txt');
    writeFileSync(keysFile, `${OPENAI_KEYS[0]}\n${OPENAI_KEYS[1]}\n`);
    const r = start([
      'serve',
      '--config',
      cfg,
      '--keys-file',
      keysFile,
      '--data-dir',
      join(dir, 'd'),
      '--token',
      TOKEN,
    ]);
    runs.push(r);
    const endpoint = await endpointOf(r);
    assert.match(r.stdout, /2 key\(s\) for openai/);
    const sdk = new OpenAI({ baseURL: `${endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    await sdk.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    assert.ok(OPENAI_KEYS.slice(0, 2).includes(fake.requests[0].key!), 'a pool key went to the overriding URL');

    const bare = join(dir, 'bare.txt');
    const bareKey = '0123456789abcdef0123456789abcdef';
    writeFileSync(bare, `${bareKey}\n`);
    const r2 = start([
      'serve',
      '--config',
      config(),
      '--keys-file',
      bare,
      '--provider',
      'mock',
      '--data-dir',
      join(dir, 'd2'),
      '--token',
      TOKEN,
    ]);
    runs.push(r2);
    const endpoint2 = await endpointOf(r2);
    assert.match(r2.stdout, /1 key\(s\) for mock/);
    const sdk2 = new OpenAI({ baseURL: `${endpoint2}/v1`, apiKey: TOKEN, maxRetries: 0 });
    await sdk2.chat.completions.create({ model: 'mock/gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(fake.requests[1].key, bareKey);
  });

  test('SIGTERM: a running stream finishes within the default grace; one cut after --shutdown-grace is still counted', async () => {
    const slow = OPENAI_KEYS[0];
    fake.setKeyBehaviour(slow, { kind: 'ok', chunks: 6, chunkDelayMs: 150 });
    const data = join(dir, 'data');
    const r = start([
      'serve',
      '--config',
      config({ keys: [{ provider: 'mock', key: slow }] }),
      '--data-dir',
      data,
      '--token',
      TOKEN,
    ]);
    runs.push(r);
    const sdk = new OpenAI({ baseURL: `${await endpointOf(r)}/v1`, apiKey: TOKEN, maxRetries: 0 });
    const stream = await sdk.chat.completions.create({
      model: 'mock/gpt-4o',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    let chunks = 0;
    for await (const chunk of stream) {
      if (chunks++ === 0) r.child.kill('SIGTERM');
      assert.ok(chunk);
    }
    assert.ok(chunks >= 6, `the whole stream arrived (${chunks} chunks)`);
    assert.equal(await r.exited, 0);

    const stalled = OPENAI_KEYS[1];
    fake.setKeyBehaviour(stalled, { kind: 'stall-mid-stream', afterChunks: 1 });
    const cfg = config({ keys: [{ provider: 'mock', key: stalled }] });
    const r2 = start(['serve', '--config', cfg, '--data-dir', data, '--token', TOKEN, '--shutdown-grace', '1']);
    runs.push(r2);
    const sdk2 = new OpenAI({ baseURL: `${await endpointOf(r2)}/v1`, apiKey: TOKEN, maxRetries: 0 });
    const cut = await sdk2.chat.completions.create({
      model: 'mock/gpt-4o',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const drained = (async () => {
      for await (const chunk of cut) {
        r2.child.kill('SIGTERM');
        assert.ok(chunk);
      }
    })();
    await assert.rejects(drained, 'the client sees the cut stream as an error');
    assert.equal(await r2.exited, 0);
    const saved = JSON.parse(readFileSync(join(data, 'state.json'), 'utf8')) as {
      stats: { total: { requests: number } };
    };
    assert.equal(saved.stats.total.requests, 2, "both runs' requests, the cut one included");
  });

  test("errors name the CLI's flags and config fields, never VS Code settings or commands", async () => {
    const r = start([
      'serve',
      '--config',
      config({ proxy: { port: 0, maxBodyBytes: 1024 } }),
      '--data-dir',
      join(dir, 'd'),
    ]);
    runs.push(r);
    const endpoint = await endpointOf(r);
    const noToken = await request(`${endpoint}/v1/chat/completions`, { method: 'POST', body: '{}' });
    const e401 = await noToken.body.text();
    assert.equal(noToken.statusCode, 401);
    assert.match(e401, /keyrelay token/);
    const big = await request(`${endpoint}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${readFileSync(join(dir, 'd', 'token'), 'utf8').trim()}` },
      body: JSON.stringify({ model: 'mock/gpt-4o', pad: 'x'.repeat(4096) }),
    });
    const e413 = await big.body.text();
    assert.equal(big.statusCode, 413);
    assert.match(e413, /\\"maxBodyBytes\\" in the --config file's \\"proxy\\" object/);
    for (const body of [e401, e413]) assert.doesNotMatch(body, /keyRelay\.|KeyRelay: [A-Z]/);
  });

  test('a key from a credential command in the config file: run without a shell, its token never printed', async () => {
    const data = join(dir, 'data');
    const helper = join(dir, 'helper.js');
    const TOKEN_TEXT = 'tok-cli-0123456789abcdefghij';
    // "$HOME" stays literal: there is no shell to expand it.
    writeFileSync(
      helper,
      `if (process.argv[2] !== '$HOME') process.exit(9); console.log(JSON.stringify({ token: '${TOKEN_TEXT}', expiresIn: 3600 }));`,
    );
    const cfg = config({
      keys: [{ provider: 'mock', credentialCommand: [process.execPath, helper, '$HOME'], label: 'work' }],
    });
    const r = start(['serve', '--config', cfg, '--data-dir', data, '--token', 'kr-cli-token-0123456789']);
    runs.push(r);
    const endpoint = await endpointOf(r);
    const sdk = new OpenAI({ baseURL: `${endpoint}/v1`, apiKey: 'kr-cli-token-0123456789', maxRetries: 0 });
    await sdk.chat.completions.create({ model: 'mock/gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    assert.deepEqual(fake.countsByKey(), { [TOKEN_TEXT]: 1 });
    const status = await request(`${endpoint}/keyrelay/status?format=text`, {
      headers: { authorization: 'Bearer kr-cli-token-0123456789' },
    });
    const table = await status.body.text();
    assert.match(table, /work/);
    r.child.kill('SIGINT');
    assert.equal(await r.exited, 0);
    for (const text of [r.stdout, r.stderr, table, readFileSync(join(data, 'state.json'), 'utf8')])
      assert.ok(!text.includes(TOKEN_TEXT), 'the token stays out of output, status and state');

    const bad = start([
      'serve',
      '--config',
      config({ keys: [{ provider: 'mock', credentialCommand: 'gcloud auth' }] }),
    ]);
    assert.equal(await bad.exited, 2);
    assert.match(bad.stderr, /keys\[0\]: "credentialCommand" must be a list: the program, then its arguments/);
  });

  test('keys over REST and "keyrelay keys": serve at once, saved 0600 to --keys-file, kept after a restart', async () => {
    const data = join(dir, 'data');
    const keysFile = join(dir, 'managed.json');
    const TOKEN_ARG = 'kr-cli-token-keys-0123456789';
    const args = ['serve', '--config', config(), '--keys-file', keysFile, '--data-dir', data, '--token', TOKEN_ARG];
    let r = start(args);
    runs.push(r);
    let endpoint = await endpointOf(r);
    const auth = { authorization: `Bearer ${TOKEN_ARG}`, 'content-type': 'application/json' };
    const add = await request(`${endpoint}/keyrelay/keys`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify([{ provider: 'mock', key: OPENAI_KEYS[0], label: 'rest-one', models: ['gpt-4o'] }]),
    });
    const added = (await add.body.json()) as { added: Array<{ id: string; label: string; masked: string }> };
    assert.equal(add.statusCode, 201);
    assert.equal(added.added[0].label, 'rest-one');
    assert.ok(!JSON.stringify(added).includes(OPENAI_KEYS[0]), 'the answer holds the masked key only');
    const sdk = new OpenAI({ baseURL: `${endpoint}/v1`, apiKey: TOKEN_ARG, maxRetries: 0 });
    await sdk.chat.completions.create({ model: 'mock/gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    assert.deepEqual(fake.countsByKey(), { [OPENAI_KEYS[0]]: 1 }, 'served at once, no restart');
    assert.equal(statSync(keysFile).mode & 0o777, 0o600);

    const patch = await request(`${endpoint}/keyrelay/keys/${added.added[0].id}`, {
      method: 'PATCH',
      headers: auth,
      body: JSON.stringify({ label: 'renamed', secret: 'x' }),
    });
    assert.equal(patch.statusCode, 400);
    assert.match(await patch.body.text(), /Cannot change \\"secret\\": only label, models, weight, account/);
    const renamed = await request(`${endpoint}/keyrelay/keys/${added.added[0].id}`, {
      method: 'PATCH',
      headers: auth,
      body: JSON.stringify({ label: 'renamed' }),
    });
    assert.equal(renamed.statusCode, 200, await renamed.body.text());
    const noToken = await request(`${endpoint}/keyrelay/keys`, { method: 'POST', body: '{}' });
    assert.equal(noToken.statusCode, 401);
    await noToken.body.dump();

    // The subcommands, against the running proxy; the key arrives on stdin.
    const port = new URL(endpoint).port;
    const cli = ['--port', port, '--token', TOKEN_ARG];
    const adder = spawn(process.execPath, [CLI, 'keys', 'add', '--provider', 'mock', '--label', 'piped', ...cli], {
      env: { PATH: process.env.PATH ?? '' },
    });
    let out = '';
    adder.stdout.on('data', (d: Buffer) => (out += d.toString()));
    adder.stdin.end(`${OPENAI_KEYS[1]}\n`);
    assert.equal(await new Promise((res) => adder.on('exit', res)), 0);
    assert.match(out, /^added \S+ {2}piped {2}sk-…2222$/m);
    const list = start(['keys', 'list', ...cli]);
    assert.equal(await list.exited, 0);
    assert.match(list.stdout, /renamed {2}sk-…1111 {2}active/);
    assert.match(list.stdout, /piped {2}sk-…2222/);
    for (const text of [out, list.stdout, list.stderr]) assertNoKeys(text, 'keys output');

    r.child.kill('SIGINT');
    assert.equal(await r.exited, 0);
    assertNoKeys(r.stdout + r.stderr, 'serve output');
    r = start(args);
    runs.push(r);
    endpoint = await endpointOf(r);
    const after = start(['keys', 'list', '--port', new URL(endpoint).port, '--token', TOKEN_ARG]);
    assert.equal(await after.exited, 0);
    assert.match(after.stdout, /renamed/, 'the restart kept the keys added over REST');
    const removed = start([
      'keys',
      'remove',
      added.added[0].id,
      '--port',
      new URL(endpoint).port,
      '--token',
      TOKEN_ARG,
    ]);
    assert.equal(await removed.exited, 0, removed.stderr);
    assert.ok(!readFileSync(keysFile, 'utf8').includes(OPENAI_KEYS[0]), 'removed from the keys file');
    const gone = start(['keys', 'remove', 'nope', '--port', new URL(endpoint).port, '--token', TOKEN_ARG]);
    assert.equal(await gone.exited, 1);
    assert.match(gone.stderr, /No key with id "nope"/);
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
    // gpt-4o has a price in the shipped table: each key shows what it cost, the header the total.
    assert.match(s.stdout, /^ {2}key-0 +sk-…\w{4} +active +\d today +100% ok +\$0\.\d+$/m);
    assert.match(s.stdout, /^Cost: \$0\.\d+ since start \(prices as of \d{4}-\d{2}-\d{2}\) · gpt-4o \$0\.\d+$/m);
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
    // "now" is this minute's count: 4, or 0 when the frame lands in the next minute.
    assert.match(frame, /^Mock +[ ▁-█]*[▁-█] +[40] +0 /m);
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

  test('status --json from a KeyRelay that stops mid-document: what came is out, then one line says it was cut off', async () => {
    // A leader that proves the token as KeyRelay does, then sends part of a status and goes away.
    let answer: (res: ServerResponse) => void = () => undefined;
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/keyrelay/challenge') {
        const nonce = url.searchParams.get('nonce') ?? '';
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ keyrelay: true, proof: leaderProof(TOKEN, nonce), nonce: newNonce(), instanceId: 'i' }),
        );
        return;
      }
      answer(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = String((server.address() as AddressInfo).port);
    const status = async (): Promise<Run> => {
      const r = start(['status', '--json', '--port', port, '--token', TOKEN]);
      runs.push(r);
      await r.exited;
      return r;
    };
    try {
      const head = '{"keyrelay":true,"version":"1","keys":[{"id":"a"},';
      answer = (res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(head);
        setTimeout(() => res.socket?.destroy(), 50);
      };
      const cut = await status();
      assert.equal(cut.child.exitCode, 1);
      assert.equal(cut.stdout, head);
      assert.match(
        cut.stderr,
        new RegExp(
          `^keyrelay: The answer from 127\\.0\\.0\\.1:${port} was cut off \\(\\w+\\): is the proxy still running\\? Run the command again\\.\\n$`,
        ),
      );

      // Ended cleanly, but short of its closing brace.
      answer = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(head);
      const short = await status();
      assert.equal(short.child.exitCode, 1);
      assert.match(short.stderr, /^keyrelay: The answer from .* was cut off: is the proxy still running\?/);

      // Not KeyRelay's document at all: nothing printed.
      answer = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"hello":"world","x":1234567}');
      const other = await status();
      assert.equal(other.child.exitCode, 1);
      assert.equal(other.stdout, '');
      assert.match(other.stderr, /answered HTTP 200, not KeyRelay's status: is another program on that port\?/);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
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
