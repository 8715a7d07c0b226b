import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import type { PackedPackage } from './pack.js';
import type { PackageJson } from './workspace.js';

const run = promisify(execFile);
const ATTW = fileURLToPath(new URL('../node_modules/.bin/attw', import.meta.url));

/** publint on the tarball itself (what npm would ship), warnings counted as errors. */
export async function publintTarball(packed: PackedPackage): Promise<string[]> {
  const data = await readFile(packed.tarball);
  const tarball = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
  const { messages, pkg } = await publint({ pack: { tarball }, level: 'warning', strict: true });
  return messages.map((m) => `${packed.name}: publint ${m.type}: ${formatMessage(m, pkg, { color: false })}`);
}

/**
 * @arethetypeswrong/cli on the tarball: every entry point must have types that resolve under
 * node16/nodenext (ESM) and bundler resolution. The packages are ESM only, so CommonJS `require`
 * and node10 resolution are out of scope (its `esm-only` profile). attw passes a package with no
 * types at all, so that is checked here too.
 */
export async function attwTarball(packed: PackedPackage): Promise<string[]> {
  const { stdout } = await run(ATTW, [packed.tarball, '--profile', 'esm-only', '--format', 'json'], {
    maxBuffer: 64 * 1024 * 1024,
  }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
  const report = JSON.parse(stdout) as AttwReport;
  if (!report.analysis.types) return [`${packed.name}: @arethetypeswrong/cli found no types in the package`];
  return (report.analysis.problems ?? [])
    .filter((p) => p.resolutionKind === undefined || !OUT_OF_SCOPE.has(p.resolutionKind))
    .map((p) => `${packed.name}: @arethetypeswrong/cli ${p.kind} at "${p.entrypoint}" (${p.resolutionKind})`);
}

const OUT_OF_SCOPE = new Set(['node10', 'node16-cjs']);

interface AttwReport {
  analysis: {
    types: unknown;
    problems?: Array<{ kind: string; entrypoint?: string; resolutionKind?: string }>;
  };
}

/** What must hold in the packed manifest and file list, beyond what publint checks. */
export async function inspectTarball(packed: PackedPackage): Promise<string[]> {
  const problems: string[] = [];
  const { stdout: list } = await run('tar', ['-tzf', packed.tarball]);
  const files = new Set(list.split('\n').filter(Boolean));
  for (const required of ['package/LICENSE', 'package/README.md', 'package/package.json']) {
    if (!files.has(required)) problems.push(`${packed.name}: the tarball has no ${required.slice(8)}`);
  }
  if (![...files].some((f) => f.startsWith('package/dist/')))
    problems.push(`${packed.name}: the tarball has no dist/`);
  const { stdout: json } = await run('tar', ['-xOzf', packed.tarball, 'package/package.json']);
  const manifest = JSON.parse(json) as PackageJson;
  for (const [dep, range] of Object.entries(manifest.dependencies ?? {})) {
    if (range.startsWith('workspace:')) problems.push(`${packed.name}: dependency ${dep} still has ${range}`);
  }
  return problems;
}
