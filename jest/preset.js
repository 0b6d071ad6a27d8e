// Shared Jest configuration. Every package's jest.config.js calls this with its own directory.
// Three tiers are Jest projects, picked with --selectProjects: unit (pure logic, *.spec.ts),
// integration (one service or package against real Redis/Postgres/S3/ORT, *.int-spec.ts) and
// e2e (services as processes, *.e2e-spec.ts).
const path = require('node:path');

const repoRoot = path.resolve(__dirname, '..');

const swcTransform = [
  '@swc/jest',
  {
    jsc: {
      target: 'es2022',
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      keepClassNames: true,
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];

function project(dir, name, match, extra = {}) {
  return {
    displayName: name,
    rootDir: dir,
    // ONNX Runtime checks typed arrays with instanceof; Jest's default sandbox has its own
    // Float32Array, so tensors made in tests would be refused (see ENVIRONMENT.md).
    testEnvironment: path.join(__dirname, 'node-environment.js'),
    transform: { '^.+\\.(t|j)sx?$': swcTransform },
    transformIgnorePatterns: ['/node_modules/'],
    moduleFileExtensions: ['ts', 'js', 'json', 'node'],
    // Tests import workspace packages from source so a unit run needs no build.
    moduleNameMapper: {
      '^@strata/([a-z-]+)$': path.join(repoRoot, 'packages/$1/src'),
      // ESM-style relative imports (`./x.js`) in TypeScript sources resolve to the .ts file.
      '^(\\.{1,2}/.*)\\.js$': '$1',
    },
    testMatch: match,
    ...extra,
  };
}

module.exports = function preset(dir, overrides = {}) {
  return {
    projects: [
      project(
        dir,
        'unit',
        ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/unit/**/*.spec.ts'],
        overrides.unit,
      ),
      project(dir, 'integration', ['<rootDir>/test/integration/**/*.int-spec.ts'], {
        setupFilesAfterEnv: [path.join(__dirname, 'timeout-integration.js')],
        ...overrides.integration,
      }),
      project(dir, 'e2e', ['<rootDir>/test/e2e/**/*.e2e-spec.ts'], {
        setupFilesAfterEnv: [path.join(__dirname, 'timeout-e2e.js')],
        ...overrides.e2e,
      }),
    ],
  };
};
