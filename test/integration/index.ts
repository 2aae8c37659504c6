// The mocha entry point VS Code loads inside the extension host (`extensionTestsPath`): finds every
// compiled integration test next to this file and runs it with the tdd UI. Works the same in desktop
// VS Code (via @vscode/test-electron) and in code-server (via test/vscode-host/hostRunner.js).
import * as fs from 'fs';
import * as path from 'path';
import Mocha from 'mocha';

/** Recursively lists `*.test.js` under dir (no glob dependency: the host's Node varies by VS Code build). */
function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findTests(full));
    else if (entry.name.endsWith('.test.js')) out.push(full);
  }
  return out.sort();
}

/** Called by the extension host once the extension under test is loaded; rejects when any test fails. */
export function run(): Promise<void> {
  const mocha = new Mocha({
    ui: 'tdd',
    // host-level tests wait for activation, the proxy and the UI: generous, but bounded
    timeout: 60_000,
    color: process.env.FORCE_COLOR === '1',
    forbidOnly: true,
    // KEYRELAY_TEST_GREP narrows a local run to matching suites/tests
    grep: process.env.KEYRELAY_TEST_GREP || undefined,
  });
  // out/test/integration holds this file and the compiled *.test.js files
  for (const file of findTests(__dirname)) mocha.addFile(file);
  return new Promise((resolve, reject) => {
    try {
      mocha.run((failures) => {
        console.log(`integration: ${failures} failure(s)`);
        if (failures > 0) reject(new Error(`${failures} integration test(s) failed.`));
        else resolve();
      });
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}
