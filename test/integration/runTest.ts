// Runs the integration suite (test/integration/*.test.ts, loaded by index.ts) in a real VS Code
// extension host through @vscode/test-electron's runTests:
// - VSCODE_EXECUTABLE=<path>      use that executable (desktop VS Code, or test/vscode-host/codeShim.js);
// - VSCODE_EXECUTABLE=download    force test-electron to download desktop VS Code;
// - otherwise, when test/vscode-host/setup.sh has installed the host (it writes .vscode-test/code-shim
//   last), use the shim: code-server + headless Chromium; else download desktop VS Code and run the
//   suite twice, on the oldest version package.json's engines allow and on 'stable'.
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { runTests } from '@vscode/test-electron';

// out/test/integration → the repository root (the extension under test)
const REPO = path.resolve(__dirname, '..', '..', '..');
const SHIM_MARKER = path.join(REPO, '.vscode-test', 'code-shim');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** `^1.138.0` / `>=1.138.0` → `1.138.0`: the oldest VS Code the extension claims to support. */
function minimumVsCode(): string | undefined {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { engines?: { vscode?: string } };
  const m = /(\d+\.\d+\.\d+)/.exec(pkg.engines?.vscode ?? '');
  return m ? m[1] : undefined;
}

function executable(): string | undefined {
  const env = process.env.VSCODE_EXECUTABLE;
  if (env === 'download') return undefined;
  if (env) return path.resolve(env);
  return fs.existsSync(SHIM_MARKER) ? SHIM_MARKER : undefined;
}

async function main(): Promise<void> {
  const extensionDevelopmentPath = REPO;
  const extensionTestsPath = path.join(__dirname, 'index.js');
  const vscodeExecutablePath = executable();
  // Desktop VS Code downloads twice (oldest supported + stable); a given executable runs once.
  const versions: Array<string | undefined> = vscodeExecutablePath
    ? [undefined]
    : [minimumVsCode() ?? 'stable', 'stable'];
  let failed = false;
  for (const version of [...new Set(versions)]) {
    // A fresh user-data dir, workspace and HOME per run: tests never touch the real user's settings,
    // ~/.continue or ~/.claude, and the proxy never fights a running KeyRelay for port 8787.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'keyrelay-it-'));
    const userData = path.join(tmp, 'user-data');
    const workspace = path.join(tmp, 'workspace');
    const home = path.join(tmp, 'home');
    for (const d of [path.join(userData, 'User'), workspace, home]) fs.mkdirSync(d, { recursive: true });
    const port = await freePort();
    fs.writeFileSync(
      path.join(userData, 'User', 'settings.json'),
      JSON.stringify({ 'keyRelay.proxy.port': port }, null, 2),
    );
    const label = vscodeExecutablePath ? path.basename(vscodeExecutablePath) : `VS Code ${version}`;
    console.log(`[runTest] ${label}: extension ${extensionDevelopmentPath}, proxy port ${port}`);
    try {
      await runTests({
        ...(vscodeExecutablePath ? { vscodeExecutablePath } : { version }),
        extensionDevelopmentPath,
        extensionTestsPath,
        // --disable-extensions: only the extension under development loads (desktop; the shim's host is empty anyway)
        launchArgs: [workspace, '--disable-extensions', `--user-data-dir=${userData}`],
        extensionTestsEnv: { HOME: home, KEYRELAY_TEST: '1', KEYRELAY_TEST_PORT: String(port) },
      });
      console.log(`[runTest] ${label}: passed`);
    } catch (err) {
      failed = true;
      console.error(`[runTest] ${label}: failed (${err instanceof Error ? err.message : String(err)})`);
    } finally {
      if (!process.env.KEEP) fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  process.exit(failed ? 1 : 0);
}

void main();
