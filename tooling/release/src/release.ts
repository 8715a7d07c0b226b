/**
 * `pnpm release`: checks the package metadata, builds every public package once, packs each into a
 * tarball (prepack builds it, cached), runs publint and @arethetypeswrong/cli on the tarballs, and
 * only if all of that passed runs `changeset publish`.
 * `pnpm release:check` (`--dry-run`) does everything but the publish.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { checkWorkspaceMetadata } from './metadata.js';
import { packPackages } from './pack.js';
import { attwTarball, inspectTarball, publintTarball } from './tarball-checks.js';
import { publicPackages, REPO_ROOT } from './workspace.js';

const { values } = parseArgs({ options: { 'dry-run': { type: 'boolean', default: false } } });
const log = (line: string) => process.stdout.write(`${line}\n`);

function fail(problems: readonly string[]): never {
  for (const p of problems) process.stderr.write(`  ✗ ${p}\n`);
  process.stderr.write(`release: ${problems.length} problem(s); nothing was published\n`);
  process.exit(1);
}

const metadata = checkWorkspaceMetadata();
if (metadata.length > 0) fail(metadata);
log('metadata: every public package has its license, repository, engines and publish settings');

const packages = publicPackages();
const dir = await mkdtemp(join(tmpdir(), 'netmachine-release-'));
try {
  log(`building and packing ${packages.length} packages`);
  const packed = await packPackages(packages, dir);
  const problems: string[] = [];
  for (const p of packed) {
    const found = [...(await inspectTarball(p)), ...(await publintTarball(p)), ...(await attwTarball(p))];
    log(`  ${found.length === 0 ? '✓' : '✗'} ${p.name}@${p.version}`);
    problems.push(...found);
  }
  if (problems.length > 0) fail(problems);
} finally {
  await rm(dir, { recursive: true, force: true });
}

if (values['dry-run']) {
  log('dry run: all checks passed; not publishing');
} else {
  const publish = spawnSync('pnpm', ['exec', 'changeset', 'publish'], { cwd: REPO_ROOT, stdio: 'inherit' });
  process.exit(publish.status ?? 1);
}
