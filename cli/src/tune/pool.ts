/**
 * The workers of one `ferroptim tune` invocation and the trials they are granted. The pool hands
 * out exactly `trials` trials: a worker claims one before each trial; a trial whose worker died,
 * or that was interrupted, is handed out again (the storage retries a dead worker's trial with the
 * same parameters). A worker that dies is replaced, a bounded number of times. The pool prints
 * nothing: it reports {@link PoolEvent}s.
 * @module
 */
import { fork, type ChildProcess } from 'node:child_process';
import localRequire from '../cjs-require.cjs';
import type { Storage } from 'ferroptim-tune';
import { runWorker, type ParentMessage, type WorkerConfig, type WorkerMessage } from './worker.js';

/** What happens in the pool, for the progress display. */
export type PoolEvent =
  | { type: 'worker-start'; worker: number; pid: number }
  | { type: 'trial-start'; worker: number; pid: number; number: number; params: Record<string, string | number> }
  | { type: 'progress'; worker: number; number: number; epoch: number; epochs: number; batch: number; batches: number }
  | { type: 'epoch'; worker: number; number: number; epoch: number; epochs: number; accuracy: number }
  | { type: 'trial-end'; worker: number; number: number; state: string; value: number | null; seconds: number | null; counted: boolean; reason: string | null; params: Record<string, string | number> }
  | { type: 'worker-died'; worker: number; pid: number; how: string; trial: number | null; replaced: boolean; stderr: string };

/** Options of a {@link Pool}. */
export interface PoolOptions {
  /** The workers' configuration but for their index and sampler seed. */
  config: Omit<WorkerConfig, 'index' | 'samplerSeed'>;
  /** The run's seed: worker i (0-based) seeds its sampler with seed + i; null for random seeds. */
  seed: number | null;
  workers: number;
  /** Trials to run (counted ones: COMPLETE, PRUNED, FAIL by the objective). */
  trials: number;
  /** Replacement workers allowed in all. */
  maxRestarts: number;
  /** Run the (single) worker in this process instead of forking it. */
  inProcess: boolean;
  /** The storage, for a worker in this process (an in-memory study lives only there). */
  storage?: Storage;
  /**
   * Whether trial `number` finished and counts, asked of the storage after its worker died
   * (`how`: the signal or exit code); the callee may fail the trial there.
   */
  trialCounted(number: number, worker: { pid: number; how: string }): Promise<boolean>;
}

/** How a pool's run ended. */
export interface PoolResult {
  outcome: 'done' | 'interrupted' | 'error' | 'short';
  /** Counted trials finished in this invocation. */
  finished: number;
  /** Trials left to run (for the message on how to continue). */
  remaining: number;
  /** The first worker error (outcome 'error'), or why the pool fell short. */
  error: string | null;
  /** Workers that died. */
  deaths: number;
}

interface Slot {
  worker: number;
  pid: number;
  child: ChildProcess | null;
  abort: AbortController | null;
  holding: boolean;
  trial: number | null;
  fatal: string | null;
  stderr: string;
  exited: boolean;
}

/** The worker's entry file (the built `.js`, or the `.ts` source when run from sources) and node's flags for it. */
function workerEntry(): { file: string; execArgv: string[] } {
  let file: string;
  try {
    file = localRequire.resolve('./tune/worker-main.js');
  } catch {
    file = localRequire.resolve('./tune/worker-main.ts');
  }
  // The parent's node flags, without those that run code of their own (-e, -p) or would clash (--inspect).
  const execArgv: string[] = [];
  const args = process.execArgv;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (['-e', '--eval', '-p', '--print', '--input-type'].includes(a)) {
      i++;
      continue;
    }
    if (/^(--eval=|--print=|--input-type=|--inspect|--debug-port|--test)/.test(a) || ['-i', '--interactive', '-c', '--check', '--test'].includes(a)) continue;
    execArgv.push(a);
  }
  if (file.endsWith('.ts') && !execArgv.some((a) => a.includes('@oxc-node/core/register'))) execArgv.push('--import', '@oxc-node/core/register');
  return { file, execArgv };
}

