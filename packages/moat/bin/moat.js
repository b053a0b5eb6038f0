#!/usr/bin/env node
// The `moat-waf` command. A committed, executable file rather than a build output, so that npm can link and
// mark it executable at install time, before the TypeScript build has run; the logic lives in dist/cli.
await import('../dist/cli/main.js');
