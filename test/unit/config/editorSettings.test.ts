import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readEditorSettings } from '../../../src/core/config/editorSettings';
import { commandKeyId, splitCommandLine } from '../../../src/core/config/credentialSpec';
import { normalizeConfig } from '../../../src/core/config/proxyConfig';
import { DEFAULT_CONFIG } from '../../../src/core/types';

const pkg = JSON.parse(readFileSync(join(__dirname, '../../../../package.json'), 'utf8'));
const declared: Record<string, { default: unknown }> = pkg.contributes.configuration.properties;

/** Settings as VS Code would hand them over: package.json's defaults, then the user's values. */
function reader(user: Record<string, unknown> = {}) {
  return (name: string): unknown => (name in user ? user[name] : declared[`keyRelay.${name}`]?.default);
}

suite('editor settings: one validator with the CLI', () => {
  test("package.json's defaults are exactly the core's defaults, with no problem", () => {
    const s = readEditorSettings(reader(), '/tmp/kr');
    assert.deepEqual(s.problems, []);
    assert.deepEqual(s.proxy, { ...DEFAULT_CONFIG });
    assert.equal(s.autoStart, true);
  });

  test('seconds and MiB become the core units', () => {
    const s = readEditorSettings(
      reader({
        'retry.maxWaitSeconds': 2.5,
        'proxy.maxBodyMB': 1,
        'rotation.cooldownSeconds': [1, 2],
        'timeouts.clientHeadersSeconds': 3,
      }),
      '/tmp/kr',
    );
    assert.deepEqual(
      [s.proxy.maxWaitMs, s.proxy.maxBodyBytes, s.proxy.cooldownStepsMs, s.proxy.clientHeadersTimeoutMs],
      [2500, 1048576, [1000, 2000], 3000],
    );
  });

  test('refused values keep their default and name the setting in its own unit (drift the copies had)', () => {
    const s = readEditorSettings(
      reader({
        'rotation.maxCooldownSeconds': 0,
        'timeouts.connectSeconds': 0,
        'proxy.port': 70000,
        'rotation.strategy': 'fastest',
      }),
      '/tmp/kr',
    );
    assert.equal(
      s.proxy.maxCooldownMs,
      DEFAULT_CONFIG.maxCooldownMs,
      'a 0 s cooldown cap would make a rate-limited key active at once',
    );
    assert.equal(s.proxy.connectTimeoutMs, DEFAULT_CONFIG.connectTimeoutMs, 'a zero timeout must never reach undici');
    assert.equal(s.problems.length, 4);
    assert.match(s.problems[0], /^"keyRelay\.proxy\.port" must be an integer from 0 to 65535/);
    assert.ok(
      s.problems.some((p) =>
        p.startsWith('"keyRelay.rotation.maxCooldownSeconds" must be seconds from 1 to 604800 (got 0)'),
      ),
      s.problems.join('\n'),
    );
    assert.ok(s.problems.some((p) => /keyRelay\.rotation\.strategy.*round-robin/.test(p)));
  });

  test('the CLI refuses the same values, naming its own field', () => {
    assert.throws(
      () => normalizeConfig({ maxCooldownMs: 0 }, 'cfg.json'),
      /"maxCooldownMs" must be milliseconds from 1000 to 604800000 \(got 0\)/,
    );
    assert.throws(
      () => normalizeConfig({ maxWaitMs: 'sk-ant-0123456789' }, 'cfg.json'),
      (e: Error) => {
        assert.match(e.message, /got a string of 17 characters/);
        assert.ok(!e.message.includes('sk-ant'), 'a rejected value is never echoed');
        return true;
      },
    );
    assert.throws(
      () => normalizeConfig({ maxWait: 1 }, 'cfg.json'),
      /unknown field "maxWait" \(did you mean "maxWaitMs"\?\)/,
    );
  });

  test('a custom provider without a shape is a problem the user sees, not a line in the log', () => {
    const s = readEditorSettings(
      reader({
        providers: [
          { id: 'gw', baseUrl: 'https://gw.example/v1' },
          { id: 'ok', shape: 'openai', baseUrl: 'https://ok.example/v1' },
        ],
      }),
      '/tmp/kr',
    );
    assert.deepEqual(
      s.providers.map((p) => p.id),
      ['ok'],
    );
    assert.match(s.problems[0], /keyRelay\.providers\[0\].*"shape" must be "openai" or "anthropic"/);
  });

  test('request logs go under the storage folder only when turned on', () => {
    assert.equal(readEditorSettings(reader(), '/tmp/kr').proxy.requestLogDir, '');
    assert.equal(
      readEditorSettings(reader({ 'logging.requests': true }), '/tmp/kr').proxy.requestLogDir,
      join('/tmp/kr', 'requests'),
    );
  });
});

