// ESLint (flat config), run by `npm test` and `npm run lint` after `prettier --check`. Prettier owns the layout
// (.prettierrc.json, 140 columns); ESLint finds bugs, plus the long lines Prettier cannot wrap (comments,
// long strings are allowed: splitting a message or a URL hides it from grep).
import { createRequire } from "node:module";
import path from "node:path";
import js from "@eslint/js";
import stylistic from "@stylistic/eslint-plugin";
import globals from "globals";
import { defineConfig } from "eslint/config";

// typescript-eslint parses with the classic TypeScript API, which TypeScript 7 (the project's `tsc`) no longer
// ships: its `require("typescript")` gets TypeScript 6 (@typescript/typescript6, the same language, kept by the
// TypeScript team for such tools) instead. Only inside this ESLint process; tsc, the build and the tests use 7.
const require = createRequire(import.meta.url);
const Module = require("node:module");
const typescript6 = path.dirname(require.resolve("@typescript/typescript6/package.json"));
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const redirected =
    request === "typescript" ? typescript6 : request.startsWith("typescript/") ? path.join(typescript6, request.slice(11)) : request;
  return resolveFilename.call(this, redirected, ...rest);
};
const { default: tseslint } = await import("typescript-eslint");

/** The longest line: Prettier's printWidth, so a line Prettier could not wrap is the only kind reported. */
const MAX_LEN = 140;

export default defineConfig(
  {
    ignores: ["dist/", "dist.next-*/", "dist.old-*/", "src/generated/", "node_modules/", "coverage/", "test-results/"],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    plugins: { "@stylistic": stylistic },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "@stylistic/max-len": [
        "error",
        {
          code: MAX_LEN,
          tabWidth: 2,
          ignoreUrls: true,
          ignoreStrings: true,
          ignoreTemplateLiterals: true,
          ignoreRegExpLiterals: true,
          ignoreComments: false,
        },
      ],
      // Input checks reject control characters on purpose (return_to, redirect URIs, e-mail addresses): a regex
      // naming \x00-\x1f is how they say it, never a typo.
      "no-control-regex": "off",
      // Prettier breaks `a\n  [i]` chains itself (the line before never ends in a way that joins them), as
      // eslint-config-prettier says.
      "no-unexpected-multiline": "off",
      // `_name` marks a parameter a signature needs but the body does not use.
      // `const { secret, ...rest } = x` leaves out `secret` on purpose.
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true },
      ],
      // A `let` that closures read before its one assignment (oidc-provider's Provider, built after the adapters that
      // point at it) cannot be a `const` at its declaration.
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // Domain code: no escape hatch from the type checker.
    files: ["src/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "error" },
  },
  {
    // Tests and the bench may poke at untyped shapes (a JSON body, a mock); said out loud, not an error.
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "warn" },
  },
  {
    // The page script runs in the browser.
    files: ["static/**/*.js"],
    languageOptions: { globals: { ...globals.browser } },
  },
);
