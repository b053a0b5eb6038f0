import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

interface Asset {
  body: Buffer;
  type: string;
}

/** The hub's own static files live in packages/hub/static (next to src/ and dist/). */
const STATIC_DIR = fileURLToPath(new URL('../../static/', import.meta.url));

/**
 * Dashboard assets, read once at start: the hub's CSS and script, and uPlot straight from its npm
 * package, so the dashboard works offline with no CDN.
 */
function loadAssets(): Map<string, Asset> {
  const require = createRequire(import.meta.url);
  const uplotDir = fileURLToPath(new URL('.', `file://${require.resolve('uplot/package.json')}`));
  const assets = new Map<string, Asset>();
  const add = (name: string, path: string, type: string) => assets.set(name, { body: readFileSync(path), type });
  add('hub.css', `${STATIC_DIR}hub.css`, 'text/css; charset=utf-8');
  add('hub.js', `${STATIC_DIR}hub.js`, 'text/javascript; charset=utf-8');
  add('preview-panel.js', `${STATIC_DIR}preview-panel.js`, 'text/javascript; charset=utf-8');
  add('rule-preview.js', `${STATIC_DIR}rule-preview.js`, 'text/javascript; charset=utf-8');
  add('threshold-preview.js', `${STATIC_DIR}threshold-preview.js`, 'text/javascript; charset=utf-8');
  add('uPlot.min.css', `${uplotDir}dist/uPlot.min.css`, 'text/css; charset=utf-8');
  add('uPlot.iife.min.js', `${uplotDir}dist/uPlot.iife.min.js`, 'text/javascript; charset=utf-8');
  return assets;
}

export async function assetRoutes(app: FastifyInstance): Promise<void> {
  const assets = loadAssets();
  app.get('/assets/:name', async (request, reply) => {
    const asset = assets.get((request.params as { name: string }).name);
    if (!asset) return reply.code(404).send({ error: 'not_found', message: 'no such asset' });
    return reply.type(asset.type).header('Cache-Control', 'public, max-age=300').send(asset.body);
  });
}
