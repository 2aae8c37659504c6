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
