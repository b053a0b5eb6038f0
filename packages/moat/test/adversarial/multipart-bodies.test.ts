// multipart/form-data: multer (busboy) on Express, @fastify/multipart, Hono's parseBody() and Fetch's
// formData() hand an app the text fields of such a body, so a parameter or an injection can ride in one.
// Each attack is first sent to the unguarded app, to show that its parser really reads the field, then
// to the same app behind Moat. Where parsers disagree (an empty filename, bare LF line ends, a UTF-16
// part, several names), the attack is sent to the parser that reads it as a field.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import express from 'express';
import multer from 'multer';
import Fastify from 'fastify';
import fastifyMultipart from '@fastify/multipart';
import { Hono } from 'hono';
import { createAdaptorServer } from '@hono/node-server';
import { after } from 'node:test';
import { moat as expressMoat } from '../../src/adapters/express.js';
import { moat as fastifyMoat } from '../../src/adapters/fastify.js';
import { moat as honoMoat } from '../../src/adapters/hono.js';
import { createFirewall, type Firewall } from '../../src/firewall/firewall.js';
import type { Decision } from '../../src/engine/decision.js';
import type { MoatOptions } from '../../src/firewall/options.js';
import { close, listen, rulesFile } from '../adapters-helpers.js';
import { sendOpen as send } from './request-apps.js';

type Framework = 'express' | 'fastify' | 'hono' | 'fetch' | 'web';
const FRAMEWORKS: readonly Framework[] = ['express', 'fastify', 'hono', 'fetch', 'web'];

/** The text fields the app read, and its files as `FILE <name> <bytes>`. */
type Fields = Record<string, string>;

async function serve(server: Server): Promise<number> {
  const port = await listen(server);
  after(() => close(server));
  return port;
}

function fileText(name: string | undefined, bytes: Buffer | ArrayBuffer): string {
  return `FILE ${name ?? ''} ${Buffer.from(bytes as ArrayBuffer).toString('latin1')}`;
}

/** Each app answers the fields its framework's multipart parser read. */
const START: Record<Framework, (firewall: Firewall | null) => Promise<number>> = {
  express: async (firewall) => {
    const app = express();
    app.set('env', 'test');
    if (firewall !== null) app.use(expressMoat(firewall));
    app.post('/upload', multer({ storage: multer.memoryStorage() }).any(), (req, res) => {
      const fields: Fields = { ...(req.body as Fields) };
      for (const file of (req.files ?? []) as Express.Multer.File[]) fields[file.fieldname] = fileText(file.originalname, file.buffer);
      res.json(fields);
    });
    return serve(createServer(app));
  },
  fastify: async (firewall) => {
    const app = Fastify();
    if (firewall !== null) await app.register(fastifyMoat, { firewall });
    await app.register(fastifyMultipart);
    app.post('/upload', async (request) => {
      const fields: Fields = {};
      for await (const part of request.parts()) {
        if (part.type === 'file') fields[part.fieldname] = fileText(part.filename, await part.toBuffer());
        else fields[part.fieldname] = String(part.value);
      }
      return fields;
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    after(() => app.close());
    return (app.server.address() as { port: number }).port;
  },
  hono: async (firewall) => {
    const app = new Hono();
    if (firewall !== null) app.use(honoMoat(firewall));
    app.post('/upload', async (c) => c.json(await formFields(await c.req.formData())));
    return serve(createAdaptorServer({ fetch: app.fetch }) as Server);
  },
  // A fetch handler on Node, Fetch's own formData().
  fetch: async (firewall) => serve(createAdaptorServer({
    fetch: async (request: Request) => {
      if (firewall !== null) {
        const answer = await firewall.handle(request, { ip: '127.0.0.1' });
        if (answer !== null) return answer;
      }
      return Response.json(await formFields(await request.formData()));
    },
  }) as Server),
  // The Web path proper (as on Bun and Deno): a plain Request, its body read from a clone.
  web: async (firewall) => serve(createAdaptorServer({
    fetch: async (incoming: Request) => {
      const request = new Request(incoming.url, { method: incoming.method, headers: incoming.headers, body: await incoming.arrayBuffer() });
      if (firewall !== null) {
        const answer = await firewall.handle(request, { ip: '127.0.0.1' });
        if (answer !== null) return answer;
      }
      return Response.json(await formFields(await request.formData()));
    },
  }) as Server),
};

async function formFields(form: FormData): Promise<Fields> {
  const fields: Fields = {};
  for (const [name, value] of form) fields[name] = typeof value === 'string' ? value : fileText(value.name, await value.arrayBuffer());
  return fields;
}

interface Target {
  firewall: Firewall;
  decisions: Decision[];
  apps: Record<Framework, { plain: number; guarded: number }>;
}

async function target(document: object, options: MoatOptions = {}): Promise<Target> {
  const file = rulesFile(document);
  after(() => file.cleanup());
  const decisions: Decision[] = [];
  const firewall = createFirewall({ rules: file.path, logger: false, trustedProxies: [], onDecision: (d) => decisions.push(d), ...options });
  after(() => firewall.close());
  const apps = {} as Target['apps'];
  for (const framework of FRAMEWORKS) apps[framework] = { plain: await START[framework](null), guarded: await START[framework](firewall) };
  return { firewall, decisions, apps };
}

const BOUNDARY = '----moatBoundary7MA4YWxk';

interface Part {
  name?: string;
  /** Written as is after `Content-Disposition: ` when given. */
  disposition?: string;
  filename?: string;
  type?: string;
  value: string | Buffer;
}

/** A multipart body as a browser writes it (CRLF, the close delimiter), unless a test bends it. */
function multipart(parts: readonly Part[], boundary = BOUNDARY, eol = '\r\n'): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    let head = `--${boundary}${eol}Content-Disposition: ${part.disposition ?? `form-data; name="${part.name}"${part.filename === undefined ? '' : `; filename="${part.filename}"`}`}${eol}`;
    if (part.type !== undefined) head += `Content-Type: ${part.type}${eol}`;
    chunks.push(Buffer.from(`${head}${eol}`, 'latin1'), Buffer.isBuffer(part.value) ? part.value : Buffer.from(part.value), Buffer.from(eol));
  }
  chunks.push(Buffer.from(`--${boundary}--${eol}`));
  return Buffer.concat(chunks);
}

