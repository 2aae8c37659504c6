/** Style sheets imported for their side effect: esbuild bundles them, in import order, into the page's dist/<page>.css. */
declare module '*.css';
