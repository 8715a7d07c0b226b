/**
 * The packages as a user gets them: packed (prepack builds them), installed with plain npm into a
 * project outside the repository (no workspace links), compiled against their published types, and
 * run as two nodes over TLS. Installing core, router, transport and transport-tls must bring no
 * native addon: msgpackr's optional msgpackr-extract is left out (--omit=optional) and the nodes
 * work on msgpackr's JavaScript path. Runs `npm install` against the registry, hence the timeouts.
 */
import { execFile } from 'node:child_process';
import { copyFile, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PackedPackage, packPackages } from '../src/pack.js';
import { publicPackages, REPO_ROOT } from '../src/workspace.js';

const run = promisify(execFile);
const INSTALLED = [
  '@netmachine/core',
  '@netmachine/router',
  '@netmachine/transport',
  '@netmachine/transport-tls',
];
const SCRIPT = fileURLToPath(new URL('../consumer/two-tls-nodes.ts', import.meta.url));
const TSC = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
const NATIVE = ['lmdb', '@matrixai/quic', 'msgpackr-extract'];
const SETUP_TIMEOUT_MS = 10 * 60_000;

/**
 * The environment without what pnpm sets for its scripts, so npm and node behave as in a user's
 * shell: pnpm's bin shims set NODE_PATH to the workspace's store, where `require` would find
 * packages (msgpackr-extract among them) that the scratch project does not have.
 */
function plainEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_)/i.test(key) || ['INIT_CWD', 'NODE_OPTIONS', 'NODE_PATH'].includes(key)) continue;
    env[key] = value;
  }
  return env;
}

/** Every file below `dir`, following no symlinks. */
async function allFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('the packed packages, installed with npm outside the workspace', () => {
  let root: string;
  let app: string;
  let packed: PackedPackage[];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'netmachine-consumer-'));
    app = join(root, 'app');
    const packages = publicPackages().filter((p) => INSTALLED.includes(p.name));
    expect(packages.map((p) => p.name).sort()).toEqual([...INSTALLED].sort());
    packed = await packPackages(packages, join(root, 'tarballs'));
    await mkdir(app);
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    await copyFile(SCRIPT, join(app, 'two-tls-nodes.ts'));
    // One npm install for all tarballs: the packed manifests name their siblings by exact version,
    // which the tarballs installed alongside satisfy.
    await run(
      'npm',
      [
        'install',
        '--omit=optional',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        ...packed.map((p) => p.tarball),
      ],
      { cwd: app, env: plainEnv(), maxBuffer: 64 * 1024 * 1024 },
    );
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('packs manifests with exact sibling versions, not workspace ranges', async () => {
    for (const name of INSTALLED) {
      const manifest = JSON.parse(await readFile(join(app, 'node_modules', name, 'package.json'), 'utf8'));
      for (const [dep, range] of Object.entries<string>(manifest.dependencies ?? {})) {
        expect(range, `${name} → ${dep}`).not.toMatch(/^workspace:/);
      }
      expect(manifest.exports['.']).not.toHaveProperty('source');
    }
  });

  it('installs real copies with a built dist/ and the LICENSE, not links into the workspace', async () => {
    for (const name of INSTALLED) {
      const dir = join(app, 'node_modules', name);
      expect((await lstat(dir)).isSymbolicLink(), name).toBe(false);
      await expect(lstat(join(dir, 'dist/index.js'))).resolves.toBeTruthy();
      await expect(lstat(join(dir, 'dist/index.d.ts'))).resolves.toBeTruthy();
      await expect(lstat(join(dir, 'LICENSE'))).resolves.toBeTruthy();
    }
    // every @netmachine package came from our tarballs, none from the registry
    const lock = JSON.parse(await readFile(join(app, 'package-lock.json'), 'utf8'));
    const ours = Object.entries<{ resolved?: string }>(lock.packages).filter(([path]) =>
      path.includes('node_modules/@netmachine/'),
    );
    expect(ours.map(([path]) => path.replace(/^.*node_modules\//, '')).sort()).toEqual([...INSTALLED].sort());
    for (const [path, entry] of ours) expect(entry.resolved, path).toMatch(/^file:\.\.\/tarballs\//);
  });

  it('brings no native addon', async () => {
    const modules = join(app, 'node_modules');
    for (const name of NATIVE) {
      await expect(lstat(join(modules, name)), name).rejects.toMatchObject({ code: 'ENOENT' });
    }
    const binaries = (await allFiles(modules)).filter(
      (f) => f.endsWith('.node') || f.endsWith('binding.gyp'),
    );
    expect(binaries).toEqual([]);
    // msgpackr itself is there, on its JavaScript path
    const probe = "import('msgpackr').then((m) => console.log(m.isNativeAccelerationEnabled))";
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe], {
      cwd: app,
      env: plainEnv(),
    });
    expect(stdout.trim()).toBe('false');
  });

  it('compiles the script against the published types', async () => {
    const args = ['--strict', '--module', 'nodenext', '--target', 'es2023', '--skipLibCheck'];
    args.push('--types', 'node', '--typeRoots', join(REPO_ROOT, 'node_modules/@types'), 'two-tls-nodes.ts');
    const result = await run(process.execPath, [TSC, ...args], { cwd: app, env: plainEnv() }).catch((e) => e);
    expect(`${result.stdout ?? ''}${result.stderr ?? ''}`).toBe('');
    await expect(lstat(join(app, 'two-tls-nodes.js'))).resolves.toBeTruthy();
  }, 120_000);

  it('runs two nodes over TLS that exchange a request and a reply', async () => {
    const { stdout } = await run(process.execPath, ['two-tls-nodes.js'], {
      cwd: app,
      env: plainEnv(),
      timeout: 60_000,
    });
    expect(JSON.parse(stdout.trim())).toEqual({ echoed: 'hello' });
  }, 90_000);

  it('is the code the root README shows', async () => {
    const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
    const script = await readFile(SCRIPT, 'utf8');
    expect(readme).toContain(`\`\`\`ts\n${script}\`\`\``);
  });
});
