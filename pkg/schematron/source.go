package schematron

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// NS is the ISO Schematron namespace.
const NS = "http://purl.oclc.org/dsdl/schematron"

// node is a schematron source element (or, with name "", a text node).
type node struct {
	space, name string
	attrs       map[string]string
	children    []*node
	text        string
}

func (n *node) isSch(name string) bool { return n.name == name && (n.space == NS || n.space == "") }

func (n *node) clone(subst func(string) string) *node {
	c := &node{space: n.space, name: n.name, text: n.text}
	if n.attrs != nil {
		c.attrs = make(map[string]string, len(n.attrs))
		for k, v := range n.attrs {
			c.attrs[k] = subst(v)
		}
	}
	for _, ch := range n.children {
		c.children = append(c.children, ch.clone(subst))
	}
	return c
}

// readFile parses one schematron file and replaces its include elements
// by the root of the included file (paths relative to the including file).
func readFile(path string, depth int) (*node, error) {
	if depth > 32 {
		return nil, fmt.Errorf("schematron includes nest more than 32 levels at %s", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	root, err := parseTree(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := expandIncludes(root, filepath.Dir(path), depth); err != nil {
		return nil, err
	}
	return root, nil
}

func expandIncludes(n *node, dir string, depth int) error {
	for i, ch := range n.children {
		if ch.name == "" {
			continue
		}
		if ch.isSch("include") {
			p, err := resolveFile(dir, ch.attrs["href"])
			if err != nil {
				return fmt.Errorf("schematron include: %w", err)
			}
			inc, err := readFile(p, depth+1)
			if err != nil {
				return err
			}
			n.children[i] = inc
			continue
		}
		if err := expandIncludes(ch, dir, depth); err != nil {
			return err
		}
	}
	return nil
}

// resolveFile resolves href against dir; when the exact name is missing it
// accepts a single case-insensitive match (the kits were written on Windows:
// kit-3.0 IHE.sch includes E_directiveAnticipee_int.sch, whose file is
// E_directiveanticipee_int.sch).
func resolveFile(dir, href string) (string, error) {
	p := filepath.Join(dir, filepath.FromSlash(href))
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	entries, err := os.ReadDir(filepath.Dir(p))
	if err != nil {
		return "", fmt.Errorf("%s not found: %w", p, err)
	}
	for _, e := range entries {
		if strings.EqualFold(e.Name(), filepath.Base(p)) {
			return filepath.Join(filepath.Dir(p), e.Name()), nil
		}
	}
	return "", fmt.Errorf("%s not found", p)
}

func parseTree(data []byte) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var stack []*node
	var root *node
	for {
		tok, err := d.Token()
		if err != nil {
			if root != nil && err.Error() == "EOF" {
				return root, nil
			}
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{space: t.Name.Space, name: t.Name.Local, attrs: map[string]string{}}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" && a.Name.Space == "" {
					continue
				}
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, &node{text: string(t)})
			}
		}
	}
}

// expandAbstract replaces every pattern with is-a by a copy of the abstract
// pattern it names, with each $param replaced textually in attribute values,
// as ISO's iso_abstract_expand.xsl does; abstract patterns are then dropped.
func expandAbstract(schema *node) error {
	abstract := map[string]*node{}
	var collect func(n *node)
	collect = func(n *node) {
		for _, ch := range n.children {
			if ch.isSch("pattern") && ch.attrs["abstract"] == "true" {
				abstract[ch.attrs["id"]] = ch
			}
			if ch.name != "" && !ch.isSch("pattern") {
				collect(ch)
			}
		}
	}
	collect(schema)
	var firstErr error
	var walk func(n *node)
	walk = func(n *node) {
		out := n.children[:0]
		for _, ch := range n.children {
			if ch.isSch("pattern") && ch.attrs["abstract"] == "true" {
				continue
			}
			if ch.isSch("pattern") && ch.attrs["is-a"] != "" {
				a, ok := abstract[ch.attrs["is-a"]]
				if !ok {
					if firstErr == nil {
						firstErr = fmt.Errorf("pattern %q is-a %q: no such abstract pattern", ch.attrs["id"], ch.attrs["is-a"])
					}
					continue
				}
				params := map[string]string{}
				for _, p := range ch.children {
					if p.isSch("param") {
						params[p.attrs["name"]] = p.attrs["value"]
					}
				}
				inst := a.clone(substituter(params))
				delete(inst.attrs, "abstract")
				inst.attrs["id"] = ch.attrs["id"]
				out = append(out, inst)
				continue
			}
			if ch.name != "" && !ch.isSch("pattern") {
				walk(ch)
			}
			out = append(out, ch)
		}
		n.children = out
	}
	walk(schema)
	return firstErr
}

// substituter replaces $name by its value, longest names first so that
// $path_jdv1 is not taken for $path_jdv followed by "1".
func substituter(params map[string]string) func(string) string {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	return func(s string) string {
		if !strings.Contains(s, "$") {
			return s
		}
		for _, k := range names {
			s = strings.ReplaceAll(s, "$"+k, params[k])
		}
		return s
	}
}
