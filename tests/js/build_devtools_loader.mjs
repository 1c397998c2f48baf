// Bundles Chrome DevTools' own heap snapshot code (the worker that the
// Memory panel loads .heapsnapshot files with: HeapSnapshotLoader,
// JSHeapSnapshot) from the chrome-devtools-frontend npm package into one
// ES module that Node can import. The package ships TypeScript sources;
// esbuild strips the types. The one generated file the sources import
// (core/i18n/locales.js, made by DevTools' own build) is replaced by a
// stub with a single locale: the loader's messages are never shown here.
//
// usage: node build_devtools_loader.mjs NODE_MODULES_DIR OUTFILE
import {createRequire} from 'node:module';
import path from 'node:path';

const [nodeModules, outfile] = process.argv.slice(2);
const require = createRequire(path.join(nodeModules, 'noop.js'));
const esbuild = require('esbuild');

const entry = path.join(nodeModules, 'chrome-devtools-frontend/front_end/entrypoints/heap_snapshot_worker/heap_snapshot_worker.ts');

const localesStub = {
  name: 'devtools-locales-stub',
  setup(build) {
    build.onResolve({filter: /\/locales\.js$/}, args => ({path: args.path, namespace: 'locales-stub'}));
    build.onLoad({filter: /.*/, namespace: 'locales-stub'}, () => ({
      contents: 'export const LOCALES = ["en-US"]; export const BUNDLED_LOCALES = ["en-US"];' +
          'export const DEFAULT_LOCALE = "en-US"; export const LOCAL_FETCH_PATTERN = "";' +
          'export const REMOTE_FETCH_PATTERN = "";',
      loader: 'js',
    }));
  },
};

await esbuild.build({
  entryPoints: [entry],
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node18',
  outfile,
  logLevel: 'warning',
  plugins: [localesStub],
});
