/**
 * The only importer of the generated binding. It narrows its types and turns the native
 * `TypeError: ` / `RangeError: ` message prefixes into the matching JS error classes.
 * @module
 */
import type * as Binding from '../native/index.js';
import localRequire from './cjs-require.cjs';

/**
 * Loads the generated loader (`native/index.js`), which picks `native/ferroptim.<platform>.node`
 * (a source build) or the `ferroptim-<platform>` package. When neither loads, its error is a long
 * chain of causes around an npm bug link; this replaces it with one error that names the platform,
 * what was tried and how to build from source.
 */
function loadBinding(): typeof Binding {
  try {
    return localRequire('../native/index.js') as typeof Binding;
  } catch (e) {
    if (!(e instanceof Error) || !/^(Cannot find|Failed to load) native binding/.test(e.message)) throw e;
    const { platform, arch } = process;
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    const libc = platform !== 'linux' ? '' : header?.glibcVersionRuntime ? ` glibc ${header.glibcVersionRuntime}` : ' musl';
    const tried: string[] = [];
    const failed: string[] = [];
    for (let c: unknown = e.cause; c instanceof Error; c = c.cause) {
      const first = c.message.split('\n')[0]!;
      const name = /^Cannot find module '([^']+)'/.exec(first)?.[1];
      // The loader also tries WASI builds, which ferroptim does not publish; an unsupported arch
      // shows as nothing tried.
      if (name !== undefined) {
        if (!name.includes('wasi') && !name.endsWith('.wasm')) tried.unshift(name.startsWith('./') ? `native/${name.slice(2)} (source build)` : name);
      } else if (!first.startsWith('Unsupported ')) failed.unshift(`  ${first}`);
    }
    const published = Object.keys((localRequire('../package.json') as { optionalDependencies?: object }).optionalDependencies ?? {});
    throw new Error(
      [
        `ferroptim: no native binary for this platform (${platform} ${arch}${libc}).`,
        `Tried: ${tried.length > 0 ? tried.join(', ') : 'nothing; no package is built for this platform'}.`,
        ...(failed.length > 0 ? ['Found but failed to load:', ...failed] : []),
        `Prebuilt packages: ${published.join(', ')}.`,
        'If yours is listed, npm skipped the optional dependency: install without --omit=optional; if it',
        'is still missing, delete node_modules and package-lock.json and run `npm install` again',
        '(https://github.com/npm/cli/issues/4828).',
        'Otherwise build from source: clone the ferroptim repository and run `npm install` in it (needs',
        'Node.js >= 20 and a Rust toolchain from https://rustup.rs); it compiles native/ferroptim.<platform>.node.',
      ].join('\n'),
    );
  }
}

const binding = loadBinding();

// `FERROPTIM_*` variables set to a value the engine cannot use are ignored; say so once per
// process (the native side hands each description out only once, also across worker threads).
for (const message of binding.takeEnvWarnings()) {
  process.emitWarning(message, { type: 'FerroptimWarning', code: 'FERROPTIM_INVALID_ENV' });
}

// Node defines `Symbol.dispose` from 20.4 on (as `Symbol.for('nodejs.dispose')`); the classes
// that free memory in `[Symbol.dispose]()` need it when they are defined.
if (typeof Symbol.dispose !== 'symbol') {
  Object.defineProperty(Symbol, 'dispose', { value: Symbol.for('nodejs.dispose') });
}

export type NativeOptimizer = Binding.NativeOptimizer;
export type NativeLookahead = Binding.NativeLookahead;
export type NativeAdafactor = Binding.NativeAdafactor;
export type NativeMuon = Binding.NativeMuon;

/** Re-throws a native error as the JS error class its message names. */
export function mapNativeError(e: unknown, ctx: string, rename?: (msg: string) => string): never {
  if (e instanceof Error) {
    const m = /^(TypeError|RangeError): ([\s\S]*)$/.exec(e.message);
    if (m) {
      const msg = `${ctx}: ${rename ? rename(m[2]!) : m[2]}`;
      throw m[1] === 'TypeError' ? new TypeError(msg) : new RangeError(msg);
    }
  }
  throw e;
}

