package storetest

import "testing"

func testOAuth(t *testing.T, f *fixture) {
	t.Helper()
}
