// Command loop is a test function that never ends.
package main

var n int

func main() {
	for {
		n++
	}
}
