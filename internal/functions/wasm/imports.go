package wasm

import (
	"errors"
	"fmt"
)

// wasmImport is one entry of a module's import section.
type wasmImport struct {
	module, name, kind string
}

var errShort = errors.New("truncated")

// importsOf lists the imports of bin, a module wazero has already
// decoded and validated. wazero's CompiledModule shows imported functions
// and memories only; this shows tables and globals too.
func importsOf(bin []byte) ([]wasmImport, error) {
	p := &reader{b: bin, i: 8} // magic and version
	for p.i < len(p.b) {
		id := p.byte()
		size := p.uleb()
		if p.err != nil || size > uint64(len(p.b)-p.i) {
			return nil, errShort
		}
		if id != 2 { // not the import section
			p.i += int(size)
			continue
		}
		n := int(p.uleb())
		var out []wasmImport
		for range n {
			im := wasmImport{module: p.name(), name: p.name()}
			switch k := p.byte(); k {
			case 0x00:
				im.kind = "function"
				p.uleb() // type index
			case 0x01:
				im.kind = "table"
				p.byte() // element type
				p.limits()
			case 0x02:
				im.kind = "memory"
				p.limits()
			case 0x03:
				im.kind = "global"
				p.byte() // value type
				p.byte() // mutability
			case 0x04:
				im.kind = "tag"
				p.byte() // attribute
				p.uleb() // type index
			default:
				return nil, fmt.Errorf("import kind 0x%02x", k)
			}
			if p.err != nil {
				return nil, p.err
			}
			out = append(out, im)
		}
		return out, nil
	}
	return nil, nil
}

// reader reads the wasm binary format; the first error sticks.
type reader struct {
	b   []byte
	i   int
	err error
}

func (p *reader) byte() byte {
	if p.err != nil || p.i >= len(p.b) {
		p.err = errShort
		return 0
	}
	p.i++
	return p.b[p.i-1]
}

func (p *reader) uleb() uint64 {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		c := p.byte()
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	p.err = errShort
	return 0
}

func (p *reader) name() string {
	n := p.uleb()
	if p.err != nil || n > uint64(len(p.b)-p.i) {
		p.err = errShort
		return ""
	}
	p.i += int(n)
	return string(p.b[p.i-int(n) : p.i])
}

// limits reads a table's or memory's limits: flags, min, and max when
// flag bit 0 says so (other bits: shared, 64-bit).
func (p *reader) limits() {
	flags := p.byte()
	p.uleb()
	if flags&1 != 0 {
		p.uleb()
	}
}
