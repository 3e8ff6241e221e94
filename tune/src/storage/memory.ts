/**
 * The in-memory storage: a journal (the same entries, the same replay rules as
 * {@link JournalFileStorage}) whose lines live in memory and are applied as soon as they are
 * written. One mechanism for both storages: every write is encoded as the line the file would
 * hold and decoded back, so values are copied, checked and rounded exactly as in a file.
 * @module
 */
import type { FrozenStudy, FrozenTrial, JsonValue, Storage, StudyDirection, TrialState, TrialTemplate } from '../types.js';
import type { Distribution } from '../distributions.js';
import { JournalStorageCore, OwnEntryRefused, type JournalBackend, type JournalFileStorage } from './journal.js';

/** Lines kept only until they are applied: nothing else reads them. */
class MemoryJournal implements JournalBackend {
  readonly name = 'memory';
  #pending: string[] = [];
  #lines = 0;

  async readNew(consume: (text: string, line: number) => void): Promise<void> {
    while (this.#pending.length > 0) {
      const text = this.#pending.shift()!;
      this.#lines++;
      try {
        consume(text, this.#lines);
      } catch (e) {
        // Own entries refused by the replay rules carry the error to raise; the line is consumed.
        throw e instanceof OwnEntryRefused ? e.error : e;
      }
    }
  }

  locked<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  async append(text: string): Promise<void> {
    const lines = text.split('\n');
    lines.pop(); // The empty string after the last "\n".
    this.#pending.push(...lines);
  }
}

/**
 * A storage in this process's memory: nothing is saved, nothing is shared with other processes.
 * The default storage of a study; the same rules as {@link JournalFileStorage} (it replays the
 * same journal entries), without heartbeats (a study in memory dies with its only worker).
 * @group Storages
 */
export class InMemoryStorage implements Storage {
  /** Null: trials in memory need no heartbeat. */
  readonly heartbeatInterval: number | null = null;
  readonly #core = new JournalStorageCore(new MemoryJournal(), { heartbeat: null, where: 'InMemoryStorage' });

  /**
   * Creates a study; returns its id.
   * @param directions One direction per objective value.
   * @param studyName A name no other study has.
   * @throws DuplicatedStudyError if the name is taken.
   */
  createNewStudy(directions: readonly StudyDirection[], studyName: string): Promise<number> {
    return this.#core.createNewStudy(directions, studyName);
  }

  /**
   * Deletes a study (its trials stay readable by id, as in Optuna).
   * @param studyId The study.
   */
  deleteStudy(studyId: number): Promise<void> {
    return this.#core.deleteStudy(studyId);
  }

  /**
   * The id of the study named `studyName`.
   * @param studyName The name.
   * @throws Error with `code: 'ENOSTUDY'` if there is none.
   */
  getStudyIdFromName(studyName: string): Promise<number> {
    return this.#core.getStudyIdFromName(studyName);
  }

  /** Every study, by id. */
  getAllStudies(): Promise<FrozenStudy[]> {
    return this.#core.getAllStudies();
  }

  /**
   * One study's record.
   * @param studyId The study.
   * @throws Error with `code: 'ENOSTUDY'` if there is none.
   */
  getStudy(studyId: number): Promise<FrozenStudy> {
    return this.#core.getStudy(studyId);
  }

  /**
   * Sets a study user attribute.
   * @param studyId The study.
   * @param key The attribute's name.
   * @param value A JSON value (copied).
   */
  setStudyUserAttr(studyId: number, key: string, value: JsonValue): Promise<void> {
    return this.#core.setStudyAttr('user', studyId, key, value);
  }

  /**
   * Sets a study system attribute.
   * @param studyId The study.
   * @param key The attribute's name.
   * @param value A JSON value (copied).
   */
  setStudySystemAttr(studyId: number, key: string, value: JsonValue): Promise<void> {
    return this.#core.setStudyAttr('system', studyId, key, value);
  }

  /**
   * Creates a trial: RUNNING and started now, or from `template`.
   * @param studyId The study.
   * @param template The trial's fields, if not a new RUNNING one.
   * @returns The trial's id.
   */
  createNewTrial(studyId: number, template?: TrialTemplate): Promise<number> {
    return this.#core.createNewTrial(studyId, template);
  }

  /**
   * Records a parameter of a trial that has not finished.
   * @param trialId The trial.
   * @param name The parameter's name.
   * @param internal Its stored number (the index of a categorical choice).
   * @param distribution Its distribution, of the kind earlier trials used for `name`.
   * @throws UpdateFinishedTrialError if the trial has finished; RangeError if the distribution
   * is incompatible with the parameter's earlier one.
   */
  setTrialParam(trialId: number, name: string, internal: number, distribution: Distribution): Promise<void> {
    return this.#core.setTrialParam(trialId, name, internal, distribution);
  }

  /**
   * Sets a trial's state and values. Making a WAITING trial RUNNING returns true for the first
   * caller, false for the others.
   * @param trialId The trial.
   * @param state The new state.
   * @param values The values (kept unchanged if null or omitted).
   * @throws UpdateFinishedTrialError if the trial has finished.
   */
  setTrialStateValues(trialId: number, state: TrialState, values?: readonly number[] | null): Promise<boolean> {
    return this.#core.setTrialStateValues(trialId, state, values);
  }

  /**
   * Records the value reported at `step`.
   * @param trialId The trial.
   * @param step The step.
   * @param value The value (NaN and infinities allowed).
   * @throws UpdateFinishedTrialError if the trial has finished.
   */
  setTrialIntermediateValue(trialId: number, step: number, value: number): Promise<void> {
    return this.#core.setTrialIntermediateValue(trialId, step, value);
  }

  /**
   * Sets a trial user attribute.
   * @param trialId The trial.
   * @param key The attribute's name.
   * @param value A JSON value (copied).
   * @throws UpdateFinishedTrialError if the trial has finished.
   */
  setTrialUserAttr(trialId: number, key: string, value: JsonValue): Promise<void> {
    return this.#core.setTrialAttr('user', trialId, key, value);
  }

  /**
   * Sets a trial system attribute.
   * @param trialId The trial.
   * @param key The attribute's name.
   * @param value A JSON value (copied).
   * @throws UpdateFinishedTrialError if the trial has finished.
   */
  setTrialSystemAttr(trialId: number, key: string, value: JsonValue): Promise<void> {
    return this.#core.setTrialAttr('system', trialId, key, value);
  }

  /**
   * One trial (a frozen snapshot).
   * @param trialId The trial.
   * @throws Error with `code: 'ENOTRIAL'` if there is none.
   */
  getTrial(trialId: number): Promise<FrozenTrial> {
    return this.#core.getTrial(trialId);
  }

  /**
   * The study's trials by number (frozen snapshots), optionally only those in `states`.
   * @param studyId The study.
   * @param states The states to keep.
   */
  getAllTrials(studyId: number, states?: readonly TrialState[]): Promise<FrozenTrial[]> {
    return this.#core.getAllTrials(studyId, states);
  }

  /**
   * Does nothing but check that the trial exists: trials in memory need no heartbeat.
   * @param trialId The trial.
   */
  recordHeartbeat(trialId: number): Promise<void> {
    return this.#core.recordHeartbeat(trialId);
  }

  /**
   * Returns `[]`: a study in memory has no other worker whose trials could be stale.
   * @param studyId The study.
   */
  failStaleTrials(studyId: number): Promise<FrozenTrial[]> {
    return this.#core.failStaleTrials(studyId);
  }

  /** Waits for the calls under way; the storage refuses calls afterwards. */
  close(): Promise<void> {
    return this.#core.close();
  }
}
