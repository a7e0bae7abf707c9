// ESLint 9 flat config, run by `make test` (`make lint` too): the page scripts are ES modules
// in the browser; the service worker's parts are classic scripts (importScripts in
// templates/pwa/sw.js), with the worker's globals. Nothing is bundled: what is linted is served.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/", "staticfiles/", "var/", ".venv/", "htmlcov/", "templates/"] },
  js.configs.recommended,
  {
    files: ["static/js/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser },
    },
  },
  {
    files: ["static/js/sw/**/*.js"],
    languageOptions: {
      sourceType: "script",
      globals: { ...globals.serviceworker },
    },
  },
  {
    files: ["eslint.config.js"],
    languageOptions: { sourceType: "module", globals: { ...globals.node } },
  },
];
