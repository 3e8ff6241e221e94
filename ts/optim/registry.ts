/**
 * The registry: every optimizer by its lower-case name, with its descriptor and its class. The
 * CLI's `name:opt=v` specs, the benchmark, the docs tables and the conformance tests read the
 * optimizers from here; adding one is one line.
 * @module
 */
import type { OptimizerDescriptor } from './descriptor.js';
import type { Optimizer, ParamsInput } from './optimizer.js';
import type { CommonOptions } from './options.js';
import { AdaBound, ADABOUND_DESCRIPTOR } from './adabound.js';
import { Adadelta, ADADELTA_DESCRIPTOR } from './adadelta.js';
import { Adagrad, ADAGRAD_DESCRIPTOR } from './adagrad.js';
import { Adam, ADAM_DESCRIPTOR, AdamW, ADAMW_DESCRIPTOR } from './adam.js';
import { Adamax, ADAMAX_DESCRIPTOR } from './adamax.js';
import { AdamWScheduleFree, ADAMW_SCHEDULE_FREE_DESCRIPTOR } from './adamw-schedule-free.js';
import { ASGD, ASGD_DESCRIPTOR } from './asgd.js';
import { LAMB, LAMB_DESCRIPTOR } from './lamb.js';
import { Lion, LION_DESCRIPTOR } from './lion.js';
import { NAdam, NADAM_DESCRIPTOR } from './nadam.js';
import { RAdam, RADAM_DESCRIPTOR } from './radam.js';
import { RMSprop, RMSPROP_DESCRIPTOR } from './rmsprop.js';
import { Rprop, RPROP_DESCRIPTOR } from './rprop.js';
import { SGD, SGD_DESCRIPTOR } from './sgd.js';
import { SGDScheduleFree, SGD_SCHEDULE_FREE_DESCRIPTOR } from './sgd-schedule-free.js';

/**
 * The options every optimizer has.
 * @group Optimizers
 * @category Base class and parameters
 */
export interface BaseGroupOptions {
  /** Learning rate. */
  lr: number;
}

/**
 * A constructor of an optimizer class: `new AdamW(params, options)`.
 * @group Optimizers
 * @category Registry and descriptors
 */
export type OptimizerClass<O extends object = BaseGroupOptions> = new (params: ParamsInput<O>, options?: Partial<O> & CommonOptions) => Optimizer<O>;

/**
 * One registered optimizer: what defines it and the class that runs it.
 * @group Optimizers
 * @category Registry and descriptors
 */
export interface RegisteredOptimizer<O extends object = BaseGroupOptions> {
  /** What defines the optimizer: options, ranges, state, reference. */
  readonly descriptor: OptimizerDescriptor<O>;
  /** The optimizer's class, to construct it: `new Class(params, options)`. */
  readonly Class: OptimizerClass<O>;
}

/** Freezes `v` and everything it holds (a descriptor is shared by every optimizer of its class). */
function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

function entry<O extends object>(Class: OptimizerClass<O>, descriptor: OptimizerDescriptor<O>): RegisteredOptimizer<O> {
  return Object.freeze({ descriptor: deepFreeze(descriptor), Class });
}

/**
 * Every ferroptim optimizer, by lower-case name (`'adamw'`), in alphabetical order.
 * @example
 * ```ts
 * const { Class, descriptor } = OPTIMIZERS.adamw!;
 * descriptor.options.weightDecay.default; // 0.01
 * const opt = new Class([new Parameter(new Float32Array(4))], { lr: 1e-3 });
 * ```
 * @group Optimizers
 * @category Registry and descriptors
 */
export const OPTIMIZERS: Readonly<Record<string, RegisteredOptimizer>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, RegisteredOptimizer>, {
    adabound: entry(AdaBound, ADABOUND_DESCRIPTOR),
    adadelta: entry(Adadelta, ADADELTA_DESCRIPTOR),
    adagrad: entry(Adagrad, ADAGRAD_DESCRIPTOR),
    adam: entry(Adam, ADAM_DESCRIPTOR),
    adamax: entry(Adamax, ADAMAX_DESCRIPTOR),
    adamw: entry(AdamW, ADAMW_DESCRIPTOR),
    adamwschedulefree: entry(AdamWScheduleFree, ADAMW_SCHEDULE_FREE_DESCRIPTOR),
    asgd: entry(ASGD, ASGD_DESCRIPTOR),
    lamb: entry(LAMB, LAMB_DESCRIPTOR),
    lion: entry(Lion, LION_DESCRIPTOR),
    nadam: entry(NAdam, NADAM_DESCRIPTOR),
    radam: entry(RAdam, RADAM_DESCRIPTOR),
    rmsprop: entry(RMSprop, RMSPROP_DESCRIPTOR),
    rprop: entry(Rprop, RPROP_DESCRIPTOR),
    sgd: entry(SGD, SGD_DESCRIPTOR),
    sgdschedulefree: entry(SGDScheduleFree, SGD_SCHEDULE_FREE_DESCRIPTOR),
  } as Record<string, RegisteredOptimizer>),
);
