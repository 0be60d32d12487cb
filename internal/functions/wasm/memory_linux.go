package wasm

import "syscall"

// reserve maps n bytes of zeroed, private memory without reserving swap
// for it; nil when the kernel refuses (the caller falls back to the heap).
func reserve(n uint64) []byte {
	if n == 0 || n > 1<<32 {
		return nil
	}
	b, err := syscall.Mmap(-1, 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		return nil
	}
	return b
}

func release(b []byte) { _ = syscall.Munmap(b) }
