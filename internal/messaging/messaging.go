package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// EmbeddedConfig configures the in-process nats-server.
type EmbeddedConfig struct {
	// StoreDir holds JetStream's files (the platform passes <data-dir>/nats).
	StoreDir string
	// ListenAddr, if set, makes the server also accept TCP clients on this
	// loopback address (e.g. "127.0.0.1:4222"; port 0 picks a free port),
	// for debugging with the nats CLI. Empty (the default): no TCP port at
	// all, the platform connects in-process.
	ListenAddr string
	// SyncAlways makes JetStream fsync every write. Off by default: writes
	// reach the OS before they are acknowledged, so a killed process loses
	// nothing; only a machine crash can lose the last seconds of writes.
	SyncAlways bool
	Logger     *slog.Logger
}

// ConnectConfig configures a connection to an external NATS server or
// cluster.
type ConnectConfig struct {
	// URL is a NATS URL or a comma-separated list of them.
	URL string
	// Name identifies the connection in the server's monitoring.
	Name   string
	Logger *slog.Logger
}

// Conn is a connection to NATS with JetStream, and the embedded server when
// there is one. It is safe for concurrent use.
type Conn struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	srv    *server.Server // nil when connected to an external server
	log    *slog.Logger
	closed chan struct{}

	closeOnce    sync.Once
	shutdownOnce sync.Once
	shutdownErr  error
}

const defaultName = "hks"

// StartEmbedded starts nats-server in-process with JetStream stored in
// cfg.StoreDir and connects to it in-process.
func StartEmbedded(cfg EmbeddedConfig) (*Conn, error) {
	switch {
	case cfg.StoreDir == "":
		return nil, errors.New("messaging: StoreDir is required")
	case cfg.Logger == nil:
		return nil, errors.New("messaging: Logger is required")
	}
	if err := os.MkdirAll(cfg.StoreDir, 0o700); err != nil {
		return nil, fmt.Errorf("create nats store dir: %w", err)
	}
	opts := &server.Options{
		ServerName: defaultName,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		SyncAlways: cfg.SyncAlways,
		DontListen: true,
		NoSigs:     true, // the platform owns signal handling
	}
	if cfg.ListenAddr != "" {
		host, port, err := loopbackHostPort(cfg.ListenAddr)
		if err != nil {
			return nil, err
		}
		opts.DontListen = false
		opts.Host = host
		opts.Port = port
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("create nats server: %w", err)
	}
	log := cfg.Logger
	srv.SetLoggerV2(slogAdapter{log: log}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, errors.New("start nats server: not ready after 30s")
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("start nats server: jetstream could not be enabled in %s (see the log)", cfg.StoreDir)
	}
	c := &Conn{srv: srv, log: log, closed: make(chan struct{})}
	nc, err := nats.Connect("", append(c.clientOptions(defaultName), nats.InProcessServer(srv))...)
	if err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("connect to embedded nats: %w", err)
	}
	if err := c.init(nc); err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, err
	}
	attrs := []any{"store_dir", cfg.StoreDir}
	if a := srv.Addr(); a != nil {
		attrs = append(attrs, "listen", a.String())
	}
	log.Info("embedded nats started", attrs...)
	return c, nil
}

// Connect connects to an external NATS server with JetStream enabled. It
// retries until the server answers or ctx ends; once connected, the
// connection reconnects on its own forever.
func Connect(ctx context.Context, cfg ConnectConfig) (*Conn, error) {
	switch {
	case cfg.URL == "":
		return nil, errors.New("messaging: URL is required")
	case cfg.Logger == nil:
		return nil, errors.New("messaging: Logger is required")
	}
	name := cfg.Name
	if name == "" {
		name = defaultName
	}
	c := &Conn{log: cfg.Logger, closed: make(chan struct{})}
	delay := 250 * time.Millisecond
	for {
		opts := c.clientOptions(name)
		if d, ok := ctx.Deadline(); ok {
			opts = append(opts, nats.Timeout(min(max(time.Until(d), time.Millisecond), 5*time.Second)))
		}
		nc, err := nats.Connect(cfg.URL, opts...)
		if err == nil {
			if err := c.init(nc); err != nil {
				return nil, err
			}
			c.log.Info("connected to nats", "url", nc.ConnectedUrlRedacted())
			return c, nil
		}
		c.log.Warn("connect to nats failed, retrying", "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to nats: %w (last error: %w)", ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

func (c *Conn) clientOptions(name string) []nats.Option {
	return []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DrainTimeout(30 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				c.log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			c.log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			c.log.Warn("nats async error", "subject", subj, "err", err)
		}),
		nats.ClosedHandler(func(*nats.Conn) { c.closeOnce.Do(func() { close(c.closed) }) }),
	}
}

func (c *Conn) init(nc *nats.Conn) error {
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return fmt.Errorf("jetstream context: %w", err)
	}
	c.nc, c.js = nc, js
	return nil
}

// NATS returns the core NATS connection.
func (c *Conn) NATS() *nats.Conn { return c.nc }

// JetStream returns the JetStream API bound to the connection.
func (c *Conn) JetStream() jetstream.JetStream { return c.js }

// ClientURL returns the loopback URL TCP clients can use to reach the
// embedded server, or "" when it does not listen (or is not embedded).
func (c *Conn) ClientURL() string {
	if c.srv == nil {
		return ""
	}
	a, ok := c.srv.Addr().(*net.TCPAddr)
	if !ok || a == nil {
		return ""
	}
	return "nats://" + net.JoinHostPort(a.IP.String(), strconv.Itoa(a.Port))
}

// Ready reports whether the connection is up and JetStream answers (for
// /readyz).
func (c *Conn) Ready(ctx context.Context) error {
	if st := c.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("nats: connection %s", st)
	}
	if _, err := c.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("nats: jetstream account info: %w", err)
	}
	return nil
}

// Shutdown drains the connection (subscriptions finish the messages they
// have, pending publishes are flushed), then stops the embedded server, if
// any, and waits for it to exit. If ctx ends first the connection is closed
// without finishing the drain. Calling it again returns the first result.
func (c *Conn) Shutdown(ctx context.Context) error {
	c.shutdownOnce.Do(func() { c.shutdownErr = c.shutdown(ctx) })
	return c.shutdownErr
}

func (c *Conn) shutdown(ctx context.Context) error {
	var errs []error
	if err := c.nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		errs = append(errs, fmt.Errorf("drain nats connection: %w", err))
		c.nc.Close()
	}
	select {
	case <-c.closed:
	case <-ctx.Done():
		c.nc.Close()
		errs = append(errs, fmt.Errorf("drain nats connection: %w", ctx.Err()))
	}
	if c.srv != nil {
		c.srv.Shutdown()
		c.srv.WaitForShutdown()
		c.log.Info("embedded nats stopped")
	}
	return errors.Join(errs...)
}

// loopbackHostPort parses addr and refuses hosts that are not loopback:
// the embedded server has no authentication.
func loopbackHostPort(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("messaging: listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("messaging: listen address %q: bad port", addr)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return "", 0, fmt.Errorf("messaging: listen address %q: host must be a loopback address", addr)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// slogAdapter routes nats-server's log through slog. The server's notices
// (its start banner, mostly) go to debug; the platform logs its own line.
type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.log.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.log.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.log.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.log.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.log.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  { a.log.Debug(fmt.Sprintf(format, v...)) }

var _ server.Logger = slogAdapter{}
