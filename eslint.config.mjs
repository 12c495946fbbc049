// ESLint 9 flat config for the whole workspace: `npx eslint .` (or `npm run lint`).
//
// Three layers:
//   1. @eslint/js + typescript-eslint "recommended" (no type information, so it stays fast).
//   2. @nx/enforce-module-boundaries: which project may import which, by the Nx tags in each
//      project.json (docs/conventions.md; depConstraints below).
//   3. no-restricted-imports for Node built-ins in the pure libs. Nx cannot do this part: its rule
//      ignores imports that resolve to neither a project nor an npm package, and `node:fs` is neither.
//
// The Nx rule reads the CACHED project graph and silently skips itself when none exists. So this
// file builds the graph first (in-process, no daemon, no cloud) before ESLint lints anything.
import { createRequire } from 'node:module';

import js from '@eslint/js';
import nxPlugin from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const require = createRequire(import.meta.url);

process.env.NX_DAEMON = 'false';
process.env.NX_NO_CLOUD = 'true';
{
  const { createProjectGraphAsync } = require('@nx/devkit');
  try {
    await createProjectGraphAsync({ exitOnError: false });
  } catch (err) {
    // Without a graph the boundary rule would be skipped without a word: refuse instead.
    throw new Error(`eslint.config.mjs: could not compute the Nx project graph: ${err?.message ?? err}`);
  }
}

// ---- Boundaries ------------------------------------------------------------------------------

/** Tags a project may carry (one `type:*` each; services add `scope:<name>`). */
const TYPE = {
  domain: 'type:domain', // libs/kernel-model: the pure model of the kernel path
  scenario: 'type:scenario', // libs/scenario: scenario format and embedded runner
  contracts: 'type:contracts', // libs/contracts: wire schemas (zod)
  dataAccess: 'type:data-access', // libs/persistence: Prisma + Redis
  infra: 'type:infra', // libs/messaging, libs/telemetry, libs/stack (launchers and probes of the local stack)
  serviceKit: 'type:service-kit', // libs/service-kit: env, infrastructure module, /health, bootstrap, the hop host every service runs
  testing: 'type:testing', // libs/testing
  app: 'type:app', // services/*
  tool: 'type:tool', // tools/cli
};

/** Frameworks and I/O the pure libraries must never see (STYLE.md: "the one hard rule"). */
const IMPURE_PACKAGES = [
  '@nestjs/*',
  'kafkajs',
  '@prisma/*',
  'prisma',
  'ioredis',
  '@opentelemetry/*',
  'zod',
  'yaml',
  'pg',
];
/** Node built-ins that do I/O; enforced by no-restricted-imports below, listed here too. */
const IMPURE_BUILTINS = [
  'fs',
  'node:fs',
  'fs/promises',
  'node:fs/promises',
  'child_process',
  'node:child_process',
  'net',
  'node:net',
  'http',
  'node:http',
];

const depConstraints = [
  {
    sourceTag: TYPE.domain,
    onlyDependOnLibsWithTags: [TYPE.domain],
    bannedExternalImports: [...IMPURE_PACKAGES, ...IMPURE_BUILTINS],
  },
  {
    // The scenario lib parses YAML but is otherwise as pure as the domain it drives.
    sourceTag: TYPE.scenario,
    onlyDependOnLibsWithTags: [TYPE.domain, TYPE.scenario],
    bannedExternalImports: [...IMPURE_PACKAGES.filter((p) => p !== 'yaml'), ...IMPURE_BUILTINS],
  },
  {
    // Contracts and domain do not import each other; the service maps between them.
    sourceTag: TYPE.contracts,
    onlyDependOnLibsWithTags: [],
    allowedExternalImports: ['zod'],
  },
  {
    sourceTag: TYPE.dataAccess,
    onlyDependOnLibsWithTags: [TYPE.domain, TYPE.contracts, TYPE.infra],
  },
  {
    sourceTag: TYPE.infra,
    onlyDependOnLibsWithTags: [TYPE.contracts, TYPE.infra],
  },
  {
    // Test helpers may wrap anything except a deployable.
    sourceTag: TYPE.testing,
    onlyDependOnLibsWithTags: [
      TYPE.domain,
      TYPE.scenario,
      TYPE.contracts,
      TYPE.dataAccess,
      TYPE.infra,
      TYPE.testing,
    ],
  },
  {
    // What every service shares (Nest wiring of Kafka, Prisma, Redis); only services use it.
    sourceTag: TYPE.serviceKit,
    onlyDependOnLibsWithTags: [TYPE.domain, TYPE.contracts, TYPE.infra, TYPE.dataAccess],
  },
  {
    sourceTag: TYPE.app,
    onlyDependOnLibsWithTags: [TYPE.domain, TYPE.contracts, TYPE.dataAccess, TYPE.infra, TYPE.serviceKit],
  },
  {
    // The CLI may use every library, but never a service's code (it talks to services over Kafka/HTTP).
    sourceTag: TYPE.tool,
    onlyDependOnLibsWithTags: [
      TYPE.domain,
      TYPE.scenario,
      TYPE.contracts,
      TYPE.dataAccess,
      TYPE.infra,
      TYPE.testing,
      TYPE.tool,
    ],
  },
];

