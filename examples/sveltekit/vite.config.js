import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [sveltekit()],
  // Moat opens its rules with better-sqlite3, a native module: loaded from node_modules at run time, not bundled.
  ssr: { external: ['moat-waf', 'better-sqlite3'] },
});
