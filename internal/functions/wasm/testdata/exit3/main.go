// Command exit3 is a test function that fails with exit code 3.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "giving up")
	os.Exit(3)
}
