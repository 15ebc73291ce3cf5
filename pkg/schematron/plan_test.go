package schematron

import "testing"

func TestPlanContext(t *testing.T) {
	tests := []struct {
		ctx   string
		kind  branchKind
		key   string
		exact bool
	}{
		{`*[cda:templateId/@root='1.2.3']`, byTID, "1.2.3", true},
		{`*[cda:templateId/@root = "1.2.3"]`, byTID, "1.2.3", true},
		{`*[cda:templateId[@root='1.2.3']]`, byTID, "1.2.3", true},
		{`*[cda:templateId/@root='1.2.3']/cda:code`, byTID, "1.2.3", false},
		{`*[cda:templateId/@root='1.2.3' and not(cda:templateId/@root='4')]`, byTID, "1.2.3", false},
		{`*[cda:templateId/@root='1.2.3' or cda:code]`, byName, "", false},
		{`cda:observation[cda:templateId/@root='1.2.3']/cda:code`, byTID, "1.2.3", false},
		{`cda:section`, byName, "section", false},
		{`//cda:administrativeGenderCode`, byName, "administrativeGenderCode", false},
		{`cda:entry[1]`, scan, "", false},
		{`cda:entry[position()=2]/cda:act`, scan, "", false},
		{`/cda:ClinicalDocument/cda:component`, scan, "", false},
		{`child::cda:section`, scan, "", false},
	}
	for _, tt := range tests {
		bs, err := planContext(tt.ctx)
		if err != nil {
			t.Errorf("%s: %v", tt.ctx, err)
			continue
		}
		b := bs[0]
		if b.kind != tt.kind || b.key != tt.key || b.exact != tt.exact {
			t.Errorf("%s: plan %v %q exact=%v, want %v %q exact=%v", tt.ctx, b.kind, b.key, b.exact, tt.kind, tt.key, tt.exact)
		}
	}
	if bs, _ := planContext(`cda:a | cda:b[@x]`); len(bs) != 2 || bs[1].key != "b" {
		t.Errorf("union not split: %+v", bs)
	}
	if _, err := planContext(`cda:a[`); err == nil {
		t.Error("syntax error not reported")
	}
}

func TestRewrite2to1(t *testing.T) {
	tests := map[string]string{
		`count(cda:templateId/@root='2.16.840.1.113883.10.22.3.8')=1`: `true()`,
		`cda:entry/cda:act/(cda:code and cda:text)`:                   `cda:entry/cda:act[cda:code and cda:text]`,
		`count(cda:x)=1 and f(a)/b`:                                   `count(cda:x)=1 and f(a)/b`,
	}
	for in, want := range tests {
		if got := rewrite2to1(in); got != want {
			t.Errorf("rewrite2to1(%q) = %q, want %q", in, got, want)
		}
	}
}
