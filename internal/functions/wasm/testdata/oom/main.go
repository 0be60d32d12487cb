// Command oom is a test function that allocates without bound.
package main

import "fmt"

var keep [][]byte

func main() {
	for i := 0; ; i++ {
		b := make([]byte, 1<<20)
		b[0] = byte(i)
		keep = append(keep, b)
		if i%64 == 0 {
			fmt.Println(i, "MiB")
		}
	}
}
