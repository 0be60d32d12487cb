// Command sleep is a test function that sleeps for an hour.
package main

import "time"

func main() {
	time.Sleep(time.Hour)
}
