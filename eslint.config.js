// ESLint flat config: eslint's and typescript-eslint's recommended rules, type-aware for the
// TypeScript (the library is promise- and fd-heavy: a floating promise is a lost barrier).
// Layout is prettier's job, so no stylistic rules here.
const js = require('@eslint/js');
const globals = require('globals');
const tseslint = require('typescript-eslint');
const { defineConfig, globalIgnores } = require('eslint/config');

module.exports = defineConfig([
  globalIgnores([
    'dist/',
    'build/',
    'node_modules/',
    'prebuilds/',
    'coverage/',
    '.tmp/',
    'bench/.deps/',
  ]),

  {
    files: ['**/*.js', '**/*.cjs'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
  },
  {
    files: ['**/*.mjs'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'module', globals: globals.node },
  },

  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: __dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Tests and the binding's typed interface legitimately poke at loosely typed values.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // An async function that awaits nothing still promises to reject instead of throwing.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    languageOptions: { globals: globals.jest },
    rules: {
      // expect(mock.fn).toHaveBeenCalled() and friends pass methods around on purpose.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
]);
