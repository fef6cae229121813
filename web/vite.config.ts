import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig, type Plugin } from 'vite';

const GOAL_KB = 150;

/**
 * Prints what a first visit downloads, gzipped: index.html, the entry
 * chunk and the chunks and styles it imports statically. Pages loaded
 * later (lazy chunks) are not counted.
 */
function firstLoadSize(): Plugin {
  return {
    name: 'first-load-size',
    apply: 'build',
    writeBundle(_options, bundle) {
      const seen = new Set<string>();
      const visit = (name: string) => {
        const item = bundle[name];
        if (!item || seen.has(name)) return;
        seen.add(name);
        if (item.type === 'chunk') {
          item.imports.forEach(visit);
          item.viteMetadata?.importedCss.forEach(visit);
        }
      };
      for (const [name, item] of Object.entries(bundle)) if ((item.type === 'chunk' && item.isEntry) || name.endsWith('.html')) visit(name);
      let bytes = 0;
      for (const name of seen) {
        const item = bundle[name]!;
        bytes += gzipSync(item.type === 'chunk' ? item.code : item.source).length;
      }
      const kb = bytes / 1024;
      console.log(`dashboard first load: ${kb.toFixed(1)} kB gzipped in ${seen.size} files (goal < ${GOAL_KB} kB)${kb >= GOAL_KB ? ' — OVER THE GOAL' : ''}`);
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [preact(), firstLoadSize()],
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    // The CSP allows no inline script: no polyfill injected into index.html.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
  // `npm run dev:web` against a running vault's admin listener (VAULT_ADMIN_URL).
  server: {
    proxy: Object.fromEntries(['/api', '/auth'].map((p) => [p, { target: process.env['VAULT_ADMIN_URL'] ?? 'http://127.0.0.1:8081', changeOrigin: false }])),
  },
});
