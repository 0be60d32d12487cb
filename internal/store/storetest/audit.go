package storetest

import "testing"

func testAudit(t *testing.T, f *fixture) {
	t.Helper()
}
