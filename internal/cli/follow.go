package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// Event is one Server-Sent Event of an hks event stream.
type Event struct {
	// Name is the SSE event name (the event type).
	Name string
	ID   string
	Data api.WorkspaceEvent
}

// errStopStream is returned by a Stream callback to end the stream
// without an error.
var errStopStream = errors.New("stop the stream")

// Stream GETs path as Server-Sent Events and calls fn for each event
// until fn returns an error (errStopStream ends it cleanly), the server
// ends the stream (io.EOF) or ctx ends.
func (c *Client) Stream(ctx context.Context, path string, fn func(Event) error) error {
	var resp *http.Response
	err := c.withToken(ctx, func() (err error) {
		resp, err = c.openStream(ctx, path)
		return err
	})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	err = readSSE(resp.Body, fn)
	if errors.Is(err, errStopStream) {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func (c *Client) openStream(ctx context.Context, path string) (*http.Response, error) {
	resp, err := c.open(ctx, path, "text/event-stream")
	if err != nil {
		return nil, err
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		return nil, fmt.Errorf("the server answered %q, not an event stream", ct)
	}
	return resp, nil
}

// Copy GETs path and copies the answer (a log, as text) to w as it
// comes, until the server ends it or ctx ends (then it returns nil).
func (c *Client) Copy(ctx context.Context, path string, w io.Writer) error {
	var resp *http.Response
	err := c.withToken(ctx, func() (err error) {
		resp, err = c.open(ctx, path, "text/plain")
		return err
	})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil && ctx.Err() == nil {
		return fmt.Errorf("read the answer: %w", err)
	}
	return nil
}

// open GETs path without a timeout (an answer lasts as long as ctx) and
// turns an error status into an APIError.
func (c *Client) open(ctx context.Context, path, accept string) (*http.Response, error) {
	return c.send(ctx, http.MethodGet, path, accept, nil)
}

// send is open with any method and a JSON body (nil: none).
func (c *Client) send(ctx context.Context, method, path, accept string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Creds.Server+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("Authorization", "Bearer "+c.Creds.AccessToken)
	hc := *c.HTTP
	hc.Timeout = 0 // a stream lasts as long as ctx
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", c.Creds.Server, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, apiErrorOf(resp, b)
	}
	return resp, nil
}

// readSSE parses an event stream of workspace events (comments are
// skipped) until r ends (io.EOF) or fn fails.
func readSSE(r io.Reader, fn func(Event) error) error {
	return readFrames(r, func(f frame) error {
		ev := Event{Name: f.name, ID: f.id}
		if err := json.Unmarshal(f.data, &ev.Data); err != nil {
			return fmt.Errorf("read events: bad data: %w", err)
		}
		return fn(ev)
	})
}

// frame is one Server-Sent Event as it came: its name, id and data (the
// data lines joined by newlines).
type frame struct {
	name, id string
	data     []byte
}

// readFrames parses an event stream (comments and events without data are
// skipped) and calls fn for each event as soon as its blank line arrives,
// until r ends (io.EOF) or fn fails.
func readFrames(r io.Reader, fn func(frame) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var f frame
	var data strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				return io.EOF
			}
			return fmt.Errorf("read events: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if data.Len() > 0 {
				f.data = []byte(data.String())
				if err := fn(f); err != nil {
					return err
				}
			}
			f, data = frame{}, strings.Builder{}
		case strings.HasPrefix(line, ":"):
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				f.name = value
			case "id":
				f.id = value
			case "data":
				if data.Len() > 0 {
					data.WriteByte('\n')
				}
				data.WriteString(value)
			}
		}
	}
}

// errWorkspaceFailed wraps the reason a followed workspace failed.
var errWorkspaceFailed = errors.New("workspace failed")

// waitForWorkspace follows the workspace at wsPath, printing each status
// change, until it runs (nil), fails, is deleted or sleeps (an error with the
// reason), or timeout passes. A dropped stream is reopened: its first
// event is the current status, so nothing is missed.
func waitForWorkspace(ctx context.Context, c *Client, wsPath, name string, timeout time.Duration, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := ""
	handle := func(ev Event) error {
		var d struct {
			Status   string `json:"status"`
			Reason   string `json:"reason"`
			Step     string `json:"step"`
			Kind     string `json:"kind"`
			Attempts int    `json:"attempts"`
		}
		if b, err := json.Marshal(ev.Data.Data); err == nil {
			_ = json.Unmarshal(b, &d)
		}
		switch ev.Name {
		case "workspace.status":
			if d.Status != last {
				line := "workspace " + name + ": " + d.Status
				if d.Reason != "" {
					line += " (" + d.Reason + ")"
				}
				fmt.Fprintln(out, line)
				last = d.Status
			}
			switch d.Status {
			case "running":
				return errStopStream
			case "failed":
				reason := d.Reason
				if reason == "" {
					reason = "no reason given"
				}
				return fmt.Errorf("%w: %s: %s", errWorkspaceFailed, name, reason)
			case "deleting", "deleted":
				return fmt.Errorf("%w: %s is %s", errWorkspaceFailed, name, d.Status)
			case "sleeping":
				// A wake that failed for good, or a sleep since: it
				// will not run without another wake.
				reason := d.Reason
				if reason == "" {
					reason = "no reason given"
				}
				return fmt.Errorf("%w: %s is sleeping: %s", errWorkspaceFailed, name, reason)
			}
		case "workspace.progress":
			if d.Step != "" {
				fmt.Fprintln(out, "  "+d.Step)
			}
		case "task.status":
			if d.Status == "failed" || d.Reason != "" {
				fmt.Fprintf(out, "  task %s: %s (attempt %d) %s\n", d.Kind, d.Status, d.Attempts, d.Reason)
			}
		}
		return nil
	}
	for {
		err := c.Stream(ctx, wsPath+"/events", handle)
		switch {
		case err == nil, errors.Is(err, errWorkspaceFailed):
			return err
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
			if last == "" {
				last = "unknown"
			}
			return fmt.Errorf("timed out after %s waiting for workspace %s to run (status: %s)", timeout, name, last)
		case ctx.Err() != nil:
			return ctx.Err()
		}
		var ae *APIError
		if errors.As(err, &ae) && ae.Status < 500 {
			return fmt.Errorf("follow workspace %s: %w", name, err)
		}
		// The stream dropped (server restart, proxy): follow again.
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
