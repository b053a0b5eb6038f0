// The hub's public API: start a hub in-process (tests, scripts, the demo).
export { createHub } from './server/create-hub.js';
export type { Hub, FirstRun } from './server/create-hub.js';
export type { HubOptions, HubConfig } from './config.js';
export type { HubStore } from './store/store.js';
export { SqliteStore } from './store/sqlite/sqlite-store.js';
export { PostgresStore } from './store/postgres/postgres-store.js';
