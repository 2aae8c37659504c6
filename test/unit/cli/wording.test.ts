import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cliWording } from '../../../src/cli/wording';

/** The core's rooms the CLI runs: every message they can show a terminal user. */
const ROOMS = ['proxy', 'accounting', 'pool', 'windows', 'config'];
/** Files that only ever talk to the editor (its settings reader, its secret storage's key names). */
const EDITOR_ONLY = new Set(['editorSettings.ts', 'keyVault.ts']);
const EDITOR_WORDS = /\bkeyRelay\.[a-zA-Z]|"KeyRelay: [A-Z]|Reload the window/;

function sourceLines(): Array<{ where: string; line: string }> {
  const root = resolve(__dirname, '../../../../src/core');
  const out: Array<{ where: string; line: string }> = [];
  for (const room of ROOMS) {
    for (const f of readdirSync(join(root, room)).filter((n) => n.endsWith('.ts') && !EDITOR_ONLY.has(n))) {
      readFileSync(join(root, room, f), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          // Messages only: comments may name settings for the reader.
          if (!/^\s*(\/\/|\*|\/\*\*)/.test(line)) out.push({ where: `${room}/${f}:${i + 1}`, line });
        });
    }
  }
  return out;
}

suite("cli wording: the core messages in the CLI's words", () => {
  test('every setting and command the core names reads as a CLI flag or config field', () => {
    const lines = sourceLines().filter((l) => EDITOR_WORDS.test(l.line));
    assert.ok(lines.length >= 10, `the scan finds the core's messages (${lines.length})`);
    for (const { where, line } of lines) assert.doesNotMatch(cliWording(line), EDITOR_WORDS, where);
  });

  test('settings become the --config proxy field; commands the CLI equivalent; "(CLI: …)" hints go', () => {
    assert.equal(
      cliWording('The request body is larger than 1 MiB. Send less context, or raise keyRelay.proxy.maxBodyMB.'),
      'The request body is larger than 1 MiB. Send less context, or raise "maxBodyBytes" in the --config file\'s "proxy" object.',
    );
    assert.equal(
      cliWording('Missing token; copy it with "KeyRelay: Copy Access Token" (CLI: "keyrelay token" prints it).'),
      'Missing token; copy it with "keyrelay token".',
    );
    assert.match(cliWording('Add one with "KeyRelay: Add Key".'), /--keys-file/);
    assert.equal(cliWording('nothing editor-specific here'), 'nothing editor-specific here');
  });
});
