// Lint: correctness rules with type information, plus the boundaries of the house (CONTRIBUTING.md):
// `vscode` only under src/vscode and src/extension.ts, and each core room importing only the rooms
// below it. `npm test` runs it (stage "lint"); `npx eslint .` runs it alone.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The rooms of src/core, lowest first, and what each may import besides the kernel (the .ts files
 * directly in src/core: types, events, errors, redact). A room never imports one to its right.
 */
const ROOMS = {
  config: [],
  credentials: [],
  pool: ['config'],
  accounting: ['config', 'pool'],
  keys: ['config', 'pool'],
  proxy: ['config', 'pool', 'accounting', 'credentials'],
  windows: ['config', 'pool', 'accounting'],
  view: ['config', 'pool', 'accounting', 'windows'],
  lm: ['config', 'pool', 'accounting', 'proxy'],
  shared: ['config', 'pool', 'accounting'],
};
const ALL_ROOMS = Object.keys(ROOMS);
const NO_VSCODE = {
  name: 'vscode',
  message: 'Only src/vscode and src/extension.ts may import vscode: the core and the CLI run without it.',
};
const OUTSIDE_CORE = {
  group: ['../../vscode/*', '../../cli/*', '../../extension', '../../cli'],
  message: 'The core never imports the editor or the CLI.',
};

/** no-restricted-imports for one room: other rooms above it, and anything outside src/core. */
function roomRules(room) {
  const banned = ALL_ROOMS.filter((r) => r !== room && !ROOMS[room].includes(r));
  return {
    files: [`src/core/${room}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [NO_VSCODE],
          patterns: [
            OUTSIDE_CORE,
            ...(banned.length
              ? [
                  {
                    group: banned.map((r) => `../${r}/*`),
                    message: `src/core/${room} may import only the kernel${ROOMS[room].length ? ` and ${ROOMS[room].join(', ')}` : ''} (see eslint.config.mjs).`,
                  },
                ]
              : []),
          ],
        },
      ],
    },
  };
}

export default tseslint.config(
  {
    ignores: [
      'out/**',
      'dist/**',
      'node_modules/**',
      '.vscode-test/**',
      'bench-results/**',
      'test-results/**',
      '**/*.vsix',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { prefer: 'type-imports', fixStyle: 'separate-type-imports' },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportAllDeclaration', message: 'No barrels: import from the file that defines the thing.' },
        { selector: 'ExportDefaultDeclaration', message: 'Named exports only.' },
      ],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // Functions a person can hold in their head; files split by responsibility.
    files: ['src/**/*.ts'],
    rules: {
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true, IIFEs: true }],
      'max-lines': ['error', { max: 400, skipBlankLines: false, skipComments: false }],
      'max-params': ['error', 5],
      'no-console': 'error',
    },
  },
  {
    files: ['src/core/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [NO_VSCODE],
          patterns: [
            { group: ['./*/*', '../*'], message: 'The kernel (src/core/*.ts) imports only other kernel files.' },
          ],
        },
      ],
    },
  },
  ...ALL_ROOMS.map(roomRules),
  {
    files: ['src/cli/**/*.ts', 'src/cli.ts', 'test/unit/**/*.ts', 'test/proxy/**/*.ts', 'test/fakes/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [NO_VSCODE],
          patterns: [
            {
              group: ['**/vscode/*', '**/extension'],
              message: 'Node-only code and tests never load the editor adapters.',
            },
          ],
        },
      ],
    },
  },
  {
    // Tests: chai-style helpers and fakes take liberties the product code does not.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        __filename: 'readonly',
        performance: 'readonly',
        AbortController: 'readonly',
        fetch: 'readonly',
        TextDecoder: 'readonly',
        TextEncoder: 'readonly',
        queueMicrotask: 'readonly',
        structuredClone: 'readonly',
        exports: 'writable',
        globalThis: 'readonly',
        AbortSignal: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
);
