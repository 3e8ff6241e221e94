/** Runs the `ferroptim` CLI from the sources in a child process (as __test__/cli.spec.ts does). */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url));

export function cli(...args: string[]): { code: number; stdout: string; stderr: string } {
  const code = `import { main } from ${JSON.stringify(CLI)}; process.exitCode = await main(${JSON.stringify(args)});`;
  const r = spawnSync(process.execPath, ['--import', '@oxc-node/core/register', '--input-type=module', '-e', code], {
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    timeout: 120_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
