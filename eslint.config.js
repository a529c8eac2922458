// Lint configuration: typescript-eslint's recommended rules over the program, the simulator,
// the dashboards, the tests and the benchmark.
const js = require("@eslint/js");
const tseslint = require("typescript-eslint");

module.exports = tseslint.config(
  { ignores: ["**/node_modules/**", "**/dist/**", "coverage/**", ".pulumi-state/**", ".cache/**", "sbom/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { require: "readonly", module: "writable", __dirname: "readonly", process: "readonly", console: "readonly" } },
    rules: {
      // Tests and the mock harness deal in untyped provider inputs.
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-require-imports": "off",
    },
  },
);
