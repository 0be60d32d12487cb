package server

import "context"

func wireIssuer(ctx context.Context, d *deps) error {
	return nil
}