function upload(body: Buffer, contentType = `multipart/form-data; boundary=${BOUNDARY}`) {
  return { method: 'POST', path: '/upload', headers: { 'content-type': contentType }, body };
}

async function fieldsRead(port: number, request: ReturnType<typeof upload>): Promise<{ status: number; fields: Fields | null }> {
  const response = await send(port, request);
  return { status: response.status, fields: response.status === 200 ? JSON.parse(response.body) as Fields : null };
}

const PARAM_RULES = { block: { params: ['<script'] } };
const PHOTO = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x0d, 0x0a, 0x2d, 0x2d, 0x00, 0xff, 0xd9]);

test('a multipart text field carrying <script is blocked on Express (multer), Fastify, Hono, a fetch handler and the Web path; a clean upload reaches the app byte for byte', async () => {
  const t = await target(PARAM_RULES);
  const evil = upload(multipart([{ name: 'title', value: 'holiday' }, { name: 'photo', filename: 'beach.jpg', type: 'image/jpeg', value: PHOTO },
    { name: 'bio', value: '<script>alert(1)</script>' }]));
  const clean = upload(multipart([{ name: 'title', value: 'holiday' }, { name: 'photo', filename: 'beach.jpg', type: 'image/jpeg', value: PHOTO },
    { name: 'bio', value: 'I like <b>bold</b> & 100% "quotes" + plus=signs' }]));
  for (const framework of FRAMEWORKS) {
    const { plain, guarded } = t.apps[framework];
    const read = await fieldsRead(plain, evil);
    assert.deepEqual([read.status, read.fields?.bio], [200, '<script>alert(1)</script>'], `${framework}: the unguarded app reads the field`);
    assert.equal((await send(guarded, evil)).status, 403, framework);
    const passed = await fieldsRead(guarded, clean);
    assert.deepEqual(passed.fields, { title: 'holiday', photo: fileText('beach.jpg', PHOTO), bio: 'I like <b>bold</b> & 100% "quotes" + plus=signs' }, framework);
  }
  assert.equal(t.firewall.stats().bodiesUninspected.multipart, 0);
});

test('injections in multipart fields are found by attack detection, with the field named; an uploaded HTML file is not judged, its name is', async () => {
  const t = await target({ attacks: 'block' });
  const sqli = upload(multipart([{ name: 'q', value: "x' OR '1'='1" }]));
  const benign = upload(multipart([{ name: 'q', value: "O'Brien" }, { name: 'page', filename: 'page.html', type: 'text/html', value: '<script>alert(1)</script><img src=x onerror=alert(1)>' }]));
  const traversal = upload(multipart([{ name: 'doc', filename: '../../../../etc/passwd', type: 'text/plain', value: 'hello' }]));
  for (const framework of FRAMEWORKS) {
    t.decisions.length = 0;
    const { plain, guarded } = t.apps[framework];
    assert.equal((await fieldsRead(plain, sqli)).fields?.q, "x' OR '1'='1");
    assert.equal((await send(guarded, sqli)).status, 403, framework);
    assert.deepEqual([t.decisions[0]?.attack?.category, t.decisions[0]?.attack?.location, t.decisions[0]?.attack?.field], ['sqli', 'body', 'q'], framework);
    assert.equal((await send(guarded, benign)).status, 200, `${framework}: a name and an uploaded HTML file pass`);
    assert.equal((await send(guarded, traversal)).status, 403, framework);
    assert.deepEqual([t.decisions.at(-1)?.attack?.category, t.decisions.at(-1)?.attack?.field], ['traversal', 'doc.filename'], framework);
  }
});

