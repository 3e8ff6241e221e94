/**
 * The records a study is made of, and the interfaces of its three pluggable parts: storages,
 * samplers and pruners. Names and numbering follow Optuna, whose storages hold the same records.
 * @module
 */
import type { Distribution, ParamValue } from './distributions.js';

/**
 * The state of a trial. The numbers are Optuna's (`TrialState`), as its storages write them.
 * @group Study
 */
export const TrialState = Object.freeze({
  /** Being evaluated by a worker. */
  RUNNING: 0,
  /** Finished with a value. */
  COMPLETE: 1,
  /** Stopped early by a pruner; its value is the last reported one. */
  PRUNED: 2,
  /** The objective threw, returned a non-finite value, or its worker died. */
  FAIL: 3,
  /** Enqueued (see `Study.enqueueTrial`), waiting for a worker. */
  WAITING: 4,
});

/**
 * One of {@link TrialState}'s values.
 * @group Study
 */
export type TrialState = (typeof TrialState)[keyof typeof TrialState];

/** The names of the states, by number (`'COMPLETE'` for 1). */
export const TRIAL_STATE_NAMES: readonly string[] = ['RUNNING', 'COMPLETE', 'PRUNED', 'FAIL', 'WAITING'];

/** Whether a state is final (COMPLETE, PRUNED or FAIL). */
export function isFinished(state: TrialState): boolean {
  return state === TrialState.COMPLETE || state === TrialState.PRUNED || state === TrialState.FAIL;
}

/**
 * Minimize or maximize. Stored as Optuna's `StudyDirection` numbers (1 and 2).
 * @group Study
 */
export type StudyDirection = 'minimize' | 'maximize';

/** Optuna's number of a direction. */
export const DIRECTION_NUMBER: Readonly<Record<StudyDirection, number>> = Object.freeze({ minimize: 1, maximize: 2 });

/**
 * JSON-serializable data (user and system attributes).
 * @group Study
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * A trial as stored: read-only, a snapshot (Optuna's `FrozenTrial`).
 * @group Study
 */
export interface FrozenTrial {
  /** The storage's id of the trial (unique in the storage). */
  readonly trialId: number;
  /** 0 for the study's first trial, then 1, 2, ... */
  readonly number: number;
  /** Its state. */
  readonly state: TrialState;
  /** The objective values (one per direction), or null until it finishes (and for FAIL). */
  readonly values: readonly number[] | null;
  /** The parameters as the objective saw them. */
  readonly params: Readonly<Record<string, ParamValue>>;
  /** Each parameter's distribution. */
  readonly distributions: Readonly<Record<string, Distribution>>;
  /** The values reported with `Trial.report`, by step. */
  readonly intermediateValues: ReadonlyMap<number, number>;
  /** Attributes the objective set with `Trial.setUserAttr`. */
  readonly userAttrs: Readonly<Record<string, JsonValue>>;
  /** Attributes the library keeps (fail reasons, retries, the worker that ran it). */
  readonly systemAttrs: Readonly<Record<string, JsonValue>>;
  /** When it started running (null while WAITING). */
  readonly datetimeStart: Date | null;
  /** When it finished (null until then). */
  readonly datetimeComplete: Date | null;
}

/**
 * A study as stored (Optuna's `FrozenStudy`).
 * @group Study
 */
export interface FrozenStudy {
  /** The storage's id of the study. */
  readonly studyId: number;
  /** Its unique name. */
  readonly studyName: string;
  /** One direction per objective value. */
  readonly directions: readonly StudyDirection[];
  /** Attributes set with `Study.setUserAttr`. */
  readonly userAttrs: Readonly<Record<string, JsonValue>>;
  /** Attributes the library keeps. */
  readonly systemAttrs: Readonly<Record<string, JsonValue>>;
}

/**
 * Fields of a trial created whole (an enqueued trial, or a copy of another one).
 * @group Storages
 */
export interface TrialTemplate {
  /** Its state (WAITING for an enqueued trial). */
  state: TrialState;
  /** Its values, for a finished trial. */
  values?: readonly number[] | null;
  /** Parameters as internal numbers, with their distributions. */
  params?: Record<
    string,
    {
      /** The stored number (a categorical choice's index). */
      internal: number;
      /** The parameter's distribution. */
      distribution: Distribution;
    }
  >;
  /** Its user attributes. */
  userAttrs?: Record<string, JsonValue>;
  /** Its system attributes. */
  systemAttrs?: Record<string, JsonValue>;
  /** Its intermediate values. */
  intermediateValues?: ReadonlyMap<number, number>;
  /** When it started (default: now for RUNNING, null for WAITING). */
  datetimeStart?: Date | null;
  /** When it finished. */
  datetimeComplete?: Date | null;
}

/**
 * Raised by storages when a trial that has finished is written to.
 * @group Storages
 */
export class UpdateFinishedTrialError extends Error {
  /** @param message What was refused. */
  constructor(message: string) {
    super(message);
    this.name = 'UpdateFinishedTrialError';
  }
}

/**
 * Raised by `createNewStudy` when the name is taken.
 * @group Storages
 */
export class DuplicatedStudyError extends Error {
  /** @param message Which name. */
  constructor(message: string) {
    super(message);
    this.name = 'DuplicatedStudyError';
  }
}

/**
 * Where studies live (Optuna's `BaseStorage`, asynchronous). Every method is safe to call from
 * several processes at once on the same storage; the writes of a finished trial are refused
 * with {@link UpdateFinishedTrialError}.
 * @group Storages
 */
