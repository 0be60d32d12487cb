package store

import (
	"context"
	"fmt"
)

// AllProjects pages through every project of a workspace.
func AllProjects(ctx context.Context, st Store, workspaceID string) ([]Project, error) {
	var all []Project
	p := Page{Limit: MaxLimit}
	for {
		items, next, err := st.ListProjects(ctx, workspaceID, p)
		if err != nil {
			return nil, fmt.Errorf("list projects: %w", err)
		}
		all = append(all, items...)
		if next == "" {
			return all, nil
		}
		p.After = next
	}
}
