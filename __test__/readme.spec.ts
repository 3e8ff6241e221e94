/**
 * Every ```ts block of README.md is a runnable program: this test writes each one to a file with
 * `from 'ferroptim'` (and `'ferroptim/tfjs'`) pointing at the sources, runs it, and fails if it throws. A block that uses the
 * application (`from 'ferroptim-cli'`) gets its sources, and both packages are then resolved by
 * name, as the application resolves the library. Blocks fenced as
 * ```ts no-run are fragments and are skipped.
 */
import test from 'ava';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const tmp = join(root, '__test__', '.readme-tmp');

test.before(() => {
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
});

test("README.md's optimizer table is the one the descriptors give (npm run docs:tables rewrites it)", async (t) => {
  const { OPTIMIZERS } = await import('../ts/index.js');
  const { optimizerTable, withTable } = await import('../scripts/readme-tables.mjs');
  t.is(readme, withTable(readme, optimizerTable(OPTIMIZERS)), 'run npm run docs:tables');
});

test('README.md has runnable TypeScript examples', (t) => {
  t.true(blocks.length >= 3, `found ${blocks.length} blocks`);
});

blocks.forEach((code, i) => {
  const firstLine = code.split('\n').find((l) => l.trim() !== '') ?? '';
  test.serial(`README example ${i + 1} runs: ${firstLine.slice(0, 70)}`, async (t) => {
    const index = pathToFileURL(join(root, 'ts', 'index.ts')).href;
    const app = pathToFileURL(join(root, 'cli', 'src', 'index.ts')).href;
    const tfjs = pathToFileURL(join(root, 'ts', 'tfjs', 'index.ts')).href;
    const source = /from 'ferroptim-cli'/.test(code)
      ? code.replace(/from 'ferroptim-cli'/g, `from '${app}'`)
      : code.replace(/from 'ferroptim'/g, `from '${index}'`).replace(/from 'ferroptim\/tfjs'/g, `from '${tfjs}'`);
    const file = join(tmp, `example-${i + 1}.ts`);
    writeFileSync(file, `${source}\nexport {};\n`);
    const logs: unknown[][] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => void logs.push(args);
    try {
      await import(pathToFileURL(file).href);
    } finally {
      console.log = log;
    }
    t.pass();
  });
});
