/** Style sheets imported for their side effect: esbuild bundles them into dist/dashboard.css. */
declare module '*.css';
