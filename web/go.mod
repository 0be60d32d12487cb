// web/ holds the console's TypeScript sources and, after npm ci, its
// node_modules. This file makes web/ a module of its own so that the Go
// tool's ./... patterns of the main module never walk node_modules.
module github.com/hexabase/hexabase-ai/web

go 1.26
