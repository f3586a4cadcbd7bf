import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // The library never depends on the sample application.
    files: ['src/cache/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['../*'], message: 'src/cache must not import from the sample application.' }],
        },
      ],
    },
  },
  {
    files: ['src/cache/*/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['../../*'], message: 'src/cache must not import from the sample application.' },
          ],
        },
      ],
    },
  },
  {
    // The sample application uses the library only through its public entry point.
    files: ['src/**/*.ts'],
    ignores: ['src/cache/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '/cache/(?!(index|terminus)\\.js$).+',
              message:
                'Import the caching library through its entry points only (src/cache/index.js, src/cache/terminus.js).',
            },
          ],
        },
      ],
    },
  },
  { files: ['**/*.mjs', '**/*.js'], ...tseslint.configs.disableTypeChecked },
  {
    // Plain scripts (benchmarks, the load worker) run on Node.
    files: ['**/*.mjs'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'process',
          'console',
          'setTimeout',
          'clearTimeout',
          'setImmediate',
          'performance',
          'fetch',
          'AbortSignal',
          'Buffer',
          'URL',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);
