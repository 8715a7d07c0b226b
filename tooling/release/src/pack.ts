import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, type WorkspacePackage } from './workspace.js';

const run = promisify(execFile);
const MAX_OUTPUT = 64 * 1024 * 1024;

export interface PackedPackage {
  readonly name: string;
  readonly version: string;
  /** Absolute path of the .tgz. */
  readonly tarball: string;
}

/** Builds `packages` (and what they depend on) in one turbo run: parallel, and cached across runs. */
export async function buildPackages(
  packages: readonly WorkspacePackage[],
  signal?: AbortSignal,
): Promise<void> {
  const filters = packages.map((p) => `--filter=${p.name}`);
  await run('pnpm', ['exec', 'turbo', 'run', 'build', ...filters, '--output-logs=errors-only'], {
    cwd: REPO_ROOT,
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
    maxBuffer: MAX_OUTPUT,
    signal,
  });
}

/**
 * Packs each package with `pnpm pack` into `destination`, one after the other. Each pack runs the
 * package's `prepack` (its turbo build), so a tarball is never packed from a stale or missing dist/;
 * after `buildPackages` those builds are cache hits. pnpm rewrites `workspace:*` ranges to the exact
 * versions, so npm resolves sibling packages from the tarballs installed with them.
 */
export async function packPackages(
  packages: readonly WorkspacePackage[],
  destination: string,
  signal?: AbortSignal,
): Promise<PackedPackage[]> {
  await mkdir(destination, { recursive: true });
  await buildPackages(packages, signal);
  const packed: PackedPackage[] = [];
  for (const p of packages) {
    const { stdout } = await run('pnpm', ['pack', '--json', '--pack-destination', destination], {
      cwd: p.dir,
      env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
      maxBuffer: MAX_OUTPUT,
      signal,
    });
    packed.push({ name: p.name, version: p.manifest.version, tarball: tarballPath(stdout, destination) });
  }
  return packed;
}

/** The tarball `pnpm pack --json` reports (prepack output may come before the JSON). */
function tarballPath(stdout: string, destination: string): string {
  const start = /^\{$/m.exec(stdout)?.index;
  if (start === undefined) throw new Error(`pnpm pack printed no JSON:\n${stdout}`);
  const json = stdout.slice(start);
  const filename = (JSON.parse(json) as { filename?: string }).filename;
  if (filename === undefined) throw new Error(`pnpm pack printed no filename:\n${stdout}`);
  return filename.startsWith('/') ? filename : join(destination, filename);
}
