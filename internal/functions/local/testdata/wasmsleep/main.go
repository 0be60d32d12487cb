// A wasm function for the engine's tests: it sleeps for an hour.
package main

import "time"

func main() {
	time.Sleep(time.Hour)
}
