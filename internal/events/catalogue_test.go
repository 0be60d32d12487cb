package events

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// catalogueAST reads catalogue.go: the value of each constant, and the
// payload type name of each Catalogue entry by constant ("" for nil).
func catalogueAST(t *testing.T) (consts, payloads map[string]string) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "catalogue.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts, payloads = map[string]string{}, map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.ValueSpec:
			for i, name := range n.Names {
				if lit, ok := n.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					consts[name.Name], _ = strconv.Unquote(lit.Value)
				}
			}
		case *ast.KeyValueExpr:
			k, ok := n.Key.(*ast.Ident)
			if !ok {
				return true
			}
			payloads[k.Name] = ""
			if cl, ok := n.Value.(*ast.CompositeLit); ok {
				payloads[k.Name] = cl.Type.(*ast.Ident).Name
			}
		}
		return true
	})
	return consts, payloads
}

// TestCatalogue: every constant has a Catalogue entry and back, and no
// two constants share a type.
func TestCatalogue(t *testing.T) {
	consts, payloads := catalogueAST(t)
	seen := map[string]string{}
	for name, v := range consts {
		if _, ok := payloads[name]; !ok {
			t.Errorf("%s (%q) has no Catalogue entry", name, v)
		}
		if _, ok := Catalogue[v]; !ok {
			t.Errorf("Catalogue misses %q", v)
		}
		if other, ok := seen[v]; ok {
			t.Errorf("%s and %s are both %q", name, other, v)
		}
		seen[v] = name
	}
	if len(Catalogue) != len(consts) {
		t.Errorf("Catalogue has %d entries for %d constants", len(Catalogue), len(consts))
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "events.md"))
	if err != nil {
		t.Fatal(err)
	}
	for typ := range Catalogue {
		if !strings.Contains(string(doc), "| `"+typ+"` |") {
			t.Errorf("docs/events.md does not list %s", typ)
		}
	}
}

// forwarders are helpers that publish with a fixed payload type: a call
// of one names the event type as argument typeArg, and the helper's own
// Notify call is checked through its callers.
var forwarders = map[string]struct {
	typeArg int
	payload string
}{
	"notifyIn": {2, "InWorkspace"}, // tenancy: events about a workspace's resources
	"deleteIn": {6, "InWorkspace"}, // tenancy: deletion of a project or group
}

// TestCatalogueIsUsed walks the source of the module: every call of
// Notify(ctx, org, type, resource, data) outside tests names its type by
// a constant of the catalogue (or a constant defined as one) and passes
// the payload type the catalogue names for it.
func TestCatalogueIsUsed(t *testing.T) {
	consts, payloads := catalogueAST(t)
	root := filepath.Join("..", "..")
	calls := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", "testdata", ".git", "web", "tools":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		// Package-level aliases such as EventTaskStatus = events.TaskStatus.
		aliases := map[string]string{}
		ast.Inspect(f, func(n ast.Node) bool {
			if vs, ok := n.(*ast.ValueSpec); ok {
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if c, ok := catalogueConst(vs.Values[i]); ok {
							aliases[name.Name] = c
						}
					}
				}
			}
			return true
		})
		check := func(call *ast.CallExpr, typeArg int, payload ast.Expr, fixed string) {
			calls++
			at := fset.Position(call.Pos())
			c, ok := catalogueConst(call.Args[typeArg])
			if id, isIdent := call.Args[typeArg].(*ast.Ident); !ok && isIdent {
				c, ok = aliases[id.Name]
			}
			if _, known := consts[c]; !ok || !known {
				t.Errorf("%s: event type %s is not a constant of the catalogue", at, exprString(call.Args[typeArg]))
				return
			}
			want := payloads[c]
			switch data := payload.(type) {
			case nil:
				if fixed != want {
					t.Errorf("%s: %s takes %q, not %s", at, c, want, fixed)
				}
			case *ast.Ident:
				if data.Name != "nil" || want != "" {
					t.Errorf("%s: %s takes %s, not %s", at, c, want, data.Name)
				}
			case *ast.CompositeLit:
				if got, _ := catalogueConst(data.Type); got != want || want == "" {
					t.Errorf("%s: %s takes %q, not %s", at, c, want, exprString(data.Type))
				}
			default:
				t.Errorf("%s: %s: pass a composite literal of %s or nil", at, c, want)
			}
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			if _, ok := forwarders[fd.Name.Name]; ok {
				continue
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				var name string
				switch fn := call.Fun.(type) {
				case *ast.SelectorExpr: // methods, and functions of other packages
					name = fn.Sel.Name
				case *ast.Ident: // functions of the same package
					name = fn.Name
				}
				if fw, ok := forwarders[name]; ok && len(call.Args) > fw.typeArg {
					check(call, fw.typeArg, nil, fw.payload)
				} else if _, isSel := call.Fun.(*ast.SelectorExpr); isSel && name == "Notify" && len(call.Args) == 5 {
					check(call, 2, call.Args[4], "")
				}
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls < 20 {
		t.Fatalf("found %d Notify calls; the walk is broken", calls)
	}
}

// catalogueConst returns X of an expression events.X.
func catalogueConst(e ast.Expr) (string, bool) {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	pkg, ok := sel.X.(*ast.Ident)
	if !ok || pkg.Name != "events" {
		return "", false
	}
	return sel.Sel.Name, true
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.BasicLit:
		return e.Value
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	}
	return "an expression"
}
