/**
 * Optimizers named by a short text spec, `name:option=value,...` (`sgd:lr=0.001,momentum=0.9`),
 * so a command line or a config file can ask for any ferroptim optimizer with any options.
 * @module
 */
import {
  Adafactor, ADAFACTOR_OPTIONS, AdamW, ADAMW_DEFAULTS, LBFGS, LBFGS_OPTIONS, Lookahead, LOOKAHEAD_DEFAULTS, MultiOptimizer, Muon, MUON_OPTIONS, OPTIMIZERS, splitMuonParams, type OptionSpec, type Parameter, type TrainableOptimizer,
} from 'ferroptim';
import { checkKnownFields, checkRecord, checkString, describeValue } from 'ferroptim/internal';

/** An optimizer outside the registry that a spec names. */
interface Other {
  /** Its name in tables and legends. */
  label: string;
  /** What the help text says after its options and their defaults (those of `options`). */
  note: string;
  /**
   * Its numeric and boolean options (default and range) as the registry's descriptors give theirs,
   * which `ferroptim tune` can search; absent when they depend on another choice (Lookahead's inner).
   */
  options?: Readonly<Record<string, OptionSpec>>;
  make(params: Parameter[], options: Record<string, unknown>): TrainableOptimizer;
}

/** The optimizers outside the registry that a spec names: what its options are, and how it is made. */
const OTHERS: Readonly<Record<string, Other>> = {
  lookahead: {
    label: 'Lookahead',
    note: `inner=adam k=${LOOKAHEAD_DEFAULTS.k} alpha=${LOOKAHEAD_DEFAULTS.alpha}, and the inner optimizer's options`,
    make(params, options) {
      const { inner = 'adam', ...rest } = options;
      const la: Record<string, unknown> = {};
      for (const k of Object.keys(LOOKAHEAD_DEFAULTS)) {
        if (k in rest) {
          la[k] = rest[k];
          delete rest[k];
        }
      }
      const Inner = typeof inner === 'string' ? OPTIMIZERS[inner.toLowerCase()]?.Class : undefined;
      if (!Inner) throw new RangeError(`createOptimizer: expected lookahead's inner to be one of ${Object.keys(OPTIMIZERS).join(', ')}, received ${describeValue(inner)}`);
      return new Lookahead(new Inner(params, rest), la) as unknown as TrainableOptimizer;
    },
  },
  adafactor: {
    label: 'Adafactor',
    note: '(torch.optim.Adafactor; factored by parameter shape)',
    options: ADAFACTOR_OPTIONS,
    make: (params, options) => new Adafactor(params, options),
  },
  muon: {
    label: 'Muon + AdamW',
    note: '(Muon for the 2-D weights but the last, the output layer; AdamW with adamwLr and weight decay 0.01 for the rest)',
    options: { ...MUON_OPTIONS, adamwLr: { type: 'number', default: ADAMW_DEFAULTS.lr, range: { min: 0 } } },
    make(params, options) {
      const { adamwLr = ADAMW_DEFAULTS.lr, ...muonOptions } = options;
      // The output layer is the model's last 2-D weight; Muon takes the others.
      const head = [...params].reverse().find((p) => p.shape.length === 2);
      const { muon, adamw } = splitMuonParams(params, { exclude: [(p: Parameter) => p === head] });
      if (muon.length === 0) throw new RangeError('createOptimizer: muon needs 2-D weights besides the output layer, and these parameters have none');
      return new MultiOptimizer([new Muon(muon, muonOptions), new AdamW(adamw, { lr: adamwLr as number })]) as unknown as TrainableOptimizer;
    },
  },
  lbfgs: {
    label: 'L-BFGS',
    note: 'lineSearchFn=null (torch.optim.LBFGS; up to maxEval evaluations of the batch per step; lineSearchFn=strong_wolfe)',
    options: LBFGS_OPTIONS,
    make: (params, options) => new LBFGS(params, options),
  },
};

