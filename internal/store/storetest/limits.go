package storetest

import "testing"

func testLimits(t *testing.T, f *fixture) {
	t.Helper()
}
