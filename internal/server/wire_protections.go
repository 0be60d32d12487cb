package server

import "context"

func wireProtections(ctx context.Context, d *deps) error {
	return nil
}