/**
 * The names {@link parseOptimizerSpec} accepts.
 * @group Optimizer specs
 */
export const OPTIMIZER_NAMES: readonly string[] = Object.freeze([...Object.keys(OPTIMIZERS), ...Object.keys(OTHERS)]);

/**
 * An optimizer's options that a search can sample (numeric and boolean, with default and range),
 * from its descriptor or, outside the registry, its option table; `undefined` for an unknown name
 * or one whose options depend on another choice (Lookahead).
 */
export function optimizerOptionSpecs(name: string): Readonly<Record<string, OptionSpec>> | undefined {
  return OPTIMIZERS[name]?.descriptor.options ?? OTHERS[name]?.options;
}

/** An optimizer's name in tables and legends: `AdamW`, `Muon + AdamW`, `L-BFGS`. */
export function optimizerLabel(name: string): string {
  return OPTIMIZERS[name]?.descriptor.name ?? OTHERS[name]?.label ?? name;
}

/**
 * Every optimizer's options with their defaults, as a spec writes them (`lr=0.001`,
 * `betas=0.9,0.999`), from the descriptors or the option tables of the optimizers outside the
 * registry: one line per optimizer, for help texts and messages.
 */
export function optimizerOptionsText(name: string): string {
  const opts = Object.entries(optimizerOptionSpecs(name) ?? {}).map(([k, o]) => `${k}=${o.type === 'pair' ? o.default.join(',') : o.type === 'derived' ? o.from : String(o.default)}`);
  const note = OTHERS[name]?.note;
  return `${name}: ${[...opts, ...(note ? [note] : [])].join(' ')}`;
}

/**
 * A parsed optimizer spec.
 * @group Optimizer specs
 */
export interface OptimizerSpec {
  /** Lower-case optimizer name: `'sgd'`, `'adamw'`, `'lookahead'`. */
  name: string;
  /** Constructor options, camelCase: `{ lr: 0.001, momentum: 0.9 }`. */
  options: Record<string, unknown>;
  /** A label for legends and tables: the spec as written. */
  label: string;
}

const CTX = 'parseOptimizerSpec';

function camelCase(key: string): string {
  return key.replace(/[-_]+([a-z0-9])/gi, (_, c: string) => c.toUpperCase());
}

function parseValue(raw: string, spec: string): number | boolean | string {
  const v = raw.trim();
  if (v === 'true') return true;
  if (v === 'false') return false;
  const n = Number(v);
  if (v !== '' && Number.isFinite(n)) return n;
  if (/^[a-z][a-z0-9_]*$/i.test(v)) return v; // e.g. lookahead's inner=adam, lbfgs's lineSearchFn=strong_wolfe
  throw new RangeError(`${CTX}: expected a number, true, false or a name as the value in ${describeValue(spec)}, received ${describeValue(raw)}`);
}

/**
 * Parses `name:option=value,...`. Keys may be camelCase, snake_case or kebab-case
 * (`weight_decay`, `weight-decay` and `weightDecay` are one option); values are numbers or
 * `true`/`false`; a pair is written with its second value after a comma (`betas=0.9,0.99`).
 *
 * @example
 * ```ts
 * parseOptimizerSpec('sgd:lr=0.001,momentum=0.9'); // { name: 'sgd', options: { lr: 0.001, momentum: 0.9 }, label: 'sgd:lr=0.001,momentum=0.9' }
 * parseOptimizerSpec('adam:lr=0.01,betas=0.8,0.99,amsgrad=true');
 * parseOptimizerSpec('lookahead:inner=adam,k=5,alpha=0.5,lr=0.01');
 * ```
 * @throws TypeError unless `spec` is a string; RangeError for an unknown optimizer or a malformed spec.
 * @group Optimizer specs
 */
