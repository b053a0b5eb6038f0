/**
 * Copy-paste setup instructions per framework. Kept apart from the page so they can follow the client
 * package's adapters as they change. `{{KEY}}`, `{{HUB}}` and `{{PUBKEY}}` are replaced when shown.
 */
export interface SetupSnippet {
  id: string;
  title: string;
  intro: string;
  code: string;
}

const ENV = `WAFRIS_API_KEY={{KEY}}
MOAT_HUB_URL={{HUB}}
MOAT_HUB_PUBLIC_KEY={{PUBKEY}}`;

export const SETUP_SNIPPETS: readonly SetupSnippet[] = [
  {
    id: 'express', title: 'Express',
    intro: 'Install the client, set the variables, and add the middleware before your routes.',
    code: `npm install moat-waf

# environment
${ENV}

// app.js
import express from 'express';
import { moat } from 'moat-waf/adapters/express';

const app = express();
app.use(moat()); // reads WAFRIS_API_KEY, MOAT_HUB_URL, MOAT_HUB_PUBLIC_KEY`,
  },
  {
    id: 'fastify', title: 'Fastify',
    intro: 'Register the plugin first, so it runs before every route.',
    code: `npm install moat-waf

# environment
${ENV}

// server.js
import Fastify from 'fastify';
import { moat } from 'moat-waf/adapters/fastify';

const app = Fastify();
await app.register(moat); // reads WAFRIS_API_KEY, MOAT_HUB_URL, MOAT_HUB_PUBLIC_KEY`,
  },
  {
    id: 'koa', title: 'Koa',
    intro: 'Use the middleware first.',
    code: `npm install moat-waf

# environment
${ENV}

import Koa from 'koa';
import { moat } from 'moat-waf/adapters/koa';

const app = new Koa();
app.use(moat());`,
  },
  {
    id: 'hono', title: 'Hono',
    intro: 'Add the middleware for all paths.',
    code: `npm install moat-waf

# environment
${ENV}

import { Hono } from 'hono';
import { moat } from 'moat-waf/adapters/hono';

const app = new Hono();
app.use('*', moat());`,
  },
  {
    id: 'node', title: 'Node http',
    intro: 'Wrap your request handler.',
    code: `npm install moat-waf

# environment
${ENV}

import { createServer } from 'node:http';
import { protect } from 'moat-waf/adapters/node';

createServer(protect((req, res) => {
  res.end('hello');
})).listen(3000);`,
  },
  {
    id: 'wafris', title: 'Wafris client (Rails, Ruby)',
    intro: 'The wafris gem 2.x works unchanged: point its download and report URLs at this hub. Its Railtie adds the middleware (plain Rack: use Wafris::Middleware).',
    code: `# Gemfile, then: bundle install
gem 'wafris'

# environment of the app (restart it after setting them)
WAFRIS_API_KEY={{KEY}}
WAFRIS_DOWNSYNC_URL={{HUB}}/v2/downsync
WAFRIS_UPSYNC_URL={{HUB}}/v2/upsync`,
  },
];
