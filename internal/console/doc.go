// Package console serves the web console: the single-page application
// built from web/ (React + TypeScript, by Vite) into dist/app and embedded
// into the binary. Hashed assets are served with long-cache headers, every
// other path of the page gets index.html (the application's router decides
// what it shows), and a binary built before the console was built serves
// a page that says how to build it.
package console
