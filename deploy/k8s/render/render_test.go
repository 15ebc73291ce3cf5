package render

import "testing"

func TestDecodeRefusesUnknownFields(t *testing.T) {
	for _, tc := range []struct{ name, doc string }{
		{"misspelt field", "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\nautomountServiceAccountTokens: false\n"},
		{"nested unknown", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\nspec:\n  template:\n    spec:\n      containers:\n        - name: a\n          securityContex: {}\n"},
		{"duplicate key", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n"},
		{"Secret with values", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  k: v\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode([]byte(tc.doc)); err == nil {
				t.Fatal("decoded without error")
			}
		})
	}
}

func TestDecode(t *testing.T) {
	stream := "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n---\n\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata:\n  k: \"---\"\n"
	objs, err := Decode([]byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.String())
	}
	if len(names) != 2 || names[0] != "ServiceAccount/a" || names[1] != "ConfigMap/b" {
		t.Fatalf("decoded %v, want [ServiceAccount/a ConfigMap/b]", names)
	}
}
