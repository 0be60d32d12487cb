package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// Functions, their versions and invocations (migration 0015_functions).

const functionCols = "id, org_id, workspace_id, project_id, name, runtime, access, description, latest_version, aliases, secrets, expires_at, created_at, updated_at, version"

func scanFunction(r rowScanner) (store.Function, error) {
	var (
		f                store.Function
		aliases, secrets string
		expires          *time.Time
	)
	err := r.Scan(&f.ID, &f.OrgID, &f.WorkspaceID, &f.ProjectID, &f.Name, &f.Runtime, &f.Access, &f.Description, &f.LatestVersion,
		&aliases, &secrets, nullTimeScan{&expires}, timeScan{&f.CreatedAt}, timeScan{&f.UpdatedAt}, &f.Version)
	if err != nil {
		return f, err
	}
	if expires != nil {
		f.ExpiresAt = *expires
	}
	if err := json.Unmarshal([]byte(aliases), &f.Aliases); err != nil {
		return f, fmt.Errorf("decode aliases: %w", err)
	}
	if err := json.Unmarshal([]byte(secrets), &f.Secrets); err != nil {
		return f, fmt.Errorf("decode secrets: %w", err)
	}
	if f.Aliases == nil {
		f.Aliases = []store.FunctionAlias{}
	}
	if f.Secrets == nil {
		f.Secrets = map[string][]byte{}
	}
	return f, nil
}

// functionJSON is what the JSON columns of f hold.
func functionJSON(f store.Function) (aliases, secrets string, err error) {
	if f.Aliases == nil {
		f.Aliases = []store.FunctionAlias{}
	}
	if f.Secrets == nil {
		f.Secrets = map[string][]byte{}
	}
	a, err := json.Marshal(f.Aliases)
	if err != nil {
		return "", "", fmt.Errorf("encode aliases: %w", err)
	}
	s, err := json.Marshal(f.Secrets)
	if err != nil {
		return "", "", fmt.Errorf("encode secrets: %w", err)
	}
	return string(a), string(s), nil
}

func expiresArg(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Store) CreateFunction(ctx context.Context, f store.Function, v store.FunctionVersion) error {
	aliases, secrets, err := functionJSON(f)
	if err != nil {
		return fmt.Errorf("create function: %w", err)
	}
	f.LatestVersion, v.Version, v.FunctionID = 1, 1, f.ID
	return s.inTxAs(ctx, "create function", func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, "INSERT INTO functions ("+functionCols+") VALUES ("+placeholders(15)+")",
			f.ID, f.OrgID, f.WorkspaceID, f.ProjectID, f.Name, f.Runtime, f.Access, f.Description, f.LatestVersion,
			aliases, secrets, expiresArg(f.ExpiresAt), f.CreatedAt, f.UpdatedAt, f.Version); err != nil {
			return err
		}
		return s.insertVersion(ctx, tx, v)
	})
}

