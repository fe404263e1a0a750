// Builds the web phone into dist/: src/main.js bundled (with JsSIP) into
// app.js + app.js.map, and every other file of src/ that is not JavaScript
// (index.html, style.css, favicon.svg, ...) copied as is.
//
//   node build.mjs

import { build } from 'esbuild';
import { copyFile, mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));
const src = path.join(root, 'src');
const dist = path.join(root, 'dist');

// Static assets: everything in src/ except the JavaScript modules (bundled).
const isAsset = (name) => !name.startsWith('.') && !/\.(m?js|ts)$/i.test(name);

async function copyAssets(from, to) {
  const copied = [];
  await mkdir(to, { recursive: true });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) {
      copied.push(...(await copyAssets(source, target)));
    } else if (entry.isFile() && isAsset(entry.name)) {
      await copyFile(source, target);
      copied.push(target);
    }
  }
  return copied;
}

async function main() {
  const started = Date.now();
  await rm(dist, { recursive: true, force: true });
  await mkdir(dist, { recursive: true });

  const result = await build({
    entryPoints: [path.join(src, 'main.js')],
    outfile: path.join(dist, 'app.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
    metafile: true,
  });

  const assets = await copyAssets(src, dist);
  const js = (await stat(path.join(dist, 'app.js'))).size;
  const files = Object.keys(result.metafile.outputs).length + assets.length;
  console.log(
    `webphone: built dist/ (${files} files, app.js ${(js / 1024).toFixed(1)} KiB) in ${Date.now() - started} ms`
  );
}

main().catch((error) => {
  console.error(`webphone: build failed: ${error && error.message ? error.message : error}`);
  process.exit(1);
});
