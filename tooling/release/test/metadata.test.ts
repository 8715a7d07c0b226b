import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkChangesetsConfig, checkWorkspaceMetadata, exportConditions } from '../src/metadata.js';
import { publicPackages, REPO_ROOT, workspacePackages } from '../src/workspace.js';

describe('release metadata', () => {
  it('holds for this repository', () => {
    expect(checkWorkspaceMetadata()).toEqual([]);
  });

  it('finds the public packages and nothing private', () => {
    const names = publicPackages().map((p) => p.name);
    expect(names).toContain('@netmachine/core');
    expect(names).toContain('netmachine');
    expect(names).not.toContain('@netmachine/release');
    expect(names).not.toContain('@netmachine/tsconfig');
  });

  it('collects export conditions at every depth', () => {
    const exports = {
      '.': { '@netmachine/source': './src/a.ts', import: { types: './a.d.ts', default: './a.js' } },
    };
    expect(exportConditions(exports).sort()).toEqual(['@netmachine/source', 'default', 'import', 'types']);
  });

  it('requires one fixed group of exactly the public packages, and private packages left alone', () => {
    const packages = workspacePackages();
    const names = publicPackages().map((p) => p.name);
    const privateOff = { version: false, tag: false };
    expect(checkChangesetsConfig({ fixed: [names], privatePackages: privateOff }, packages)).toEqual([]);
    expect(checkChangesetsConfig({ fixed: [names.slice(1)], privatePackages: privateOff }, packages)).toEqual(
      [`.changeset/config.json: ${names[0]} is public but not in the fixed group`],
    );
    expect(
      checkChangesetsConfig(
        { fixed: [[...names, '@netmachine/bench']], privatePackages: privateOff },
        packages,
      ),
    ).toEqual(['.changeset/config.json: @netmachine/bench is private but in the fixed group']);
    expect(checkChangesetsConfig({ fixed: [names] }, packages)).toHaveLength(1);
  });

  describe('on a broken copy of a package', () => {
    let root: string | undefined;
    afterEach(() => {
      if (root !== undefined) rmSync(root, { recursive: true, force: true });
    });

    it('names each missing or wrong field', () => {
      root = mkdtempSync(join(tmpdir(), 'netmachine-metadata-'));
      for (const file of ['package.json', 'LICENSE', 'pnpm-workspace.yaml'])
        cpSync(join(REPO_ROOT, file), join(root, file));
      cpSync(join(REPO_ROOT, '.changeset'), join(root, '.changeset'), { recursive: true });
      cpSync(join(REPO_ROOT, 'packages/router/package.json'), join(root, 'packages/router/package.json'));
      cpSync(join(REPO_ROOT, 'packages/router/LICENSE'), join(root, 'packages/router/LICENSE'));
      const file = join(root, 'packages/router/package.json');
      const manifest = JSON.parse(readFileSync(file, 'utf8'));
      manifest.repository.directory = 'packages/elsewhere';
      delete manifest.engines;
      delete manifest.scripts.prepack;
      delete manifest.scripts.prepublishOnly;
      manifest.files = ['dist', 'src'];
      manifest.exports['.'] = { source: './src/index.ts', ...manifest.exports['.'] };
      writeFileSync(file, JSON.stringify(manifest));

      const problems = checkWorkspaceMetadata(root).join('\n');
      expect(problems).toContain('repository.directory is packages/elsewhere, not packages/router');
      expect(problems).toContain('engines.node is undefined');
      expect(problems).toContain('has no prepack script');
      expect(problems).toContain('prepublishOnly is not');
      expect(problems).toContain('"files" does not list LICENSE');
      expect(problems).toContain('the bare "source" condition');
      // the copy holds only router, so the fixed group names packages that are not there
      expect(problems).toContain('@netmachine/core is not a workspace package');
    });
  });
});
