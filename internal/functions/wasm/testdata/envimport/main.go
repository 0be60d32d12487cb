// Command envimport is a test module that imports a function from "env",
// which the wasm runtime does not provide.
package main

//go:wasmimport env host_secret
func hostSecret() int32

func main() {
	println(hostSecret())
}
