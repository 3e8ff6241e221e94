/**
 * `ferroptim/internal`: the argument checks and limits the library's own API uses, for the
 * packages built on it (ferroptim-cli) so that their messages read like the library's. Not part of
 * the documented API: it may change in any release.
 * @internal
 * @module
 */
export * from './validate.js';
export { MAX_EPOCHS } from './train/checkpoint.js';
export { checkImageDataset } from './data/mnist.js';