export interface Storage {
  /**
   * Creates a study; returns its id.
   * @throws DuplicatedStudyError if the name is taken.
   */
  createNewStudy(directions: readonly StudyDirection[], studyName: string): Promise<number>;
  /** Deletes a study and its trials. */
  deleteStudy(studyId: number): Promise<void>;
  /** The id of the study named `studyName`; throws a KeyError-like `Error` with `code: 'ENOSTUDY'` if none. */
  getStudyIdFromName(studyName: string): Promise<number>;
  /** Every study in the storage. */
  getAllStudies(): Promise<FrozenStudy[]>;
  /** One study's record. */
  getStudy(studyId: number): Promise<FrozenStudy>;
  /** Sets a study user attribute. */
  setStudyUserAttr(studyId: number, key: string, value: JsonValue): Promise<void>;
  /** Sets a study system attribute. */
  setStudySystemAttr(studyId: number, key: string, value: JsonValue): Promise<void>;

  /** Creates a trial (RUNNING and started now, or from `template`); returns its id. */
  createNewTrial(studyId: number, template?: TrialTemplate): Promise<number>;
  /** Records a parameter of a RUNNING trial. */
  setTrialParam(trialId: number, name: string, internal: number, distribution: Distribution): Promise<void>;
  /**
   * Sets a trial's state (and values). Moving a WAITING trial to RUNNING is atomic across
   * processes: it returns true for the one caller that took it, false for the others.
   * @throws UpdateFinishedTrialError if the trial has finished.
   */
  setTrialStateValues(trialId: number, state: TrialState, values?: readonly number[] | null): Promise<boolean>;
  /** Records a value reported at `step` by a RUNNING trial. */
  setTrialIntermediateValue(trialId: number, step: number, value: number): Promise<void>;
  /** Sets a trial user attribute. */
  setTrialUserAttr(trialId: number, key: string, value: JsonValue): Promise<void>;
  /** Sets a trial system attribute. */
  setTrialSystemAttr(trialId: number, key: string, value: JsonValue): Promise<void>;
  /** One trial. */
  getTrial(trialId: number): Promise<FrozenTrial>;
  /** The study's trials in order of number, optionally only those in `states`. */
  getAllTrials(studyId: number, states?: readonly TrialState[]): Promise<FrozenTrial[]>;

  /** Records that the worker running `trialId` is alive. */
  recordHeartbeat(trialId: number): Promise<void>;
  /**
   * Marks FAIL every RUNNING trial of the study whose worker is gone (no heartbeat for the
   * grace period, or a dead process on this machine). Atomic: each stale trial is failed by
   * exactly one caller, and returned to that caller only.
   */
  failStaleTrials(studyId: number): Promise<FrozenTrial[]>;
  /** The seconds between heartbeats this storage asks of running trials (null: none). */
  readonly heartbeatInterval: number | null;
  /** Releases connections and timers. */
  close(): Promise<void>;
}

/**
 * What samplers and pruners see of a study: its directions and a snapshot of its trials.
 * @group Samplers
 */
export interface StudyView {
  /** The study's direction (its first objective's). */
  readonly direction: StudyDirection;
  /** Its directions. */
  readonly directions: readonly StudyDirection[];
  /** The trials as of the last synchronisation with the storage, optionally filtered by state. */
  getTrials(states?: readonly TrialState[]): readonly FrozenTrial[];
}

/**
 * Chooses parameter values (Optuna's `BaseSampler`). Relative sampling picks several
 * parameters jointly at the start of a trial; independent sampling picks one at a time, when
 * the objective first suggests it.
 * @group Samplers
 */
export interface Sampler {
  /** The parameters to sample jointly for `trial` (may be empty). */
  inferRelativeSearchSpace(study: StudyView, trial: FrozenTrial): Record<string, Distribution>;
  /** Values (internal numbers) for some or all parameters of `searchSpace`. */
  sampleRelative(study: StudyView, trial: FrozenTrial, searchSpace: Record<string, Distribution>): Record<string, number>;
  /** A value (internal number) for one parameter. */
  sampleIndependent(study: StudyView, trial: FrozenTrial, name: string, distribution: Distribution): number;
  /** Called when a trial starts; may return system attributes to store on it (GridSampler's grid id). */
  beforeTrial?(study: StudyView, trial: FrozenTrial): void | Record<string, JsonValue>;
  /** System attributes to store after `sampleRelative` (TPE's jointly sampled values, for other workers' constant liar). */
  relativeParamsSystemAttrs?(trial: FrozenTrial): Record<string, JsonValue>;
  /** Whether nothing is left to sample (GridSampler): `optimize` then stops. */
  isExhausted?(study: StudyView): boolean;
  /** Called when a trial finishes, before its state is stored. */
  afterTrial?(study: StudyView, trial: FrozenTrial, state: TrialState, values: readonly number[] | null): void;
}

/**
 * Decides whether a running trial should stop early (Optuna's `BasePruner`).
 * @group Pruners
 */
export interface Pruner {
  /**
   * Whether `trial` (RUNNING, with its intermediate values) should be pruned now.
   * `setSystemAttr` stores a system attribute on the trial (ASHA records its rungs there).
   */
  prune(study: StudyView, trial: FrozenTrial, setSystemAttr: (key: string, value: JsonValue) => void): boolean;
}

/** A fixed parameter set of an enqueued trial. */
export type Params = Record<string, ParamValue>;
