// Reads which Node built-ins a real VS Code extension host has loaded when it requires an extension:
// a throwaway extension (written to a temp dir) records `process.moduleLoadList` at require time
// in the host test/vscode-host/setup.sh installs, and the list is compared with hostBuiltins.cjs,
// which the activation bench loads before its clock starts.
//   node test/bench/probeHostBuiltins.mjs   (exit 1 when hostBuiltins.cjs lists one the host lacks)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const shim = path.join(root, '.vscode-test', 'code-shim');
if (!fs.existsSync(shim)) {
  console.error('No extension host here: run "bash test/vscode-host/setup.sh" first.');
  process.exit(2);
}
const { runTests } = require('@vscode/test-electron');
const { HOST_BUILTINS } = require('./hostBuiltins.cjs');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyrelay-probe-'));
const out = path.join(dir, 'loaded.json');
try {
  const ext = path.join(dir, 'ext');
  fs.mkdirSync(ext);
  const manifest = { name: 'probe', publisher: 'keyrelay-bench', version: '0.0.1', engines: { vscode: '^1.80.0' } };
  fs.writeFileSync(
    path.join(ext, 'package.json'),
    JSON.stringify({ ...manifest, main: './extension.js', activationEvents: ['*'] }),
  );
  fs.writeFileSync(
    path.join(ext, 'extension.js'),
    `require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify({ node: process.version, modules: process.moduleLoadList }));
exports.activate = () => {};`,
  );
  fs.writeFileSync(path.join(ext, 'tests.js'), 'exports.run = async () => {};');
  await runTests({
    vscodeExecutablePath: shim,
    extensionDevelopmentPath: ext,
    extensionTestsPath: path.join(ext, 'tests.js'),
    launchArgs: ['--user-data-dir', path.join(dir, 'user-data'), '--disable-extensions', dir],
  }).catch(() => undefined); // the host's exit code is not the point; the file is
  if (!fs.existsSync(out)) throw new Error('the probe extension was not loaded');
  const { node, modules } = JSON.parse(fs.readFileSync(out, 'utf8'));
  const loaded = modules
    .filter((m) => m.startsWith('NativeModule ') && !m.includes('internal/'))
    .map((m) => m.slice(13));
  const missing = HOST_BUILTINS.filter((m) => !loaded.includes(m));
  console.log(`extension host on Node ${node} had loaded: ${loaded.join(' ')}`);
  console.log(
    missing.length
      ? `hostBuiltins.cjs lists what the host had not: ${missing.join(' ')}`
      : 'hostBuiltins.cjs: all loaded by the host',
  );
  process.exitCode = missing.length ? 1 : 0;
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