/** What a kernel declares natively: its hyperparameters in packing order, state slots, scalar state. */
export interface KernelSignature {
  readonly hyper: readonly string[];
  readonly slots: readonly string[];
  readonly extra: string | null;
}

let signatures: ReadonlyMap<string, KernelSignature> | undefined;

/**
 * The native declaration of a kernel: its `rule_signature!` in crate/src/kernels, as the binding
 * reports it (`kernelSignatures()`, read once). The kernels' names are the native side's
 * (`kernels!` in crate/src/bindings).
 * @throws Error for a kernel the binding does not have (a bug in a descriptor).
 */
export function kernelSignature(kind: string): KernelSignature {
  signatures ??= new Map(binding.kernelSignatures().map((k) => [k.name, Object.freeze({ hyper: Object.freeze([...k.hyper]), slots: Object.freeze([...k.slots]), extra: k.extra ?? null })]));
  const sig = signatures.get(kind);
  if (!sig) throw new Error(`ferroptim internal error (please report): no native kernel ${JSON.stringify(kind)} (the binding has ${[...signatures.keys()].join(', ')})`);
  return sig;
}

export function createNativeOptimizer(kind: string): NativeOptimizer {
  return new binding.NativeOptimizer(kind);
}

/** The native slow weights of one `Lookahead`. */
export function createNativeLookahead(): NativeLookahead {
  return new binding.NativeLookahead();
}

/** The native step and scratch of one `Adafactor`. */
export function createNativeAdafactor(): NativeAdafactor {
  return new binding.NativeAdafactor();
}

/** The native step and Newton–Schulz scratch of one `Muon`. */
export function createNativeMuon(): NativeMuon {
  return new binding.NativeMuon();
}

export const native = {
  gradNorms: (grads: Float32Array[], normType: number, out: Float64Array | null): number => binding.gradNorms(grads, normType, out),
  clipGradNorm: (grads: Float32Array[], maxNorm: number, normType: number, errorIfNonfinite: boolean, out: Float64Array | null): number =>
    binding.clipGradNorm(grads, maxNorm, normType, errorIfNonfinite, out),
  clipGradValue: (grads: Float32Array[], clipValue: number): void => binding.clipGradValue(grads, clipValue),
  setNumThreads: (n: number): void => binding.setNumThreads(n),
  maxNumThreads: (): number => binding.maxNumThreads(),
  getNumThreads: (): number => binding.getNumThreads(),
  simdLevel: (): string => binding.simdLevel(),
  adviseHugePages: (arena: Float32Array): boolean => binding.adviseHugePages(arena),
  detectedSimdLevel: (): string => binding.detectedSimdLevel(),
};

/** A pooling call's geometry, as the nn kernels take it. */
export type Pool2dGeometry = Binding.Pool2dGeometry;

/** The nn layers' kernels (crate/src/nn), used by `ts/nn`. */
export const nnNative = {
  linearForward: binding.linearForward,
  linearBackward: binding.linearBackward,
  conv2dForward: binding.conv2dForward,
  conv2dBackward: binding.conv2dBackward,
  conv2dReluMaxPool2dForward: binding.conv2dReluMaxPool2dForward,
  conv2dReluMaxPool2dBackward: binding.conv2dReluMaxPool2dBackward,
  maxPool2dForward: binding.maxPool2dForward,
  maxPool2dBackward: binding.maxPool2dBackward,
  reluForward: binding.reluForward,
  reluBackward: binding.reluBackward,
  dropoutForward: binding.dropoutForward,
  dropoutBackward: binding.dropoutBackward,
  crossEntropy: binding.crossEntropy,
  gatherScaled: binding.gatherScaled,
};
