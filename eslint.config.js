import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tap/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      // type information for the rules below, from tsconfig.json
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname }
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      // a promise nobody awaits or catches loses its error; one passed where a callback is expected too
      '@typescript-eslint/no-floating-promises': ['error', {
        // tap awaits its own subtests and reports their failures: `t.test(…)` needs no await
        allowForKnownSafePromises: [{ from: 'package', name: 'PromiseWithSubtest', package: '@tapjs/core' }]
      }],
      '@typescript-eslint/no-misused-promises': 'error',
      'no-console': 'off',
      eqeqeq: ['error', 'always', { null: 'ignore' }]
    }
  }
)
