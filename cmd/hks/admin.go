package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hexabase/hexabase-ai/internal/server"
)

func adminCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "Administer a platform's data directly (server stopped or running)",
		Example: `  echo "$PASSWORD" | hks admin create-user --email admin@example.com --password-stdin --platform-admin`}
	var dataDir, dbURL, email string
	var stdin, platformAdmin bool
	create := &cobra.Command{
		Use:     "create-user",
		Short:   "Create a local user",
		Example: `  echo "$PASSWORD" | hks admin create-user --email admin@example.com --password-stdin --platform-admin`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !stdin {
				return errors.New("--password-stdin is required: pass the password on standard input")
			}
			line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("read password: %w", err)
			}
			pw := strings.TrimRight(line, "\r\n")
			u, err := server.CreateUser(cmd.Context(), server.AdminOptions{DataDir: dataDir, DatabaseURL: dbURL, MasterKey: os.Getenv("HKS_MASTER_KEY")},
				email, pw, platformAdmin)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created user %s (%s)\n", u.Email, u.ID)
			return nil
		},
	}
	dataFlags(create, &dataDir, &dbURL)
	create.Flags().StringVar(&email, "email", "", "email of the new user")
	create.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from standard input")
	create.Flags().BoolVar(&platformAdmin, "platform-admin", false, "make the user a platform administrator")
	_ = create.MarkFlagRequired("email")
	cmd.AddCommand(create, rotateKeysCmd(), setupTokenCmd())
	return cmd
}

func setupTokenCmd() *cobra.Command {
	var dataDir, dbURL string
	cmd := &cobra.Command{
		Use:     "setup-token",
		Example: "  hks admin setup-token --data-dir ./.hks",
		Short:   "Print a new first-run setup token (while no user exists), replacing a lost one",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, err := server.ResetSetupToken(cmd.Context(), server.AdminOptions{DataDir: dataDir, DatabaseURL: dbURL, MasterKey: os.Getenv("HKS_MASTER_KEY")})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	dataFlags(cmd, &dataDir, &dbURL)
	return cmd
}

func rotateKeysCmd() *cobra.Command {
	var dataDir, dbURL string
	cmd := &cobra.Command{
		Use:     "rotate-keys",
		Example: "  hks admin rotate-keys --data-dir ./.hks",
		Short:   "Rotate the token signing key now (the retired key keeps verifying until its tokens expire)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kid, retired, err := server.RotateSigningKeys(cmd.Context(), server.AdminOptions{DataDir: dataDir, DatabaseURL: dbURL, MasterKey: os.Getenv("HKS_MASTER_KEY")})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signing with new key %s; retired %s\n", kid, strings.Join(retired, ", "))
			return nil
		},
	}
	dataFlags(cmd, &dataDir, &dbURL)
	return cmd
}

// dataFlags are the flags that locate the platform's data: its data
// directory and, when it uses PostgreSQL, the database.
func dataFlags(cmd *cobra.Command, dataDir, dbURL *string) {
	cmd.Flags().StringVar(dataDir, "data-dir", envOr("HKS_DATA_DIR", "./.hks"), "data directory of the platform (env HKS_DATA_DIR)")
	cmd.Flags().StringVar(dbURL, "database-url", os.Getenv("HKS_DATABASE_URL"), "postgres://… when the platform uses PostgreSQL (env HKS_DATABASE_URL)")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