test('a part that some parser reads as a field is judged, whatever the others read: an empty filename, an octet-stream part, a file holding a bare-LF part', async () => {
  const t = await target(PARAM_RULES);
  const script = '<script>alert(1)</script>';
  // busboy (multer, @fastify/multipart) reads `filename=""` as a text field; Fetch reads it as a file.
  const emptyName = upload(multipart([{ name: 'bio', disposition: 'form-data; name="bio"; filename=""', value: script }]));
  const read = await fieldsRead(t.apps.express.plain, emptyName);
  assert.equal(read.fields?.bio, script);
  // Fetch reads an application/octet-stream part without a filename as text; busboy as a file.
  const octet = upload(multipart([{ name: 'bio', type: 'application/octet-stream', value: script }]));
  assert.equal((await fieldsRead(t.apps.fetch.plain, octet)).fields?.bio, script);
  // A file whose content holds a delimiter after a bare LF: a parser that splits there finds a field.
  const smuggled = upload(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="doc"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n` +
    `notes\n--${BOUNDARY}\nContent-Disposition: form-data; name="bio"\n\n${script}\r\n--${BOUNDARY}--\r\n`));
  for (const request of [emptyName, octet, smuggled]) {
    for (const framework of FRAMEWORKS) assert.equal((await send(t.apps[framework].guarded, request)).status, 403, framework);
  }
});

test('a UTF-16 part (busboy decodes it) and a boundary declared twice are read every way a parser may read them', async () => {
  const t = await target(PARAM_RULES);
  const utf16 = upload(multipart([{ name: 'bio', type: 'text/plain; charset=utf-16le', value: Buffer.from('<script>alert(1)', 'utf16le') }]));
  assert.equal((await fieldsRead(t.apps.express.plain, utf16)).fields?.bio, '<script>alert(1)');
  assert.equal((await send(t.apps.express.guarded, utf16)).status, 403);
  // Two boundary parameters: busboy takes the first, a parser that keeps the last parameter the other.
  const contentType = 'multipart/form-data; boundary=first; boundary=second';
  const underFirst = upload(multipart([{ name: 'bio', value: '<script>alert(1)' }], 'first'), contentType);
  assert.equal((await fieldsRead(t.apps.express.plain, underFirst)).fields?.bio, '<script>alert(1)');
  const underSecond = upload(multipart([{ name: 'bio', value: '<script>alert(1)' }], 'second'), contentType);
  for (const request of [underFirst, underSecond]) {
    for (const framework of FRAMEWORKS) assert.equal((await send(t.apps[framework].guarded, request)).status, 403, framework);
  }
  // A quoted boundary, as RFC 2046 allows.
  const quoted = upload(multipart([{ name: 'bio', value: '<script>alert(1)' }], 'a b:c'), 'multipart/form-data; boundary="a b:c"');
  assert.equal((await fieldsRead(t.apps.express.plain, quoted)).fields?.bio, '<script>alert(1)');
  for (const framework of FRAMEWORKS) assert.equal((await send(t.apps[framework].guarded, quoted)).status, 403, framework);
});

test('an exclusion by field name covers a multipart field, but not a part that names two fields', async () => {
  const t = await target({ attacks: { xss: 'block', exclude: [{ path: '/upload', categories: ['xss'], params: ['body.content'] }] } });
  const html = '<img src=x onerror=alert(1)>';
  const editor = upload(multipart([{ name: 'content', value: html }]));
  assert.equal((await send(t.apps.express.guarded, editor)).status, 200);
  const other = upload(multipart([{ name: 'title', value: html }]));
  assert.equal((await send(t.apps.express.guarded, other)).status, 403);
  // Parsers that keep the first name read `content`, those that keep the last read `title`.
  const titleLast = upload(multipart([{ disposition: 'form-data; name="content"; name="title"', value: html }]));
  const titleFirst = upload(multipart([{ disposition: 'form-data; name="title"; name="content"', value: html }]));
  assert.deepEqual(await fieldsRead(t.apps.express.plain, titleFirst), { status: 200, fields: { title: html } });
  for (const request of [titleLast, titleFirst]) {
    for (const framework of FRAMEWORKS) assert.equal((await send(t.apps[framework].guarded, request)).status, 403, framework);
  }
});

test('a multipart body without a boundary, or whose boundary opens no part, is counted as not judged; forms off reads none', async () => {
  const t = await target(PARAM_RULES);
  const port = t.apps.express.guarded;
  const noBoundary = upload(multipart([{ name: 'bio', value: '<script>' }]), 'multipart/form-data');
  const noPart = upload(Buffer.from('<script> and no delimiter at all'));
  for (const request of [noBoundary, noPart]) {
    // multer refuses both (no field reaches the app), and Moat leaves that to it.
    const plainStatus = (await send(t.apps.express.plain, request)).status;
    assert.notEqual(plainStatus, 200);
    assert.equal((await send(port, request)).status, plainStatus);
  }
  const stats = t.firewall.stats();
  assert.equal(stats.bodiesUninspected.multipart, 2);
  assert.equal(stats.bodiesInspected, 0);

  const off = await target(PARAM_RULES, { body: { form: false } });
  const evil = upload(multipart([{ name: 'bio', value: '<script>alert(1)' }]));
  assert.equal((await send(off.apps.express.guarded, evil)).status, 200);
  assert.equal(off.firewall.stats().bodiesInspected, 0);
});