/** The workers of one invocation. */
export class Pool {
  readonly #o: PoolOptions;
  readonly #emit: (e: PoolEvent) => void;
  readonly #slots: Slot[] = [];
  #remaining: number;
  #finished = 0;
  #started = 0;
  #restarts = 0;
  #deaths = 0;
  #stopping = false;
  #interrupted = false;
  /** The first worker error. */
  #error: string | null = null;
  /** Why the pool fell short: every worker died and no restart is left. */
  #short: string | null = null;
  #pendingChecks = 0;
  #resolve: (() => void) | null = null;
  #killTimer: NodeJS.Timeout | null = null;
  /** Claims held until every first worker is up, so that they all start together. */
  #barrier: { initial: number; claimed: Set<Slot>; queue: Array<() => void>; timer: NodeJS.Timeout } | null = null;

  constructor(options: PoolOptions, emit: (e: PoolEvent) => void) {
    this.#o = options;
    this.#emit = emit;
    this.#remaining = options.trials;
  }

  /** Runs the workers until the trials are done, they are stopped, or one fails. */
  async run(): Promise<PoolResult> {
    const done = new Promise<void>((resolve) => (this.#resolve = resolve));
    const n = Math.min(this.#o.workers, Math.max(this.#o.trials, 1));
    if (n > 1) {
      const timer = setTimeout(() => this.#openBarrier(), 20_000);
      timer.unref();
      this.#barrier = { initial: n, claimed: new Set(), queue: [], timer };
    }
    for (let i = 0; i < n; i++) this.#spawn();
    if (this.#o.trials === 0) this.stop(false);
    await done;
    if (this.#killTimer) clearTimeout(this.#killTimer);
    const outcome = this.#interrupted ? 'interrupted' : this.#error !== null ? 'error' : this.#remaining > 0 ? 'short' : 'done';
    return { outcome, finished: this.#finished, remaining: this.#remaining, error: this.#error ?? this.#short, deaths: this.#deaths };
  }

  /** Stops the workers: their running trials fail and do not count. `user`: a Ctrl-C (outcome 'interrupted'). */
  stop(user = true): void {
    if (user) this.#interrupted = true;
    if (this.#stopping) return;
    this.#stopping = true;
    this.#openBarrier();
    for (const s of this.#slots) {
      if (s.exited) continue;
      s.abort?.abort();
      if (s.child?.connected) s.child.send({ type: 'stop' } satisfies ParentMessage);
    }
    // A worker stuck in a long batch is killed after a while.
    this.#killTimer = setTimeout(() => this.kill(), 30_000);
    this.#killTimer.unref();
    this.#maybeDone();
  }

  /** Kills every worker at once (a second Ctrl-C). */
  kill(): void {
    this.#stopping = true;
    for (const s of this.#slots) if (!s.exited && s.child) s.child.kill('SIGKILL');
  }

  #spawn(): void {
    const index = this.#started++;
    const config: WorkerConfig = { ...this.#o.config, index: index + 1, samplerSeed: this.#o.seed === null ? null : this.#o.seed + index };
    const slot: Slot = { worker: index + 1, pid: process.pid, child: null, abort: null, holding: false, trial: null, fatal: null, stderr: '', exited: false };
    this.#slots.push(slot);
    if (this.#o.inProcess) {
      const abort = new AbortController();
      slot.abort = abort;
      const channel = {
        send: (m: WorkerMessage) => this.#onMessage(slot, m),
        claim: () => this.#claim(slot),
      };
      this.#emit({ type: 'worker-start', worker: slot.worker, pid: slot.pid });
      runWorker(config, channel, abort.signal, this.#o.storage).then(
        () => this.#onExit(slot, 0, null),
        (e: unknown) => {
          slot.fatal = (e as Error)?.message ?? String(e);
          this.#onExit(slot, 1, null);
        },
      );
      return;
    }
    const { file, execArgv } = workerEntry();
    const child = fork(file, [], { execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json' });
    slot.child = child;
    slot.pid = child.pid ?? -1;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      slot.stderr = (slot.stderr + d).slice(-4000);
    });
    child.on('message', (m: WorkerMessage | { type: 'bye' }) => {
      if (m.type === 'bye') return;
      if (m.type === 'claim') {
        void this.#claim(slot).then((ok) => {
          if (child.connected) child.send({ type: 'grant', ok } satisfies ParentMessage);
          else if (ok) this.#onMessage(slot, { type: 'release' });
        });
        return;
      }
      this.#onMessage(slot, m);
    });
    child.on('error', (e) => {
      slot.fatal ??= `worker ${slot.worker} could not start: ${e.message}`;
    });
    child.on('exit', (code, signal) => this.#onExit(slot, code, signal));
    child.send({ type: 'init', config } satisfies ParentMessage);
    this.#emit({ type: 'worker-start', worker: slot.worker, pid: slot.pid });
  }

  #openBarrier(): void {
    const b = this.#barrier;
    if (b === null) return;
    this.#barrier = null;
    clearTimeout(b.timer);
    for (const go of b.queue) go();
  }

  /** A worker asks for a trial: granted while trials remain (after the first workers are all up). */
  async #claim(slot: Slot): Promise<boolean> {
    const b = this.#barrier;
    if (b !== null) {
      b.claimed.add(slot);
      const wait = new Promise<void>((resolve) => b.queue.push(resolve));
      if (b.claimed.size >= b.initial) this.#openBarrier();
      await wait;
    }
    return this.#grant(slot);
  }

  #grant(slot: Slot): boolean {
    if (this.#stopping || this.#remaining <= 0 || slot.exited) return false;
    this.#remaining--;
    slot.holding = true;
    slot.trial = null;
    return true;
  }

  /** A held trial ended: counted, or handed out again. */
  #settle(slot: Slot, counted: boolean): void {
    if (slot.holding) {
      if (counted) this.#finished++;
      else this.#remaining++;
    }
    slot.holding = false;
  }

  #onMessage(slot: Slot, m: WorkerMessage): void {
    switch (m.type) {
      case 'release':
        if (slot.holding) this.#remaining++;
        slot.holding = false;
        return;
      case 'trial-start':
        slot.trial = m.number;
        this.#emit({ type: 'trial-start', worker: slot.worker, pid: slot.pid, number: m.number, params: m.params });
        return;
      case 'progress':
      case 'epoch':
        this.#emit({ ...m, worker: slot.worker });
        return;
      case 'trial-end':
        this.#settle(slot, m.counted);
        slot.trial = null;
        this.#emit({ ...m, worker: slot.worker });
        return;
      case 'fatal':
        slot.fatal = m.message;
        return;
    }
  }

  #onExit(slot: Slot, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.exited) return;
    slot.exited = true;
    // A first worker that never got up does not hold the others back.
    this.#openBarrier();
    const died = slot.fatal === null && !(code === 0 || code === 130);
    const held = slot.holding;
    const trial = slot.trial;
    if (slot.fatal !== null && this.#error === null) {
      this.#error = `worker ${slot.worker} (pid ${slot.pid}) failed: ${slot.fatal}`;
      this.stop(false);
    }
    const finish = (counted: boolean) => {
      this.#settle(slot, counted);
      if (died) {
        this.#deaths++;
        const replace = !this.#stopping && this.#remaining > 0 && this.#restarts < this.#o.maxRestarts;
        if (replace) this.#restarts++;
        this.#emit({ type: 'worker-died', worker: slot.worker, pid: slot.pid, how: signal ?? `exit code ${code}`, trial: held ? trial : null, replaced: replace, stderr: slot.stderr.trim() });
        if (replace) this.#spawn();
        else if (!this.#stopping && this.#remaining > 0 && this.#slots.every((s) => s.exited)) {
          this.#short = `${this.#remaining} trial${this.#remaining === 1 ? '' : 's'} not run: ${this.#deaths} worker${this.#deaths === 1 ? '' : 's'} died and the ${this.#o.maxRestarts} restart${this.#o.maxRestarts === 1 ? ' is' : 's are'} used up`;
        }
      }
      this.#maybeDone();
    };
    if (held && trial !== null) {
      // The worker may have told the storage before it died: ask the storage.
      this.#pendingChecks++;
      this.#o.trialCounted(trial, { pid: slot.pid, how: signal ?? `exit code ${code}` }).then(
        (c) => {
          this.#pendingChecks--;
          finish(c);
        },
        () => {
          this.#pendingChecks--;
          finish(false);
        },
      );
    } else finish(false);
  }

  #maybeDone(): void {
    if (this.#pendingChecks === 0 && this.#slots.every((s) => s.exited)) this.#resolve?.();
  }
}
