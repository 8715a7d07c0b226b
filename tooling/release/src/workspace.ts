import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is tooling/release/src/workspace.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface PackageJson {
  name: string;
  version: string;
  private?: boolean;
  license?: string;
  repository?: { type?: string; url?: string; directory?: string };
  homepage?: string;
  bugs?: { url?: string };
  engines?: Record<string, string>;
  publishConfig?: Record<string, unknown>;
  files?: string[];
  exports?: unknown;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  [key: string]: unknown;
}

export interface WorkspacePackage {
  readonly name: string;
  /** Absolute path of the package folder. */
  readonly dir: string;
  /** Path relative to the repository root, with `/` (as `repository.directory` wants it). */
  readonly path: string;
  readonly manifest: PackageJson;
}

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/**
 * Every package of the workspace, from pnpm-workspace.yaml's `packages:` globs. Only `folder/*`
 * globs are understood; anything else is an error rather than a package silently left out.
 */
export function workspacePackages(root = REPO_ROOT): WorkspacePackage[] {
  const yaml = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8');
  const section = /^packages:\n((?:[ \t]+-.*\n?)+)/m.exec(yaml)?.[1] ?? '';
  const globs = [...section.matchAll(/-\s*['"]?([^'"\n]+?)['"]?\s*$/gm)].map((m) => m[1]!);
  const packages: WorkspacePackage[] = [];
  for (const glob of globs) {
    const parent = /^([\w.-]+)\/\*$/.exec(glob)?.[1];
    if (parent === undefined) throw new Error(`unsupported workspace glob: ${glob}`);
    const folder = join(root, parent);
    if (!existsSync(folder)) continue;
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const dir = join(folder, entry.name);
      if (!entry.isDirectory() || !existsSync(join(dir, 'package.json'))) continue;
      const manifest = readJson<PackageJson>(join(dir, 'package.json'));
      packages.push({ name: manifest.name, dir, path: relative(root, dir).split('\\').join('/'), manifest });
    }
  }
  return packages.sort((a, b) => a.path.localeCompare(b.path));
}

/** The packages that go to npm. */
export function publicPackages(root = REPO_ROOT): WorkspacePackage[] {
  return workspacePackages(root).filter((p) => p.manifest.private !== true);
}
