// Bundles the extension and the CLI. `--production` minifies; `--watch` rebuilds on change;
// `--outdir <dir>` writes elsewhere than dist/ (the bench's activation row measures the production
// bundle the .vsix ships without touching dist/).
import { readFileSync } from 'node:fs';
import * as esbuild from 'esbuild';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const at = process.argv.indexOf('--outdir');
const outdir = at > 0 && process.argv[at + 1] ? process.argv[at + 1] : 'dist';

/** Prints errors in the `$esbuild-watch` problem-matcher format VS Code understands. */
const problemMatcher = {
  name: 'problem-matcher',
  setup(build) {
    build.onStart(() => console.log('[watch] build started'));
    build.onEnd((result) => {
      for (const { text, location } of result.errors) {
        console.error(`✘ [ERROR] ${text}`);
        if (location) console.error(`    ${location.file}:${location.line}:${location.column}:`);
      }
      console.log('[watch] build finished');
    });
  },
};

/**
 * undici goes to its own file, dist/undici.js, required on first use (src/core/undiciLoader.ts):
 * inside extension.js its 1 MB would be parsed on every activation, before the proxy listens.
 */
const undiciApart = {
  name: 'undici-apart',
  setup(build) {
    build.onResolve({ filter: /^undici$/ }, () => ({ path: './undici.js', external: true }));
  },
};

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

const common = {
  define: { KEYRELAY_VERSION: JSON.stringify(version) },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  // VS Code 1.138's extension host and our CLI floor both run Node 20+.
  target: 'node20',
  minify: production,
  sourcemap: !production,
  sourcesContent: false,
  logLevel: 'warning',
  plugins: watch ? [problemMatcher] : [],
};
/**
 * ioredis likewise goes to dist/redis.js (src/core/shared/redisLoader.ts), required only when a
 * shared state store is configured: without `stateStore` the bundles neither grow nor load it.
 */
const redisApart = {
  name: 'redis-apart',
  setup(build) {
    build.onResolve({ filter: /^ioredis$/ }, () => ({ path: './redis.js', external: true }));
  },
};
/** src/core/shared/sharedState.ts goes to dist/shared.js, required by sharedLoader.ts only when stateStore is set. */
const sharedApart = {
  name: 'shared-apart',
  setup(build) {
    build.onResolve({ filter: /^\.\/sharedState$/ }, (args) =>
      args.kind === 'require-call' ? { path: './shared.js', external: true } : undefined,
    );
  },
};
const withUndiciApart = { ...common, plugins: [...common.plugins, undiciApart, redisApart, sharedApart] };

const builds = [
  // The extension's entry: dist/extension.js loads dist/main.js (src/extension.ts) with V8's code cache.
  { ...common, entryPoints: ['src/boot.ts'], outfile: `${outdir}/extension.js`, external: ['vscode'] },
  { ...withUndiciApart, entryPoints: ['src/extension.ts'], outfile: `${outdir}/main.js`, external: ['vscode'] },
  {
    ...withUndiciApart,
    entryPoints: ['src/cli.ts'],
    outfile: `${outdir}/cli.js`,
    banner: { js: '#!/usr/bin/env node' },
  },
  { ...common, entryPoints: ['undici'], outfile: `${outdir}/undici.js` },
  { ...common, entryPoints: ['ioredis'], outfile: `${outdir}/redis.js` },
  {
    ...common,
    plugins: [...common.plugins, undiciApart, redisApart],
    entryPoints: ['src/core/shared/sharedState.ts'],
    outfile: `${outdir}/shared.js`,
  },
  // The worker thread that holds the store's connections (src/core/shared/redisLink.ts), beside
  // dist/shared.js, which starts it by path; ioredis stays in dist/redis.js.
  {
    ...common,
    plugins: [...common.plugins, redisApart],
    entryPoints: ['src/core/shared/redisWorker.ts'],
    outfile: `${outdir}/redisWorker.js`,
  },
  // The dashboard webview: a browser script with uPlot bundled in (no remote resource), plus its
  // style sheet (uPlot's and ours) as dist/dashboard.css.
  {
    ...common,
    entryPoints: ['src/webview/dashboard.ts'],
    outfile: `${outdir}/dashboard.js`,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
  // "KeyRelay: Compare Models": its own small page and style sheet (dist/compare.js, compare.css).
  {
    ...common,
    entryPoints: ['src/webview/compare.ts'],
    outfile: `${outdir}/compare.js`,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
];

if (watch) {
  for (const options of builds) await (await esbuild.context(options)).watch();
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
