package topology

import "testing"

// Every consumer reads a declared stream through that stream's subject, and
// names are unique: a typo here would leave a stage reading nothing.
func TestConsumersMatchStreams(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Consumers {
		if seen[c.Durable] {
			t.Errorf("durable %s declared twice", c.Durable)
		}
		seen[c.Durable] = true
		s := StreamOf(c.Stream)
		if s.Subject != c.Subject {
			t.Errorf("consumer %s filters %s, stream %s carries %s", c.Durable, c.Subject, s.Name, s.Subject)
		}
		if c.AckWait <= 0 {
			t.Errorf("consumer %s has no AckWait", c.Durable)
		}
		if s.Retention == WorkQueue {
			n := 0
			for _, o := range Consumers {
				if o.Stream == s.Name {
					n++
				}
			}
			if n != 1 {
				t.Errorf("work-queue stream %s has %d consumers, JetStream allows one", s.Name, n)
			}
		}
	}
	subjects := map[string]string{}
	for _, s := range Streams {
		if other, ok := subjects[s.Subject]; ok {
			t.Errorf("streams %s and %s share subject %s", other, s.Name, s.Subject)
		}
		subjects[s.Subject] = s.Name
	}
}

func TestLookupPanicsOnUnknownName(t *testing.T) {
	for name, f := range map[string]func(){
		"consumer": func() { ConsumerOf("nope") },
		"stream":   func() { StreamOf("nope") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s lookup of an unknown name did not panic", name)
				}
			}()
			f()
		}()
	}
}
