// prepublishOnly of every public package: only pnpm may publish them. pnpm rewrites the
// `workspace:*` ranges of sibling packages to exact versions when it packs; npm or yarn would
// publish them as written, and the package could not be installed.
const agent = process.env.npm_config_user_agent ?? '';
if (!agent.startsWith('pnpm/')) {
  process.stderr.write(
    `refusing to publish with ${agent.split(' ')[0] || 'an unknown client'}: use pnpm (pnpm release)\n`,
  );
  process.exit(1);
}
