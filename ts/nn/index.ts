/**
 * Layers, models and losses for training on the CPU. Named re-exports only.
 * @module
 */
export { Module, tensor, numel, type Tensor, type StateEntry } from './module.js';
export { Generator, defaultGenerator, manualSeed, type GeneratorState } from './generator.js';
export { Linear, type LinearOptions } from './linear.js';
export { Conv2d, type Conv2dOptions } from './conv2d.js';
export { MaxPool2d, type MaxPool2dOptions } from './max-pool2d.js';
export { ReLU, type ReLUOptions } from './relu.js';
export { Flatten, type FlattenOptions } from './flatten.js';
export { Dropout, type DropoutOptions } from './dropout.js';
export { Sequential } from './sequential.js';
export { CrossEntropyLoss, type CrossEntropyLossOptions, type Targets } from './cross-entropy-loss.js';
export { mlp, cnn, type PresetOptions } from './presets.js';
export { encodeSafetensors, decodeSafetensors, loadWeights, type SafetensorsContents } from './safetensors.js';
export { type Size2 } from './options.js';
