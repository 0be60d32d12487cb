package storetest

import "testing"

func testMFA(t *testing.T, f *fixture) {
	t.Helper()
}
