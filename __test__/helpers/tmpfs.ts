/** A real small or read-only file system for tests of full disks and unwritable folders. */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

/**
 * Mounts a tmpfs with `options` (`size=64k`, `ro`) at `dir` (created), runs `f`, and unmounts.
 * Mounting needs root (CI and these machines run as root); returns false, without running `f`,
 * where it is refused.
 */
export function withTmpfs(dir: string, options: string, f: (dir: string) => void): boolean {
  mkdirSync(dir, { recursive: true });
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]).status !== 0) return false;
  try {
    f(dir);
  } finally {
    spawnSync('umount', [dir]);
  }
  return true;
}
