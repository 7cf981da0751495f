/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: { warnOnly: false } }],
  },
  // e2e suites boot a real systemd manager; give them room, and run suites one at a time on CI's 2 cores.
  testTimeout: 30000,
  maxWorkers: 2,
  verbose: true,
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
};
