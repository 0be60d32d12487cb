// Command escape is a test function that tries to read a host file and to
// open a TCP connection (to DIAL_ADDR), and answers what happened.
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	if b, err := os.ReadFile("/etc/passwd"); err != nil {
		fmt.Println("open: failed:", err)
	} else {
		fmt.Printf("open: read %d bytes\n", len(b))
	}
	if c, err := net.Dial("tcp", os.Getenv("DIAL_ADDR")); err != nil {
		fmt.Println("dial: failed:", err)
	} else {
		c.Close()
		fmt.Println("dial: connected")
	}
	entries, err := os.ReadDir("/")
	fmt.Println("readdir:", len(entries), err)
}
