package local

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// directLoader is a loader run without a sandbox, to check the protocol
// and the loaders' code alone; the engine's tests run them sandboxed.
type directLoader struct {
	w   *frameWriter
	r   *bufio.Reader
	cmd *exec.Cmd
}

func startDirect(t *testing.T, codeDir string, argv ...string) *directLoader {
	t.Helper()
	reqR, reqW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "HKS_CODE_DIR="+codeDir)
	cmd.ExtraFiles = []*os.File{reqR, repW}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reqR.Close()
	repW.Close()
	t.Cleanup(func() {
		reqW.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		repR.Close()
	})
	d := &directLoader{w: &frameWriter{w: reqW}, r: bufio.NewReader(repR), cmd: cmd}
	if m, err := readFrame(d.r); err != nil || m.Type != "started" {
		t.Fatalf("first frame %+v, %v", m, err)
	}
	return d
}

func (d *directLoader) roundTrip(t *testing.T, m *message) *message {
	t.Helper()
	if err := d.w.send(m); err != nil {
		t.Fatal(err)
	}
	rep, err := readFrame(d.r)
	if err != nil {
		t.Fatalf("read reply to %s: %v", m.Type, err)
	}
	return rep
}

func writeCode(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoaderProtocolDirect(t *testing.T) {
	tmp := t.TempDir()
	js := filepath.Join(tmp, "loader.js")
	py := filepath.Join(tmp, "loader.py")
	os.WriteFile(js, loaderJS, 0o644)
	os.WriteFile(py, loaderPy, 0o644)
	cases := []struct {
		name, entry, code string
		argv              []string
		wantBody, wantLog string
		wantErr           string
		loadErr           string
	}{
		{name: "node", entry: "index.js", argv: []string{"node", js},
			code:     `module.exports = async (req) => { console.log("hi", req.method); return {status: 201, headers: {a: "b"}, body: req.method + " " + req.path + " " + req.body + " " + process.env.GREETING}; };`,
			wantBody: "POST /x hello hey", wantLog: "hi POST\n"},
		{name: "node-json", entry: "index.js", argv: []string{"node", js},
			code: `module.exports = async () => ({hello: "world"});`, wantBody: `{"hello":"world"}`},
		{name: "node-throw", entry: "index.js", argv: []string{"node", js},
			code: `module.exports = async () => { throw new Error("boom"); };`, wantErr: "Error: boom"},
		{name: "node-load-error", entry: "index.js", argv: []string{"node", js},
			code: `module.exports = async () => {{;`, loadErr: "SyntaxError: Unexpected"},
		{name: "python", entry: "handler.py", argv: []string{"python3", "-I", "-S", py},
			code:     "import os\ndef handle(req):\n    print('hi', req['method'])\n    return {'status': 201, 'headers': {'a': 'b'}, 'body': req['method'] + ' ' + req['path'] + ' ' + req['body'] + ' ' + os.environ['GREETING']}\n",
			wantBody: "POST /x hello hey", wantLog: "hi POST\n"},
		{name: "python-throw", entry: "handler.py", argv: []string{"python3", "-I", "-S", py},
			code: "def handle(req):\n    raise ValueError('boom')\n", wantErr: "ValueError: boom"},
		{name: "python-load-error", entry: "handler.py", argv: []string{"python3", "-I", "-S", py},
			code: "def handle(req:\n    pass\n", loadErr: "SyntaxError"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeCode(t, map[string]string{tc.entry: tc.code})
			l := startDirect(t, dir, tc.argv...)
			rep := l.roundTrip(t, &message{Type: "specialize", Entry: tc.entry, Env: map[string]string{"GREETING": "hey"}, Concurrency: 2})
			if tc.loadErr != "" {
				if !strings.Contains(rep.Error, tc.loadErr) || strings.Contains(rep.Error, dir) {
					t.Fatalf("load error %q, want it to say %q without the host path", rep.Error, tc.loadErr)
				}
				return
			}
			if rep.Type != "ready" || rep.Error != "" {
				t.Fatalf("specialize: %+v", rep)
			}
			rep = l.roundTrip(t, &message{Type: "invoke", ID: 7, Request: &wireRequest{Method: "POST", Path: "/x", Body: "hello"}})
			if rep.ID != 7 {
				t.Fatalf("reply id %d", rep.ID)
			}
			if tc.wantErr != "" {
				if !strings.Contains(rep.Error, tc.wantErr) || strings.Contains(rep.Error, dir) {
					t.Fatalf("error %q, want %q", rep.Error, tc.wantErr)
				}
				return
			}
			if rep.Response == nil || string(rep.Response.Body) != tc.wantBody || rep.Logs != tc.wantLog {
				t.Fatalf("reply %+v %+v", rep, rep.Response)
			}
		})
	}
}
