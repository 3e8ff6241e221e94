// What a user of both packages sees: the library by its package name (the build in dist/, the
// same module the application imports) and the application's own API from its sources.
export * from 'ferroptim';
export * from '../../src/index.js';
