package server

import "context"

func wireAudit(ctx context.Context, d *deps) error {
	return nil
}
