/**
 * Data: the MNIST loader and seeded mini-batches. Named re-exports only.
 * @module
 */
export { loadMnist, defaultMnistDir, parseIdx, type LoadMnistOptions, type ImageDataset, type MnistSplit } from './mnist.js';
export { batches, numBatches, type Batch, type BatchesOptions } from './batches.js';
