#!/usr/bin/env node
// A stand-in "VS Code executable" for @vscode/test-electron's runTests({ vscodeExecutablePath }):
// translates the command line test-electron builds (--extensionDevelopmentPath=, --extensionTestsPath=,
// --user-data-dir=, an optional workspace folder) into a run of hostRunner.js (code-server + headless
// Chromium), so the same runTest.ts drives desktop VS Code where it can be downloaded and code-server here.
// Flags meant for Electron (--no-sandbox, --disable-gpu-sandbox, --disable-extensions, …) do not apply and are ignored.
'use strict';
const fs = require('fs');
const path = require('path');
const host = require('./hostRunner.js');

const VALUE_FLAGS = new Set([
  'extensionDevelopmentPath',
  'extensionTestsPath',
  'user-data-dir',
  'extensions-dir',
  'locale',
  'profile',
  'log',
]);

function main() {
  const args = process.argv.slice(2);
  const opts = { extensionDevelopmentPath: [] };
  const positional = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    // space-separated values (`--user-data-dir /x`) only for flags known to take one
    const value = eq > 0 ? a.slice(eq + 1) : VALUE_FLAGS.has(name) && i + 1 < args.length ? args[++i] : true;
    if (name === 'extensionDevelopmentPath') opts.extensionDevelopmentPath.push(path.resolve(String(value)));
    else opts[name] = value;
  }

  if (opts.version || opts.v) {
    // what code-server 4.139.1 bundles; test-electron only asks when it manages the install itself
    console.log('1.139.1\n0000000000000000000000000000000000000000\nx64');
    process.exit(0);
  }
  const tests = opts.extensionTestsPath && path.resolve(String(opts.extensionTestsPath));
  if (!opts.extensionDevelopmentPath.length || !tests) {
    console.error(
      'codeShim: need --extensionDevelopmentPath= and --extensionTestsPath= (this shim only runs extension tests)',
    );
    process.exit(2);
  }
  const folder = positional.length ? path.resolve(positional[positional.length - 1]) : undefined;
  // Settings prepared by the caller in <user-data-dir>/User/settings.json are honoured; the run itself
  // still uses a fresh, throwaway user-data dir so no state leaks between runs.
  const udd = typeof opts['user-data-dir'] === 'string' ? opts['user-data-dir'] : undefined;
  const settingsFile = udd && path.join(udd, 'User', 'settings.json');
  const hard = setTimeout(
    () => {
      console.error('codeShim: hard TIMEOUT');
      process.exit(124);
    },
    Number(process.env.VSHOST_TIMEOUT_MS || 300000) + 30000,
  );
  hard.unref();
  host
    .runExtensionTests({
      devPath: opts.extensionDevelopmentPath,
      testsPath: tests,
      folder,
      settingsFile: settingsFile && fs.existsSync(settingsFile) ? settingsFile : undefined,
    })
    .then(
      (code) => process.exit(code),
      (e) => {
        console.error(e);
        process.exit(1);
      },
    );
}

// VSHOST_NETNS=1: the copy re-run inside a loopback-only network namespace does the work
if (!host.reexecInNetns()) main();
