/**
 * The article's models: `mlp` (784-128-10) and `cnn` (SimpleCNN).
 * @module
 */
import { checkKnownKeys, checkNumber, checkOptions } from '../validate.js';
import { Conv2d } from './conv2d.js';
import { Flatten } from './flatten.js';
import { Linear } from './linear.js';
import { MaxPool2d } from './max-pool2d.js';
import { generatorOption } from './options.js';
import { Generator } from './generator.js';
import { ReLU } from './relu.js';
import { Sequential } from './sequential.js';

/**
 * Options of the model presets.
 * @group Layers and models
 */
export interface PresetOptions {
  /** Seed of a fresh generator for the initial weights (takes precedence over `generator`). */
  seed?: number;
  /** The generator for the initial weights. @defaultValue the default generator */
  generator?: Generator;
}

function gen(ctx: string, options: PresetOptions): Generator {
  const o = checkOptions(ctx, options);
  checkKnownKeys(ctx, o, ['seed', 'generator']);
  // Both are checked, though a seed wins: a bad generator is never ignored silently.
  const g = generatorOption(ctx, o.generator);
  if (o.seed !== undefined) return new Generator(checkNumber(ctx, 'seed', o.seed, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER }));
  return g;
}

/**
 * The MLP: Flatten, Linear(784, 128), ReLU, Linear(128, 10). Input `[N, 1, 28, 28]` or `[N, 784]`.
 * Parameters: `1.weight`, `1.bias`, `3.weight`, `3.bias` (as PyTorch's
 * `nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))`).
 * @example
 * ```ts
 * const model = mlp({ seed: 0 });
 * ```
 * @throws TypeError or RangeError for an unknown option, a seed that is not an integer >= 0, or
 * a generator that is not a {@link Generator}.
 * @group Layers and models
 */
export function mlp(options: PresetOptions = {}): Sequential {
  const g = gen('mlp', options);
  return new Sequential(new Flatten(), new Linear(784, 128, { generator: g }), new ReLU({ inplace: true }), new Linear(128, 10, { generator: g }));
}

/**
 * The article's SimpleCNN, exactly: conv 1→32 3×3 padding 1, ReLU, max-pool 2; conv 32→64 3×3
 * padding 1, ReLU, max-pool 2; flatten; linear 3136→128, ReLU; linear 128→10. Input
 * `[N, 1, 28, 28]`. Parameters: `0.*` (conv1), `3.*` (conv2), `7.*` (fc1), `9.*` (fc2), so the
 * safetensors file loads into the same `nn.Sequential` in PyTorch.
 *
 * @remarks The ReLUs work in place (same values as PyTorch's; less memory traffic).
 * @example
 * ```ts
 * const model = cnn({ seed: 0 }); // 421,642 parameters
 * ```
 * @throws TypeError or RangeError for an unknown option, a seed that is not an integer >= 0, or
 * a generator that is not a {@link Generator}.
 * @group Layers and models
 */
export function cnn(options: PresetOptions = {}): Sequential {
  const g = gen('cnn', options);
  return new Sequential(
    new Conv2d(1, 32, 3, { padding: 1, generator: g }),
    new ReLU({ inplace: true }),
    new MaxPool2d(2),
    new Conv2d(32, 64, 3, { padding: 1, generator: g }),
    new ReLU({ inplace: true }),
    new MaxPool2d(2),
    new Flatten(),
    new Linear(64 * 7 * 7, 128, { generator: g }),
    new ReLU({ inplace: true }),
    new Linear(128, 10, { generator: g }),
  );
}
