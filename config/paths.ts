import { fileURLToPath } from 'node:url'

/**
 * The build's root folder (dist/), from which the package's own files are found: the generated
 * config validator, the dashboard, package.json, the systemd unit. Every file of the build that
 * looks one up is one folder below dist/ when it runs: this module (dist/config/) and the bundled
 * command's files (dist/gateway/flowgate*.js, scripts/build-bundle.ts), into which this module's
 * code is copied. So one anchor serves both, where `import.meta.url` of the caller would not.
 */
const DIST_DIR = new URL('../', import.meta.url)

/** A path below dist/ (or beside it, `../package.json`) as a file URL. */
export const distUrl = (rel: string): URL => new URL(rel, DIST_DIR)
/** The same as a file path. */
export const distPath = (rel: string): string => fileURLToPath(distUrl(rel))
