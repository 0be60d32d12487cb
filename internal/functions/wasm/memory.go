package wasm

import "github.com/tetratelabs/wazero/experimental"

// capMemory backs one instance's linear memory and enforces its cap: a
// growth past limit fails (memory.grow returns -1) and is recorded, which
// is how an invocation is known to have run out of memory.
//
// Where the platform can (reserve), the whole cap is reserved up front as
// an anonymous mapping outside the Go heap: growing is a reslice (no copy,
// no zeroing), only touched pages cost memory, and the garbage collector
// never sees the instance's memory. Elsewhere it is a Go slice grown by
// doubling.
type capMemory struct {
	limit    uint64
	buf      []byte
	region   []byte // the reservation, released by Free
	reserved bool   // reserve was tried
	started  bool
	refused  bool
}

var (
	_ experimental.MemoryAllocator = (*capMemory)(nil)
	_ experimental.LinearMemory    = (*capMemory)(nil)
)

// Allocate implements experimental.MemoryAllocator: the instance's one
// memory is m itself.
func (m *capMemory) Allocate(_, _ uint64) experimental.LinearMemory { return m }

// Reallocate implements experimental.LinearMemory. The first call (the
// module's initial memory) always succeeds: a module whose initial memory
// exceeds the cap is refused before it is instantiated.
func (m *capMemory) Reallocate(size uint64) []byte {
	if m.started && size > m.limit {
		m.refused = true
		return nil
	}
	m.started = true
	if !m.reserved {
		m.reserved = true
		m.region = reserve(max(size, m.limit))
	}
	if m.region != nil {
		m.buf = m.region[:size]
		return m.buf
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size] // beyond the old length: never written, zero
		return m.buf
	}
	nb := make([]byte, size, max(size, min(2*uint64(cap(m.buf)), m.limit)))
	copy(nb, m.buf)
	m.buf = nb
	return m.buf
}

// Free implements experimental.LinearMemory. wazero calls it once the
// instance is closed and no code of it runs; run calls it again (a no-op)
// so that a reservation is never left behind.
func (m *capMemory) Free() {
	if m.region != nil {
		release(m.region)
		m.region = nil
	}
	m.buf = nil
}
