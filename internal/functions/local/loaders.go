package local

import _ "embed"

// The loaders' code, written under DataDir at start and bound read-only
// into every loader's sandbox at /hks.
var (
	//go:embed loader/loader.js
	loaderJS []byte
	//go:embed loader/loader.py
	loaderPy []byte
	// execerSource is the go runtime's warm loader, compiled once by the
	// engine: it waits for the specialize frame, then execve's the function.
	//go:embed loader/execer.go.txt
	execerSource []byte
	// hksMainSource is the file added to every go function: its Request and
	// Response types and the main that serves the protocol.
	//go:embed loader/hks_main.go.txt
	hksMainSource []byte
)
