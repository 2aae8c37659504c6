// A stand-in `vscode` module for the activation benchmark: the common API surface with cheap
// working pieces (EventEmitter, Uri, configuration defaults, in-memory secrets), and a Proxy that
// answers anything else with a harmless no-op so an extension activates without a real host.
'use strict';
const path = require('node:path');

/** Anything unknown: callable, constructible, every property another stub; never a thenable. */
function stub(name) {
  const fn = function () {
    return stub(`${name}()`);
  };
  return new Proxy(fn, {
    get(t, p) {
      if (p === 'then' || p === Symbol.iterator || p === Symbol.asyncIterator) return undefined;
      if (p === Symbol.toPrimitive) return () => '';
      if (p === 'toString' || p === 'toJSON') return () => `stub:${name}`;
      if (p === 'dispose') return () => {};
      if (typeof p === 'string' && /^onDid|^onWill/.test(p)) return event();
      if (!(p in t)) t[p] = stub(`${name}.${String(p)}`);
      return t[p];
    },
    apply() {
      return stub(`${name}()`);
    },
    construct() {
      return stub(`new ${name}`);
    },
  });
}
/**
 * An object with known members whose prototype answers unknown members with stubs. A prototype
 * (not a Proxy around the object) because esbuild's `__toESM` copies only own properties and
 * inherits from the module's prototype, so unknown names still resolve after `import * as vscode`.
 */
function partial(name, known) {
  const cache = new Map();
  const fallback = new Proxy(Object.create(null), {
    get(t, p) {
      if (p === 'then' || p === '__esModule' || typeof p === 'symbol') return undefined;
      if (!cache.has(p)) cache.set(p, /^onDid|^onWill/.test(p) ? event() : stub(`${name}.${p}`));
      return cache.get(p);
    },
  });
  return Object.setPrototypeOf(known, fallback);
}

class Disposable {
  constructor(fn) {
    this._fn = fn;
  }
  static from(...ds) {
    return new Disposable(() => ds.forEach((d) => d && d.dispose && d.dispose()));
  }
  dispose() {
    if (this._fn) {
      this._fn();
      this._fn = undefined;
    }
  }
}
class EventEmitter {
  constructor() {
    this._l = new Set();
    this.event = (fn, thisArg, disposables) => {
      const h = thisArg ? fn.bind(thisArg) : fn;
      this._l.add(h);
      const d = new Disposable(() => this._l.delete(h));
      if (Array.isArray(disposables)) disposables.push(d);
      return d;
    };
  }
  fire(v) {
    for (const l of [...this._l]) l(v);
  }
  dispose() {
    this._l.clear();
  }
}
const event = () => new EventEmitter().event;
class Uri {
  constructor(scheme, p, query = '', fragment = '', authority = '') {
    Object.assign(this, { scheme, path: p, query, fragment, authority });
  }
  get fsPath() {
    return this.path;
  }
  static file(p) {
    return new Uri('file', p);
  }
  static parse(s) {
    const u = new URL(s);
    return new Uri(u.protocol.slice(0, -1), u.pathname, u.search.slice(1), u.hash.slice(1), u.host);
  }
  static joinPath(u, ...parts) {
    return new Uri(u.scheme, path.posix.join(u.path, ...parts), u.query, u.fragment, u.authority);
  }
  static from(c) {
    return new Uri(c.scheme, c.path ?? '', c.query, c.fragment, c.authority);
  }
  with(c) {
    return new Uri(
      c.scheme ?? this.scheme,
      c.path ?? this.path,
      c.query ?? this.query,
      c.fragment ?? this.fragment,
      c.authority ?? this.authority,
    );
  }
  toString() {
    return `${this.scheme}://${this.authority}${this.path}`;
  }
  toJSON() {
    return this.toString();
  }
}
class TreeItem {
  constructor(label, collapsibleState) {
    this.label = label;
    this.collapsibleState = collapsibleState;
  }
}
class ThemeIcon {
  constructor(id, color) {
    this.id = id;
    this.color = color;
  }
}
ThemeIcon.File = new ThemeIcon('file');
ThemeIcon.Folder = new ThemeIcon('folder');
class ThemeColor {
  constructor(id) {
    this.id = id;
  }
}
class MarkdownString {
  constructor(value = '', supportThemeIcons = false) {
    this.value = value;
    this.supportThemeIcons = supportThemeIcons;
    this.isTrusted = false;
  }
  appendText(t) {
    this.value += t.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
    return this;
  }
  appendMarkdown(t) {
    this.value += t;
    return this;
  }
  appendCodeblock(c, l = '') {
    this.value += `\n\`\`\`${l}\n${c}\n\`\`\`\n`;
    return this;
  }
}
class CancellationTokenSource {
  constructor() {
    this.token = { isCancellationRequested: false, onCancellationRequested: event() };
  }
  cancel() {
    this.token.isCancellationRequested = true;
  }
  dispose() {}
}

