import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'coverage/', 'cdk.out/', '.venv/', '.local/', 'dist/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // Prices, quantities and money arrive as strings and must stay exact: parse them with src/core/decimal.
      'no-restricted-globals': ['error', { name: 'parseFloat', message: 'Use dec() from src/core/decimal for prices, quantities and money.' }],
      'no-restricted-properties': ['error', { object: 'Number', property: 'parseFloat', message: 'Use dec() from src/core/decimal.' }],
      // big.js strict mode throws on number arguments at run time; catch the literal ones before that.
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name=/^(gt|gte|lt|lte|eq|cmp|plus|minus|times|div|mod)$/][arguments.0.type='Literal'][arguments.0.raw=/^[0-9.]/]",
          message: 'Pass a Decimal (ZERO, dec("...")) to decimal arithmetic, not a number.',
        },
      ],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', URL: 'readonly', console: 'readonly', Buffer: 'readonly' },
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
