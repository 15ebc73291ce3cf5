package cda

import (
	"strconv"
	"strings"

	"github.com/bndmr/hub/pkg/sdmmr"
)

// ii reads an HL7 II.
func ii(n *node) sdmmr.ID {
	if n == nil {
		return sdmmr.ID{}
	}
	return sdmmr.ID{Root: n.attr("root"), Extension: n.attr("extension")}
}

// iip reads an II, nil when absent or empty.
func iip(n *node) *sdmmr.ID {
	id := ii(n)
	if id.IsZero() {
		return nil
	}
	return &id
}

// code reads a CD/CE/CV; nil when the element is absent or carries nothing.
func code(n *node) *sdmmr.Code {
	if n == nil {
		return nil
	}
	c := &sdmmr.Code{
		Code:       n.attr("code"),
		System:     n.attr("codeSystem"),
		Display:    strings.Join(strings.Fields(n.attr("displayName")), " "),
		NullFlavor: n.attr("nullFlavor"),
	}
	if c.Code == "" && c.System == "" && c.NullFlavor == "" && c.Display == "" {
		return nil
	}
	return c
}

// boolAttr reads @value of a BL; nil when absent or not a boolean.
func boolAttr(n *node) *bool {
	if n == nil {
		return nil
	}
	switch n.attr("value") {
	case "true":
		b := true
		return &b
	case "false":
		b := false
		return &b
	}
	return nil
}

// intAttr reads @value of an INT.
func intAttr(n *node) *int {
	if n == nil {
		return nil
	}
	v, err := strconv.Atoi(n.attr("value"))
	if err != nil {
		return nil
	}
	return &v
}

// pq reads a PQ; nil without a numeric value.
func pq(n *node) *sdmmr.Quantity {
	if n == nil {
		return nil
	}
	v, err := strconv.ParseFloat(strings.Replace(n.attr("value"), ",", ".", 1), 64)
	if err != nil {
		return nil
	}
	return &sdmmr.Quantity{Value: v, Unit: n.attr("unit")}
}

// ts reads @value, or low/@value of an IVL_TS.
func ts(n *node) string {
	if n == nil {
		return ""
	}
	if v := n.attr("value"); v != "" {
		return v
	}
	return n.child("low").attr("value")
}
