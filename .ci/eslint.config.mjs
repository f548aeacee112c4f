// ESLint for the Postman scripts (scripts/postman/*.js), run by .ci/eslint.
//
// Each file is a list of top-level functions that scripts/build_postman.py copies into the
// requests that call them, so a function defined in one file is a global in all the others.
// Postman runs the scripts as plain scripts (not modules) in its sandbox, where `pm` and the
// older `postman` object are the globals it adds.
import { readFileSync, readdirSync } from "node:fs";
import js from "@eslint/js";

const SCRIPTS = new URL("../scripts/postman/", import.meta.url);
const functionsOfTheScripts = Object.fromEntries(
    readdirSync(SCRIPTS)
        .filter(name => name.endsWith(".js"))
        .flatMap(name => [...readFileSync(new URL(name, SCRIPTS), "utf8").matchAll(/^function (\w+)\(/gm)])
        .map(match => [match[1], "readonly"]),
);

export default [
    js.configs.recommended,
    {
        files: ["scripts/postman/**/*.js"],
        languageOptions: {
            ecmaVersion: 2022,
            sourceType: "script",
            globals: {pm: "readonly", postman: "readonly", console: "readonly", ...functionsOfTheScripts},
        },
        rules: {
            // A top-level function is used by other files (and the collection), not by its own.
            "no-unused-vars": ["error", {vars: "local"}],
            // Each file defines the globals listed above: that is not a redeclaration.
            "no-redeclare": ["error", {builtinGlobals: false}],
            "no-var": "error",
            "prefer-const": "error",
            eqeqeq: "error",
        },
    },
];
