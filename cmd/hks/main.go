// Command hks is the Hexabase AI platform: `hks server` runs it, the other
// subcommands are its command-line client and admin tools.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hexabase/hexabase-ai/internal/cli"
	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/server"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "hks",
		Short:         "Hexabase AI: Kubernetes as a Service",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serverCmd(), versionCmd(), adminCmd(), openapiCmd())
	cli.AddCommands(root)
	return root
}

func serverCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the platform (embedded SQLite and NATS by default)",
		Example: `  hks server
  hks server --listen 127.0.0.1:8443 --tls auto
  hks server --listen 0.0.0.0:8443 --tls auto --external-url https://hks.example.com:8443   # kubectl from other machines`,
		Args: cobra.NoArgs,
	}
	flags := config.RegisterFlags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := flags.Load(os.Getenv)
		if err != nil {
			return err
		}
		s, err := server.New(cmd.Context(), server.Options{Config: cfg, Version: buildVersion(),
			MasterKey: os.Getenv("HKS_MASTER_KEY"), Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()})
		if err != nil {
			return err
		}
		return s.Run(cmd.Context())
	}
	return cmd
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Example: "  hks version",
		Args:    cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "hks", buildVersion())
		},
	}
}

func openapiCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "openapi",
		Hidden:  true,
		Short:   "Print the OpenAPI 3.1 document of the API",
		Example: "  hks openapi > openapi.json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := server.OpenAPIDocument()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
			return err
		},
	}
}
