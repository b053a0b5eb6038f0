// A NestJS app (Express platform) protected by Moat. Run: node --import tsx examples/nest.ts
// Decorators are applied as functions so the example runs under tsx without decorator settings; in a Nest
// project they are the usual `@Controller()`, `@Get()`, `@Post('login')`, `@HttpCode(200)`, `@Body()`.
import 'reflect-metadata';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Body, Controller, Get, HttpCode, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { parseRulesDocument, writeRulesFile } from 'moat-waf';
import { moatForNest } from 'moat-waf/adapters/nest';

const rules = join(mkdtempSync(join(tmpdir(), 'moat-example-')), 'rules.moat');
writeRulesFile(parseRulesDocument(readFileSync(new URL('rules.json', import.meta.url), 'utf8'), 'rules.json'), rules);

class AppController {
  home(): string { return 'hello\n'; }
  login(body: { user?: string }): string { return `hello ${body.user ?? 'stranger'}\n`; }
}
const proto = AppController.prototype;
Controller()(AppController);
Get()(proto, 'home', Object.getOwnPropertyDescriptor(proto, 'home')!);
Post('login')(proto, 'login', Object.getOwnPropertyDescriptor(proto, 'login')!);
HttpCode(200)(proto, 'login', Object.getOwnPropertyDescriptor(proto, 'login')!);
Body()(proto, 'login', 0);

class AppModule {}
Module({ controllers: [AppController] })(AppModule);

const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
moatForNest(app, { rules, trustedProxies: [] }); // before listen(): ahead of Nest's body parser and routes
await app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
const { port } = app.getHttpServer().address() as { port: number };
console.log(`moat example (nest) listening on http://127.0.0.1:${port}`);