export function parseOptimizerSpec(spec: string): OptimizerSpec {
  if (typeof spec !== 'string') throw new TypeError(`${CTX}: expected a string like "sgd:lr=0.001,momentum=0.9", received ${describeValue(spec)}`);
  const label = spec.trim();
  const colon = label.indexOf(':');
  const name = (colon < 0 ? label : label.slice(0, colon)).trim().toLowerCase();
  if (!OPTIMIZER_NAMES.includes(name)) {
    const whole = name === spec ? '' : ` in ${describeValue(spec)}`;
    throw new RangeError(`${CTX}: expected the optimizer to be one of ${OPTIMIZER_NAMES.join(', ')}, received ${describeValue(name)}${whole}`);
  }
  const options: Record<string, unknown> = {};
  const rest = colon < 0 ? '' : label.slice(colon + 1).trim();
  let lastKey: string | undefined;
  for (const token of rest === '' ? [] : rest.split(',')) {
    const eq = token.indexOf('=');
    if (eq < 0) {
      // A value without a key continues the previous option as a tuple: betas=0.9,0.999.
      if (lastKey === undefined) throw new RangeError(`${CTX}: expected option=value after "${name}:", received ${describeValue(token)} in ${describeValue(spec)}`);
      const prev = options[lastKey];
      options[lastKey] = [...(Array.isArray(prev) ? prev : [prev]), parseValue(token, spec)];
      continue;
    }
    const key = camelCase(token.slice(0, eq).trim());
    if (!/^[a-z][a-zA-Z0-9]*$/.test(key)) throw new RangeError(`${CTX}: expected an option name before "=", received ${describeValue(token)} in ${describeValue(spec)}`);
    if (Object.hasOwn(options, key)) throw new RangeError(`${CTX}: option ${describeValue(key)} is given twice in ${describeValue(spec)}`);
    options[key] = parseValue(token.slice(eq + 1), spec);
    lastKey = key;
  }
  return { name, options, label };
}

/**
 * @internal Checks a parsed {@link OptimizerSpec} given as `name` of `ctx`: a plain object with a
 * known optimizer `name`, an `options` object and a `label` string; returns it.
 */
export function checkSpec(ctx: string, name: string, v: unknown): OptimizerSpec {
  const s = checkRecord(ctx, name, v, 'a spec string like "sgd:lr=0.01" or an OptimizerSpec { name, options, label }');
  checkKnownFields(ctx, name, s, ['name', 'options', 'label']);
  if (typeof s.name !== 'string' || !OPTIMIZER_NAMES.includes(s.name)) {
    throw new (typeof s.name === 'string' ? RangeError : TypeError)(`${ctx}: expected ${name}.name to be one of ${OPTIMIZER_NAMES.join(', ')}, received ${describeValue(s.name)}`);
  }
  checkRecord(ctx, `${name}.options`, s.options, 'an object of constructor options');
  checkString(ctx, `${name}.label`, s.label);
  return s as unknown as OptimizerSpec;
}

/**
 * Makes an optimizer over `params` from a spec (text or parsed). For `lookahead`, the options
 * `k` and `alpha` go to Lookahead, `inner` names the wrapped optimizer (default adam) and the
 * rest go to it.
 *
 * @example
 * ```ts
 * const w = new Parameter(new Float32Array([-1, 1]));
 * const opt = createOptimizer('sgd:lr=0.001,momentum=0.9', [w]);
 * ```
 * @throws RangeError or TypeError for a malformed spec, an unknown optimizer or `params` that is
 * not an array, or whatever the optimizer's constructor rejects (an unknown option, a bad value).
 * @group Optimizer specs
 */
export function createOptimizer(spec: string | OptimizerSpec, params: Parameter[]): TrainableOptimizer {
  const s = typeof spec === 'string' ? parseOptimizerSpec(spec) : checkSpec('createOptimizer', 'spec', spec);
  if (!Array.isArray(params)) throw new TypeError(`createOptimizer: expected params to be an array of Parameters, received ${describeValue(params)}`);
  const other = OTHERS[s.name];
  if (other) return other.make(params, { ...s.options });
  return new OPTIMIZERS[s.name]!.Class(params, s.options);
}
