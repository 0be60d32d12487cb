package storetest

import "testing"

func testFederation(t *testing.T, f *fixture) {
	t.Helper()
}