func (s *Store) insertVersion(ctx context.Context, tx *sql.Tx, v store.FunctionVersion) error {
	env, err := json.Marshal(orEmpty(v.Env))
	if err != nil {
		return fmt.Errorf("encode env: %w", err)
	}
	limits, err := json.Marshal(v.Limits)
	if err != nil {
		return fmt.Errorf("encode limits: %w", err)
	}
	_, err = s.exec(ctx, tx, "INSERT INTO function_versions ("+versionCols+") VALUES ("+placeholders(10)+")",
		v.FunctionID, v.Version, v.Digest, v.Filename, blob(v.Content), string(env), string(limits), v.CreatedBy, v.BuildMillis, v.CreatedAt)
	return err
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (s *Store) GetFunction(ctx context.Context, id string) (store.Function, error) {
	return get(ctx, s, "get function", scanFunction, "SELECT "+functionCols+" FROM functions WHERE id = ?", id)
}

func (s *Store) GetFunctionByName(ctx context.Context, projectID, name string) (store.Function, error) {
	return get(ctx, s, "get function by name", scanFunction, "SELECT "+functionCols+" FROM functions WHERE project_id = ? AND name = ?", projectID, name)
}

func (s *Store) ListFunctions(ctx context.Context, projectID string, p store.Page) ([]store.Function, string, error) {
	return list(ctx, s, "list functions", p, scanFunction, func(f store.Function) string { return f.Name },
		"SELECT "+functionCols+" FROM functions WHERE project_id = ? AND name > ? ORDER BY name LIMIT ?", projectID)
}

// writeFunction writes next over old's row at old's version (the row is
// locked by the caller's transaction), keeping what never changes.
func (s *Store) writeFunction(ctx context.Context, tx *sql.Tx, old, next store.Function) (store.Function, error) {
	next.ID, next.OrgID, next.WorkspaceID, next.ProjectID, next.Name, next.Runtime, next.CreatedAt = old.ID, old.OrgID, old.WorkspaceID, old.ProjectID, old.Name, old.Runtime, old.CreatedAt
	next.Version = old.Version + 1
	next.UpdatedAt, next.ExpiresAt = utc(next.UpdatedAt), utc(next.ExpiresAt)
	aliases, secrets, err := functionJSON(next)
	if err != nil {
		return next, err
	}
	if next, err = scanRoundTrip(next, aliases, secrets); err != nil {
		return next, err
	}
	return next, s.execOne(ctx, tx, `UPDATE functions SET access = ?, description = ?, latest_version = ?, aliases = ?, secrets = ?, expires_at = ?, updated_at = ?, version = ?
WHERE id = ? AND version = ?`, next.Access, next.Description, next.LatestVersion, aliases, secrets, expiresArg(next.ExpiresAt), next.UpdatedAt, next.Version, next.ID, old.Version)
}

// scanRoundTrip gives next the aliases and secrets as a read would
// return them (nil slices and maps as empty ones).
func scanRoundTrip(next store.Function, aliases, secrets string) (store.Function, error) {
	next.Aliases, next.Secrets = nil, nil
	if err := json.Unmarshal([]byte(aliases), &next.Aliases); err != nil {
		return next, err
	}
	err := json.Unmarshal([]byte(secrets), &next.Secrets)
	return next, err
}

func (s *Store) UpdateFunction(ctx context.Context, id string, update func(store.Function) (store.Function, error)) (store.Function, error) {
	return casUpdate(ctx, s, "update function", scanFunction, "SELECT "+functionCols+" FROM functions WHERE id = ?", id, update,
		func(tx *sql.Tx, old, next store.Function) (store.Function, error) {
			next.LatestVersion = old.LatestVersion
			return s.writeFunction(ctx, tx, old, next)
		}, nil)
}

func (s *Store) AddFunctionVersion(ctx context.Context, id string, v store.FunctionVersion, update func(store.Function) (store.Function, error)) (store.Function, store.FunctionVersion, error) {
	f, err := casUpdate(ctx, s, "add function version", scanFunction, "SELECT "+functionCols+" FROM functions WHERE id = ?", id, update,
		func(tx *sql.Tx, old, next store.Function) (store.Function, error) {
			v.FunctionID, v.Version = old.ID, old.LatestVersion+1
			v.CreatedAt = utc(v.CreatedAt)
			if err := s.insertVersion(ctx, tx, v); err != nil {
				return next, err
			}
			next.LatestVersion = v.Version
			return s.writeFunction(ctx, tx, old, next)
		}, nil)
	if err != nil {
		return store.Function{}, store.FunctionVersion{}, err
	}
	v.Size = int64(len(v.Content))
	return f, v, nil
}

func (s *Store) DeleteFunction(ctx context.Context, id string) error {
	return s.writeOne(ctx, "delete function", "DELETE FROM functions WHERE id = ?", id)
}

func (s *Store) ListExpiredFunctions(ctx context.Context, now time.Time) ([]store.Function, error) {
	return all(ctx, s, "list expired functions", scanFunction,
		"SELECT "+functionCols+" FROM functions WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at, id", now)
}

// Versions.

const versionCols = "function_id, version, digest, filename, content, env, limits, created_by, build_ms, created_at"

func scanVersion(withContent bool) func(r rowScanner) (store.FunctionVersion, error) {
	return func(r rowScanner) (store.FunctionVersion, error) {
		var (
			v           store.FunctionVersion
			env, limits string
		)
		dest := []any{&v.FunctionID, &v.Version, &v.Digest, &v.Filename}
		if withContent {
			dest = append(dest, bytesScan{&v.Content})
		} else {
			dest = append(dest, &v.Size)
		}
		dest = append(dest, &env, &limits, &v.CreatedBy, &v.BuildMillis, timeScan{&v.CreatedAt})
		if err := r.Scan(dest...); err != nil {
			return v, err
		}
		if withContent {
			v.Size = int64(len(v.Content))
		}
		if err := json.Unmarshal([]byte(env), &v.Env); err != nil {
			return v, fmt.Errorf("decode env: %w", err)
		}
		if err := json.Unmarshal([]byte(limits), &v.Limits); err != nil {
			return v, fmt.Errorf("decode limits: %w", err)
		}
		return v, nil
	}
}

func (s *Store) GetFunctionVersion(ctx context.Context, functionID string, version int) (store.FunctionVersion, error) {
	return get(ctx, s, "get function version", scanVersion(true),
		"SELECT "+versionCols+" FROM function_versions WHERE function_id = ? AND version = ?", functionID, version)
}

func (s *Store) ListFunctionVersions(ctx context.Context, functionID string) ([]store.FunctionVersion, error) {
	cols := strings.Replace(versionCols, "content", "CAST(LENGTH(content) AS BIGINT)", 1)
	return all(ctx, s, "list function versions", scanVersion(false),
		"SELECT "+cols+" FROM function_versions WHERE function_id = ? ORDER BY version DESC", functionID)
}

// Invocations.

const invocationCols = "id, function_id, org_id, workspace_id, version, alias, trigger_kind, status, exit_reason, cold_start, started_at, duration_ms, logs, response, error, finished_at"

func scanInvocation(r rowScanner) (store.Invocation, error) {
	var (
		i        store.Invocation
		finished *time.Time
	)
	err := r.Scan(&i.ID, &i.FunctionID, &i.OrgID, &i.WorkspaceID, &i.Version, &i.Alias, &i.Trigger, &i.Status, &i.ExitReason, &i.ColdStart,
		timeScan{&i.StartedAt}, &i.DurationMS, &i.Logs, &i.Response, &i.Error, nullTimeScan{&finished})
	if finished != nil {
		i.FinishedAt = *finished
	}
	return i, err
}

func (s *Store) CreateInvocation(ctx context.Context, i store.Invocation) error {
	return s.write(ctx, "create invocation", "INSERT INTO function_invocations ("+invocationCols+") VALUES ("+placeholders(16)+")",
		i.ID, i.FunctionID, i.OrgID, i.WorkspaceID, i.Version, i.Alias, i.Trigger, i.Status, i.ExitReason, i.ColdStart,
		i.StartedAt, i.DurationMS, i.Logs, i.Response, i.Error, expiresArg(i.FinishedAt))
}

func (s *Store) GetInvocation(ctx context.Context, id string) (store.Invocation, error) {
	return get(ctx, s, "get invocation", scanInvocation, "SELECT "+invocationCols+" FROM function_invocations WHERE id = ?", id)
}

// FinishInvocation is one conditional UPDATE (only an unfinished record
// matches), so that two runners of one invocation record it once.
func (s *Store) FinishInvocation(ctx context.Context, i store.Invocation) error {
	err := s.execOne(ctx, s.db, `UPDATE function_invocations SET status = ?, exit_reason = ?, cold_start = ?, started_at = ?, duration_ms = ?, logs = ?,
response = ?, error = ?, version = ?, alias = ?, finished_at = ? WHERE id = ? AND status IN (?, ?)`,
		i.Status, i.ExitReason, i.ColdStart, i.StartedAt, i.DurationMS, i.Logs, i.Response, i.Error, i.Version, i.Alias, expiresArg(i.FinishedAt),
		i.ID, store.InvocationQueued, store.InvocationRunning)
	if err == store.ErrNotFound {
		if _, gerr := s.GetInvocation(ctx, i.ID); gerr == nil {
			err = fmt.Errorf("invocation is finished: %w", store.ErrConflict)
		}
	}
	if err != nil {
		return fmt.Errorf("finish invocation: %w", err)
	}
	return nil
}

// ListInvocations pages by (started_at, id) descending; the cursor holds
// both of the page's last row.
func (s *Store) ListInvocations(ctx context.Context, functionID string, p store.Page) ([]store.Invocation, string, error) {
	after, err := store.DecodeCursor(p.After)
	if err != nil {
		return nil, "", fmt.Errorf("list invocations: %w", err)
	}
	q := "SELECT " + invocationCols + " FROM function_invocations WHERE function_id = ?"
	args := []any{functionID}
	if after != "" {
		ts, id, ok := strings.Cut(after, "|")
		t, terr := time.Parse(time.RFC3339Nano, ts)
		if !ok || terr != nil {
			return nil, "", fmt.Errorf("list invocations: %w", store.ErrInvalidCursor)
		}
		q += " AND (started_at < ? OR (started_at = ? AND id < ?))"
		args = append(args, t, t, id)
	}
	limit := p.EffectiveLimit()
	items, err := all(ctx, s, "list invocations", scanInvocation, q+" ORDER BY started_at DESC, id DESC LIMIT ?", append(args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	items, next := cutPage(items, limit, func(i store.Invocation) string { return i.StartedAt.Format(time.RFC3339Nano) + "|" + i.ID })
	return items, next, nil
}

func (s *Store) CountUnfinishedInvocations(ctx context.Context, functionID string) (int, error) {
	return s.count(ctx, "count unfinished invocations", "SELECT COUNT(*) FROM function_invocations WHERE function_id = ? AND status IN (?, ?)",
		functionID, store.InvocationQueued, store.InvocationRunning)
}

func (s *Store) DeleteInvocationsBefore(ctx context.Context, t time.Time) (int, error) {
	res, err := s.exec(ctx, s.db, "DELETE FROM function_invocations WHERE started_at < ?", t)
	if err != nil {
		return 0, fmt.Errorf("delete invocations: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
