/**
 * A CommonJS `require` that resolves from this directory. `native.ts` loads the generated binding
 * through it so that the loader's failure can be caught whether the facade runs as CommonJS
 * (`dist/`) or as an ES module (the tests and benchmarks under `@oxc-node/core`), where a static
 * `import` of a missing binding could not be caught.
 * @module
 */
const localRequire: NodeJS.Require = require;
export = localRequire;
