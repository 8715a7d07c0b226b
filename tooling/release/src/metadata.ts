import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type PackageJson,
  REPO_ROOT,
  readJson,
  type WorkspacePackage,
  workspacePackages,
} from './workspace.js';

/** The export condition that points workspace tools at a package's TypeScript sources. */
export const SOURCE_CONDITION = '@netmachine/source';

/** Refuses a publish by npm or yarn, which would ship `workspace:*` ranges (see publish-guard.mjs). */
export const PUBLISH_GUARD = 'node ../../tooling/release/publish-guard.mjs';

export interface ChangesetsConfig {
  fixed?: string[][];
  privatePackages?: { version?: boolean; tag?: boolean } | false;
}

/**
 * What every published package must carry: the root's license, repository and engines, its own
 * folder as `repository.directory`, a prepack build, the guard that only pnpm publishes it, public
 * access, and only our own source condition. Returns one line per problem (empty when all is well).
 */
export function checkPackageMetadata(
  pkg: WorkspacePackage,
  root: PackageJson,
  rootDir = REPO_ROOT,
): string[] {
  const m = pkg.manifest;
  const problems: string[] = [];
  const say = (what: string) => problems.push(`${pkg.name} (${pkg.path}): ${what}`);
  const rootUrl = root.repository?.url;

  if (m.license !== 'MIT') say(`license is ${String(m.license)}, not MIT`);
  if (!existsSync(join(pkg.dir, 'LICENSE'))) say('has no LICENSE file');
  else if (
    readFileSync(join(pkg.dir, 'LICENSE'), 'utf8') !== readFileSync(join(rootDir, 'LICENSE'), 'utf8')
  ) {
    say('LICENSE differs from the root LICENSE');
  }
  if (!m.files?.includes('LICENSE')) say('"files" does not list LICENSE');
  if (!m.files?.includes('dist')) say('"files" does not list dist');
  if (rootUrl === undefined) say('the root package.json has no repository.url to compare with');
  if (m.repository?.url !== rootUrl) say(`repository.url is ${String(m.repository?.url)}, not ${rootUrl}`);
  if (m.repository?.directory !== pkg.path) {
    say(`repository.directory is ${String(m.repository?.directory)}, not ${pkg.path}`);
  }
  if (typeof m.homepage !== 'string' || !m.homepage.includes(pkg.path))
    say('homepage does not point at its folder');
  if (typeof m.bugs?.url !== 'string') say('has no bugs.url');
  if (m.engines?.node !== root.engines?.node) {
    say(`engines.node is ${String(m.engines?.node)}, not the root's ${root.engines?.node}`);
  }
  if (m.publishConfig?.access !== 'public') say('publishConfig.access is not "public"');
  if (!m.scripts?.prepack?.includes('build')) say('has no prepack script that builds it');
  if (m.scripts?.prepublishOnly !== PUBLISH_GUARD) say(`prepublishOnly is not "${PUBLISH_GUARD}"`);
  if (m.exports === undefined) say('has no "exports"');
  for (const condition of exportConditions(m.exports)) {
    if (condition === 'source') say(`exports use the bare "source" condition: use "${SOURCE_CONDITION}"`);
  }
  for (const [dep, range] of Object.entries(m.dependencies ?? {})) {
    if (range.startsWith('workspace:') && range !== 'workspace:*')
      say(`${dep} uses ${range}, not workspace:*`);
  }
  return problems;
}

/** Every condition name used anywhere in an `exports` value. */
export function exportConditions(exports: unknown): string[] {
  if (exports === null || typeof exports !== 'object') return [];
  const names: string[] = [];
  for (const [key, value] of Object.entries(exports)) {
    if (!key.startsWith('.')) names.push(key);
    names.push(...exportConditions(value));
  }
  return names;
}

/**
 * Changesets must version the public packages as one fixed group and leave private ones alone
 * (no version bumps, no tags), so a new package has to be named here before it can be released.
 */
export function checkChangesetsConfig(
  config: ChangesetsConfig,
  packages: readonly WorkspacePackage[],
): string[] {
  const problems: string[] = [];
  const publicNames = packages.filter((p) => p.manifest.private !== true).map((p) => p.name);
  const privateNames = new Set(packages.filter((p) => p.manifest.private === true).map((p) => p.name));
  const groups = config.fixed ?? [];
  if (groups.length !== 1)
    problems.push(`.changeset/config.json: expected one fixed group, found ${groups.length}`);
  const group = new Set(groups[0] ?? []);
  for (const name of publicNames) {
    if (!group.has(name))
      problems.push(`.changeset/config.json: ${name} is public but not in the fixed group`);
  }
  for (const name of group) {
    if (privateNames.has(name))
      problems.push(`.changeset/config.json: ${name} is private but in the fixed group`);
    else if (!publicNames.includes(name))
      problems.push(`.changeset/config.json: ${name} is not a workspace package`);
  }
  const priv = config.privatePackages;
  if (priv !== false && (priv?.version !== false || priv?.tag !== false)) {
    problems.push('.changeset/config.json: privatePackages must be { "version": false, "tag": false }');
  }
  return problems;
}

/** All metadata problems of the workspace at `rootDir`. */
export function checkWorkspaceMetadata(rootDir = REPO_ROOT): string[] {
  const root = readJson<PackageJson>(join(rootDir, 'package.json'));
  const packages = workspacePackages(rootDir);
  const problems: string[] = [];
  if (!existsSync(join(rootDir, 'LICENSE'))) problems.push('the repository has no LICENSE at its root');
  for (const pkg of packages) {
    if (pkg.manifest.private !== true) problems.push(...checkPackageMetadata(pkg, root, rootDir));
  }
  const changesets = readJson<ChangesetsConfig>(join(rootDir, '.changeset', 'config.json'));
  problems.push(...checkChangesetsConfig(changesets, packages));
  return problems;
}