/** Tests (`*.spec.ts`, `*.int-spec.ts`) may additionally use libs/testing, whatever their project. */
const testDepConstraints = depConstraints.map((c) =>
  c.onlyDependOnLibsWithTags.length === 0 || c.onlyDependOnLibsWithTags.includes(TYPE.testing)
    ? c
    : { ...c, onlyDependOnLibsWithTags: [...c.onlyDependOnLibsWithTags, TYPE.testing] },
);

const boundaryOptions = (constraints) => ({
  enforceBuildableLibDependency: false,
  allow: [],
  depConstraints: constraints,
});

const restrictBuiltins = {
  'no-restricted-imports': [
    'error',
    {
      patterns: [
        {
          group: IMPURE_BUILTINS.flatMap((m) => [m, `${m}/*`]),
          message:
            'Pure libraries do no I/O: take the data as an argument and let the service read it (STYLE.md, "the one hard rule").',
        },
      ],
    },
  ],
};

// ---- Config ----------------------------------------------------------------------------------

const TS_FILES = ['**/*.ts', '**/*.mts', '**/*.cts'];
const JS_FILES = ['**/*.js', '**/*.mjs', '**/*.cjs'];
const TEST_FILES = ['**/*.spec.ts', '**/*.int-spec.ts'];

/** The Node globals our plain-JS scripts use (the `globals` package is not a direct dependency). */
const NODE_GLOBALS = Object.fromEntries(
  [
    'AbortController',
    'Buffer',
    'URL',
    'URLSearchParams',
    'clearInterval',
    'clearTimeout',
    'console',
    'fetch',
    'globalThis',
    'process',
    'queueMicrotask',
    'setImmediate',
    'setInterval',
    'setTimeout',
    'structuredClone',
  ].map((name) => [name, 'readonly']),
);
const COMMONJS_GLOBALS = { __dirname: 'readonly', __filename: 'readonly', exports: 'writable', module: 'writable', require: 'readonly' };

export default tseslint.config(
  {
    name: 'mfsim/ignores',
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/coverage/**',
      '**/*.d.ts',
      '.nx/**',
      '.mfsim/**',
      'deploy/kafka/target/**',
      'libs/persistence/src/generated/**',
    ],
  },
  {
    name: 'mfsim/js',
    files: JS_FILES,
    extends: [js.configs.recommended],
    languageOptions: { ecmaVersion: 'latest', globals: NODE_GLOBALS },
  },
  {
    name: 'mfsim/js-commonjs',
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...NODE_GLOBALS, ...COMMONJS_GLOBALS } },
  },
  {
    name: 'mfsim/ts',
    files: TS_FILES,
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    rules: {
      // `_`-prefixed names are deliberate (e.g. `const _exhaustive: never = x`, STYLE.md D.4).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
  {
    name: 'mfsim/module-boundaries',
    files: [...TS_FILES, ...JS_FILES],
    plugins: { '@nx': nxPlugin },
    rules: { '@nx/enforce-module-boundaries': ['error', boundaryOptions(depConstraints)] },
  },
  {
    name: 'mfsim/module-boundaries-tests',
    files: TEST_FILES,
    rules: { '@nx/enforce-module-boundaries': ['error', boundaryOptions(testDepConstraints)] },
  },
  {
    // Production code only: a test may read its fixtures from disk.
    name: 'mfsim/pure-libs',
    files: ['libs/kernel-model/**', 'libs/scenario/**'],
    ignores: TEST_FILES,
    rules: restrictBuiltins,
  },
  {
    // Every kernel-model hop is a generator so that any hop can call into another subsystem;
    // a hop that happens to call nobody (a lookup, a state change) still has that shape.
    name: 'mfsim/kernel-model-hops',
    files: ['libs/kernel-model/**'],
    rules: { 'require-yield': 'off' },
  },
);