/** Settings: every get() answers its default, except the port the harness asks us to use. */
const overrides = {};
function getConfiguration(section = '') {
  const full = (k) => (section ? `${section}.${k}` : k);
  return partial('configuration', {
    get(k, d) {
      const f = full(k);
      if (f in overrides) return overrides[f];
      if (/(^|\.)port$/i.test(f) && process.env.BENCH_VSCODE_PORT) return Number(process.env.BENCH_VSCODE_PORT);
      return d;
    },
    has(k) {
      return full(k) in overrides;
    },
    inspect(k) {
      return { key: full(k), defaultValue: undefined };
    },
    update(k, v) {
      overrides[full(k)] = v;
      return Promise.resolve();
    },
  });
}
const outputChannel = (name) =>
  partial('outputChannel', {
    name,
    logLevel: 3,
    onDidChangeLogLevel: event(),
    trace() {},
    debug() {},
    info() {},
    warn() {},
    error() {},
    append() {},
    appendLine() {},
    replace() {},
    clear() {},
    show() {},
    hide() {},
    dispose() {},
  });
const statusBarItem = () =>
  partial('statusBarItem', { text: '', tooltip: undefined, command: undefined, show() {}, hide() {}, dispose() {} });
const treeView = () =>
  partial('treeView', {
    visible: true,
    reveal: () => Promise.resolve(),
    dispose() {},
    onDidChangeVisibility: event(),
    onDidChangeSelection: event(),
    onDidExpandElement: event(),
    onDidCollapseElement: event(),
  });
const none = () => Promise.resolve(undefined);
const noopDisposable = () => new Disposable();