suite('keyRelay.allowKeyLease: a machine setting', () => {
  test('off by default; on only from the user settings; a workspace value is ignored and said so', () => {
    assert.equal(readEditorSettings(reader(), '/tmp/kr').proxy.allowKeyLease, false);
    const user = readEditorSettings(reader(), '/tmp/kr', (name) => ({
      user: name === 'allowKeyLease' ? true : undefined,
      fromWorkspace: false,
    }));
    assert.equal(user.proxy.allowKeyLease, true);
    assert.deepEqual(user.problems, []);
    const workspace = readEditorSettings(reader({ allowKeyLease: true }), '/tmp/kr', (name) => ({
      user: undefined,
      fromWorkspace: name === 'allowKeyLease',
    }));
    assert.equal(workspace.proxy.allowKeyLease, false, 'get() is never asked: a workspace cannot turn it on');
    assert.match(workspace.problems[0], /"keyRelay\.allowKeyLease" is set in this workspace's settings/);
    assert.equal(
      declared['keyRelay.allowKeyLease'] && (declared['keyRelay.allowKeyLease'] as { scope?: string }).scope,
      'machine',
    );
  });
});

suite('credential command keys in the editor settings', () => {
  const argv = ['gcloud', 'auth', 'print-access-token'];
  const machine =
    (user: unknown, fromWorkspace = false) =>
    (name: string) =>
      name === 'credentialCommands' ? { user, fromWorkspace } : { user: undefined, fromWorkspace: false };

  test('user settings give pool keys named after the program, never its arguments', () => {
    const s = readEditorSettings(
      reader(),
      '/tmp/kr',
      machine([
        { provider: 'openai', credentialCommand: argv, label: 'work', credentialTtlSeconds: 600 },
        { provider: 'anthropic', credentialCommand: ['/opt/bin/token-helper', '--secret=s3cr3t-value'] },
      ]),
    );
    assert.deepEqual(s.problems, []);
    assert.equal(s.commandKeys.length, 2);
    const [a, b] = s.commandKeys;
    assert.deepEqual(a.credentialCommand, { argv, ttlSeconds: 600 });
    assert.equal(a.label, 'work');
    assert.equal(a.masked, 'cmd:gcloud');
    assert.equal(a.secret, '');
    assert.equal(b.label, 'cmd:token-helper');
    assert.equal(a.id, commandKeyId('openai', argv), 'a stable id: health survives a restart');
    assert.ok(!JSON.stringify([a.masked, b.masked, a.id, b.id]).includes('s3cr3t'));
    assert.deepEqual(readEditorSettings(reader(), '/tmp/kr').commandKeys, [], 'none by default');
  });

  test('a workspace that sets it is refused, and told so; bad entries are named and left out', () => {
    const s = readEditorSettings(
      reader(),
      '/tmp/kr',
      machine(
        [
          { provider: 'nope', credentialCommand: argv },
          { provider: 'openai', credentialCommand: 'gcloud' },
        ],
        true,
      ),
    );
    assert.equal(s.commandKeys.length, 0);
    assert.match(s.problems[0], /set in this workspace's settings, and KeyRelay ignores it there/);
    assert.match(s.problems[1], /credentialCommands\[0\]".*"provider" must name a provider id/);
    assert.match(s.problems[2], /credentialCommands\[1\]".*must be a list: the program, then its arguments/);
  });

  test('a typed command line becomes argv without a shell', () => {
    assert.deepEqual(splitCommandLine('gcloud auth print-access-token'), argv);
    assert.deepEqual(splitCommandLine(`node "my dir/get token.js" --name 'a b' x\\ y "q\\"t" $HOME | cat`), [
      'node',
      'my dir/get token.js',
      '--name',
      'a b',
      'x y',
      'q"t',
      '$HOME',
      '|',
      'cat',
    ]);
    assert.deepEqual(splitCommandLine('  '), []);
    assert.deepEqual(splitCommandLine('a ""'), ['a', '']);
    assert.throws(() => splitCommandLine('node "unclosed'), /unclosed " quote/);
  });
});
