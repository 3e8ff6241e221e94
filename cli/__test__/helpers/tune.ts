/**
 * Runs `ferroptim tune` from the sources in a child process, as the other CLI tests run the
 * command: to completion (`tune`), or in the background with its output as it comes
 * (`tuneBackground`, for tests that kill a worker or press Ctrl-C).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url));
const CWD = fileURLToPath(new URL('../..', import.meta.url));

function nodeArgs(args: readonly string[]): string[] {
  const code = `import { main } from ${JSON.stringify(CLI)}; process.exitCode = await main(${JSON.stringify(args)});`;
  return ['--import', '@oxc-node/core/register', '--input-type=module', '-e', code];
}

export interface Ran {
  code: number;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Runs the command to the end. */
export function run(...args: string[]): Ran {
  const r = spawnSync(process.execPath, nodeArgs(args), { encoding: 'utf8', cwd: CWD, timeout: 240_000 });
  return { code: r.status ?? -1, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** A command running in the background. */
export interface Background {
  /** The command's process id (the parent of the workers). */
  pid: number;
  /** Resolves with the first stdout line matching `re` (rejects when the command ends first). */
  line(re: RegExp): Promise<RegExpMatchArray>;
  /** Sends a signal to the command's process. */
  kill(signal: NodeJS.Signals): void;
  /** Resolves when the command has ended. */
  done: Promise<Ran>;
}

/** Starts the command; its output is collected as it comes. */
export function background(...args: string[]): Background {
  const child = spawn(process.execPath, nodeArgs(args), { cwd: CWD, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ re: RegExp; resolve: (m: RegExpMatchArray) => void; reject: (e: Error) => void }> = [];
  const check = () => {
    for (const w of [...waiters]) {
      const m = stdout.split('\n').map((l) => l.match(w.re)).find((x) => x !== null);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    check();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  const done = new Promise<Ran>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const w of waiters.splice(0)) w.reject(new Error(`the command ended before printing a line matching ${w.re}:\n${stdout}\n${stderr}`));
      resolve({ code: code ?? -1, signal, stdout, stderr });
    });
  });
  return {
    pid: child.pid!,
    line: (re) =>
      new Promise((resolve, reject) => {
        waiters.push({ re, resolve, reject });
        check();
      }),
    kill: (signal) => child.kill(signal),
    done,
  };
}

/** Whether a file is a PNG image (its signature and an IHDR chunk of a non-empty image). */
export function isPng(path: string): boolean {
  const b = readFileSync(path);
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  return b.length > 33 && sig.every((x, i) => b[i] === x) && b.toString('latin1', 12, 16) === 'IHDR' && b.readUInt32BE(16) > 0 && b.readUInt32BE(20) > 0;
}

/** Splits a printed command line into its words (single-quoted words as the command quotes them). */
export function words(line: string): string[] {
  const out: string[] = [];
  const re = /'((?:[^']|'\\'')*)'|(\S+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) out.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]!);
  return out;
}