const vscode = {
  version: '1.138.0',
  Disposable,
  EventEmitter,
  Uri,
  TreeItem,
  ThemeIcon,
  ThemeColor,
  MarkdownString,
  CancellationTokenSource,
  StatusBarAlignment: { Left: 1, Right: 2 },
  TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
  ConfigurationTarget: { Global: 1, Workspace: 2, WorkspaceFolder: 3 },
  UIKind: { Desktop: 1, Web: 2 },
  LogLevel: { Off: 0, Trace: 1, Debug: 2, Info: 3, Warning: 4, Error: 5 },
  ExtensionMode: { Production: 1, Development: 2, Test: 3 },
  ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
  ViewColumn: { Active: -1, Beside: -2, One: 1 },
  QuickPickItemKind: { Separator: -1, Default: 0 },
  window: partial('window', {
    createOutputChannel: outputChannel,
    createStatusBarItem: statusBarItem,
    createTreeView: treeView,
    registerTreeDataProvider: noopDisposable,
    registerUriHandler: noopDisposable,
    registerWebviewViewProvider: noopDisposable,
    showInformationMessage: none,
    showWarningMessage: none,
    showErrorMessage: none,
    showQuickPick: none,
    showInputBox: none,
    showTextDocument: none,
    setStatusBarMessage: noopDisposable,
    withProgress: (o, task) => Promise.resolve(task({ report() {} }, new CancellationTokenSource().token)),
    state: { focused: true, active: true },
    onDidChangeWindowState: event(),
    activeTextEditor: undefined,
    visibleTextEditors: [],
  }),
  commands: partial('commands', {
    registerCommand: noopDisposable,
    registerTextEditorCommand: noopDisposable,
    executeCommand: none,
    getCommands: () => Promise.resolve([]),
  }),
  workspace: partial('workspace', {
    getConfiguration,
    onDidChangeConfiguration: event(),
    workspaceFolders: undefined,
    name: undefined,
    isTrusted: true,
    onDidGrantWorkspaceTrust: event(),
    fs: stub('workspace.fs'),
    openTextDocument: none,
    createFileSystemWatcher: () => stub('watcher'),
  }),
  env: partial('env', {
    appName: 'Visual Studio Code',
    appHost: 'desktop',
    uiKind: 1,
    remoteName: undefined,
    language: 'en',
    machineId: 'bench',
    sessionId: 'bench',
    uriScheme: 'vscode',
    shell: '/bin/sh',
    isTelemetryEnabled: false,
    onDidChangeTelemetryEnabled: event(),
    clipboard: { readText: () => Promise.resolve(''), writeText: () => Promise.resolve() },
    openExternal: () => Promise.resolve(true),
    asExternalUri: (u) => Promise.resolve(u),
  }),
  extensions: partial('extensions', { getExtension: () => undefined, all: [], onDidChange: event() }),
  l10n: {
    t: (m, ...a) => {
      const s = typeof m === 'string' ? m : m.message;
      const args = typeof a[0] === 'object' && a[0] !== null && !Array.isArray(a[0]) ? a[0] : a;
      return s.replace(/\{(\w+)\}/g, (x, k) => (args[k] !== undefined ? String(args[k]) : x));
    },
    bundle: undefined,
    uri: undefined,
  },
};

/** A fake ExtensionContext: in-memory secrets/globalState, subscriptions disposed by the harness. */
function makeContext(extPath, storageDir) {
  const memento = () => {
    const m = new Map();
    return {
      get: (k, d) => (m.has(k) ? m.get(k) : d),
      update: (k, v) => {
        if (v === undefined) m.delete(k);
        else m.set(k, v);
        return Promise.resolve();
      },
      keys: () => [...m.keys()],
      setKeysForSync() {},
    };
  };
  const secretsMap = new Map();
  const secretsEmitter = new EventEmitter();
  const ctx = {
    subscriptions: [],
    extensionPath: extPath,
    extensionUri: Uri.file(extPath),
    globalStorageUri: Uri.file(path.join(storageDir, 'global')),
    globalStoragePath: path.join(storageDir, 'global'),
    storageUri: Uri.file(path.join(storageDir, 'ws')),
    storagePath: path.join(storageDir, 'ws'),
    logUri: Uri.file(path.join(storageDir, 'log')),
    logPath: path.join(storageDir, 'log'),
    extensionMode: 1,
    globalState: memento(),
    workspaceState: memento(),
    secrets: {
      get: (k) => Promise.resolve(secretsMap.get(k)),
      store: (k, v) => {
        secretsMap.set(k, v);
        secretsEmitter.fire({ key: k });
        return Promise.resolve();
      },
      delete: (k) => {
        secretsMap.delete(k);
        secretsEmitter.fire({ key: k });
        return Promise.resolve();
      },
      keys: () => Promise.resolve([...secretsMap.keys()]),
      onDidChange: secretsEmitter.event,
    },
    environmentVariableCollection: stub('environmentVariableCollection'),
    extension: {
      id: 'keyrelay.keyrelay',
      extensionUri: Uri.file(extPath),
      extensionPath: extPath,
      isActive: true,
      packageJSON: { name: 'keyrelay', version: '0.1.0' },
      extensionKind: 2,
      exports: undefined,
    },
    asAbsolutePath: (p) => path.join(extPath, p),
  };
  return partial('context', ctx);
}

module.exports = { vscode: partial('vscode', vscode), makeContext };
