package bus

import (
	"testing"
	"time"
)

// TestIdentifiedKeptAsLongAsTheMail: an identified document waiting for
// pseudonymisation is kept at least as long as the original mail it came
// from, whatever the deployment's mail retention: it can never expire while
// its mail could still be reprocessed (issue 21), and the mail stream is
// the longest retention of the identified data.
func TestIdentifiedKeptAsLongAsTheMail(t *testing.T) {
	for _, age := range []time.Duration{0, 8 * 24 * time.Hour, 90 * 24 * time.Hour} {
		byName := map[string]time.Duration{}
		for _, sc := range StreamConfigs(Config{MailMaxAge: age}) {
			byName[sc.Name] = sc.MaxAge
		}
		mail, ident := byName[StreamMail], byName[StreamIdentified]
		if mail == 0 || ident == 0 {
			t.Fatalf("mail max age %s: %s keeps %s, %s keeps %s: both must be bounded", age, StreamMail, mail, StreamIdentified, ident)
		}
		if ident < mail {
			t.Errorf("mail max age %s: %s keeps %s, less than %s (%s): documents would expire while their mail is still there",
				age, StreamIdentified, ident, StreamMail, mail)
		}
		if ident > mail {
			t.Errorf("mail max age %s: %s keeps %s, longer than the original mails (%s)", age, StreamIdentified, ident, mail)
		}
	}
}
