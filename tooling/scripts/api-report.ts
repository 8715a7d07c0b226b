/**
 * API reports: one Markdown file per published entry point (`packages/<p>/api/<p>.api.md`, and
 * `<p>-<subpath>.api.md` for a subpath export such as `@netmachine/transport/wire`), made by
 * api-extractor from the built declarations. They are committed, so a change to a public surface
 * shows up in review.
 *
 *   node --import tsx tooling/scripts/api-report.ts           # rewrite the reports (`pnpm api`)
 *   node --import tsx tooling/scripts/api-report.ts --check   # fail when one differs (`pnpm api:check`)
 *
 * Both need the packages built first (`turbo run build`); the root scripts do that.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Extractor,
  ExtractorConfig,
  ExtractorLogLevel,
  type IConfigFile,
  type IExtractorMessagesConfig,
} from '@microsoft/api-extractor';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const check = process.argv.includes('--check');

interface EntryPoint {
  readonly packageDir: string;
  readonly name: string;
  /** Built declaration file of the entry point. */
  readonly types: string;
  readonly report: string;
}

type ExportTarget = { types?: string } | string;

/** Every entry point with declarations of every published (non-private) workspace package. */
function entryPoints(): EntryPoint[] {
  const dirs = ['packages', 'apps'].flatMap((group) =>
    readdirSync(join(root, group), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => join(root, group, d.name)),
  );
  const found: EntryPoint[] = [];
  for (const packageDir of dirs) {
    const file = join(packageDir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as {
      name: string;
      private?: boolean;
      exports?: Record<string, ExportTarget>;
    };
    if (pkg.private) continue;
    const short = pkg.name.replace(/^@netmachine\//, '');
    for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
      if (typeof target === 'string' || target.types === undefined) continue;
      const suffix = subpath === '.' ? '' : `-${subpath.replace(/^\.\//, '').replace(/\//g, '-')}`;
      found.push({
        packageDir,
        name: subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`,
        types: join(packageDir, target.types),
        report: `${short}${suffix}.api.md`,
      });
    }
  }
  return found;
}

const silent = { logLevel: ExtractorLogLevel.None } as const;

const messages: IExtractorMessagesConfig = {
  compilerMessageReporting: { default: { logLevel: ExtractorLogLevel.Warning } },
  extractorMessageReporting: {
    default: { logLevel: ExtractorLogLevel.Warning },
    // No release tags (@public, @beta) here: what an entry point exports is public.
    'ae-missing-release-tag': silent,
    'ae-internal-missing-underscore': silent,
    'ae-undocumented': silent,
    // A type used but not exported is worth seeing in the report, not worth failing on.
    'ae-forgotten-export': { logLevel: ExtractorLogLevel.None, addToApiReportFile: true },
  },
  tsdocMessageReporting: { default: silent },
};

function run(entry: EntryPoint, tempFolder: string): boolean {
  const configObject: IConfigFile = {
    projectFolder: entry.packageDir,
    mainEntryPointFilePath: entry.types,
    compiler: {
      overrideTsconfig: {
        compilerOptions: {
          target: 'ES2023',
          lib: ['ES2023'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          types: ['node'],
          strict: true,
          skipLibCheck: true,
        },
        files: [entry.types],
      },
    },
    apiReport: {
      enabled: true,
      reportFileName: entry.report,
      reportFolder: join(entry.packageDir, 'api'),
      reportTempFolder: tempFolder,
      includeForgottenExports: false,
    },
    docModel: { enabled: false },
    dtsRollup: { enabled: false },
    tsdocMetadata: { enabled: false },
    newlineKind: 'lf',
    messages,
  };
  const config = ExtractorConfig.prepare({
    configObject,
    configObjectFullPath: undefined,
    packageJsonFullPath: join(entry.packageDir, 'package.json'),
  });
  if (!check) mkdirSync(join(entry.packageDir, 'api'), { recursive: true });
  const result = Extractor.invoke(config, {
    localBuild: !check,
    messageCallback: (message) => {
      // "Analysis will use the bundled TypeScript version …" and the like: not worth a line each.
      if (message.logLevel === ExtractorLogLevel.Info || message.logLevel === ExtractorLogLevel.Verbose) {
        message.handled = true;
      }
    },
  });
  const where = relative(root, join(entry.packageDir, 'api', entry.report));
  if (check && result.apiReportChanged) {
    console.error(
      `${entry.name}: the public API differs from ${where}; run \`pnpm api\` and commit the report`,
    );
    return false;
  }
  if (!result.succeeded && !(check && result.apiReportChanged)) {
    console.error(`${entry.name}: api-extractor failed (${result.errorCount} errors)`);
    return false;
  }
  if (!check && result.apiReportChanged) console.log(`${entry.name}: updated ${where}`);
  return true;
}

const missing = entryPoints().filter((e) => !existsSync(e.types));
if (missing.length > 0) {
  console.error(
    `not built: ${missing.map((e) => relative(root, e.types)).join(', ')} (run \`turbo run build\`)`,
  );
  process.exit(1);
}
const temp = mkdtempSync(join(tmpdir(), 'api-report-'));
let ok = true;
try {
  for (const entry of entryPoints()) ok = run(entry, join(temp, basename(entry.packageDir))) && ok;
} finally {
  rmSync(temp, { recursive: true, force: true });
}
// A report whose entry point is gone would otherwise stay, describing nothing.
const expected = new Set(entryPoints().map((e) => join(e.packageDir, 'api', e.report)));
for (const dir of new Set(entryPoints().map((e) => join(e.packageDir, 'api')))) {
  if (!existsSync(dir)) continue;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.api.md'))) {
    const path = join(dir, file);
    if (expected.has(path)) continue;
    if (check) {
      console.error(`${relative(root, path)}: no entry point has this report any more; run \`pnpm api\``);
      ok = false;
    } else {
      rmSync(path);
      console.log(`removed ${relative(root, path)}`);
    }
  }
}
if (!ok) process.exit(1);
console.log(check ? 'API reports match the public API' : 'API reports written');
