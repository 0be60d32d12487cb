// Command logs is a test function: it writes 100 KiB of logs to stderr and
// answers plain text.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	line := strings.Repeat("x", 1023) + "\n"
	for i := 0; i < 100; i++ {
		fmt.Fprint(os.Stderr, line)
	}
	fmt.Println("plain text, not JSON")
}
