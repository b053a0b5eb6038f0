// SvelteKit with adapter-node: `vite build` writes build/, `node build` serves it (HOST, PORT).
import adapter from '@sveltejs/adapter-node';

export default {
  kit: {
    adapter: adapter(),
    // The tests post forms without an Origin header, as non-browser clients (and attackers) do; Moat judges
    // them either way, before SvelteKit's cross-site check would answer.
    csrf: { trustedOrigins: ['*'] },
  },
};
