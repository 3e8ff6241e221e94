/**
 * The in-memory storage: a journal (the same entries, the same replay rules as
 * {@link JournalFileStorage}) whose lines live in memory and are applied as soon as they are
 * written. One mechanism for both storages: every write is encoded as the line the file would
 * hold and decoded back, so values are copied, checked and rounded exactly as in a file.
 * @module
 */
import { JournalStorage, type JournalBackend, type JournalFileStorage } from './journal.js';

/** Lines kept only until they are applied: nothing else reads them. */
class MemoryJournal implements JournalBackend {
  readonly name = 'memory';
  #pending: string[] = [];
  #lines = 0;

  async readNew(consume: (text: string, line: number) => void): Promise<void> {
    while (this.#pending.length > 0) {
      consume(this.#pending[0]!, this.#lines + 1);
      this.#pending.shift();
      this.#lines++;
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
export class InMemoryStorage extends JournalStorage {
  /** Null: trials in memory need no heartbeat. */
  readonly heartbeatInterval: number | null = null;

  /** An empty storage. */
  constructor() {
    super(new MemoryJournal(), { gracePeriod: null, where: 'InMemoryStorage' });
  }
}
