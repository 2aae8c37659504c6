import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../../src/cli/configFile';

suite('CLI config file: keys', () => {
  let dir: string;
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'keyrelay-cfg-'));
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  const load = (keys: unknown[]) => {
    const file = join(dir, 'keyrelay.json');
    writeFileSync(file, JSON.stringify({ keys }));
    return loadConfigFile(file);
  };

  test('keys[]: an unknown field is refused with the nearest name; bad key text with the shared validator, masked', () => {
    const key = 'sk-cfg-0123456789abcdef';
    assert.throws(() => load([{ provider: 'openai', key, baseURL: 'http://127.0.0.1:9/v1' }]), {
      message: `${join(dir, 'keyrelay.json')}: keys[0]: unknown field "baseURL" (did you mean "baseUrl"?).`,
    });
    for (const [bad, why] of [
      [`${key}\u0000`, /NUL character/],
      [`sk-cfg-\u202e0123456789abcdef`, /right-to-left override/],
      ['sk-1', /too short/],
      [`sk-cfg-01234 56789abcdef`, /a space/],
    ] as const) {
      assert.throws(
        () => load([{ provider: 'openai', key: bad }]),
        (err: Error) =>
          why.test(err.message) &&
          err.message.includes('sk-…cdef') !== (bad === 'sk-1') &&
          !err.message.includes('0123'),
      );
    }
  });

  test("a UTF-16 LE config file with a BOM (PowerShell's >) is read", () => {
    const file = join(dir, 'keyrelay.json');
    const text = JSON.stringify({ keys: [{ provider: 'openai', key: 'sk-cfg-0123456789abcdef' }] });
    writeFileSync(file, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
    assert.equal(loadConfigFile(file).keys[0].secret, 'sk-cfg-0123456789abcdef');
  });

  test('"account" is kept tidied; a blank or non-string one is refused with the fix', () => {
    assert.equal(
      load([{ provider: 'openai', key: 'sk-cfg-0123456789abcdef', account: '  team   one ' }]).keys[0].account,
      'team one',
    );
    assert.equal(load([{ provider: 'openai', key: 'sk-cfg-0123456789abcdef' }]).keys[0].account, undefined);
    assert.throws(
      () => load([{ provider: 'openai', key: 'sk-cfg-0123456789abcdef', account: '   ' }]),
      /keys\[0\]: "account" must be a name such as "work"/,
    );
    assert.throws(
      () => load([{ provider: 'openai', key: 'sk-cfg-0123456789abcdef', account: 7 }]),
      /"account" must be a string/,
    );
  });
});
