import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

// During development Vite serves the panel and passes API calls to a running Slipway (npm start).
const api = process.env.SLIPWAY_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [sveltekit()],
  server: { proxy: { '/api': { target: api, changeOrigin: false }, '/metrics': api, '/healthz': api } },
  build: { chunkSizeWarningLimit: 300 },
});
