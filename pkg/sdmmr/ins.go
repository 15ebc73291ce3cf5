package sdmmr

// The roots of the French national health identifier (INS) a document's
// patient id may carry: the INS-NIR and NIA, production and test, and the
// old computed INS-C. Test identities are pseudonymised in their own domain
// so that they never link with real ones.
const (
	OIDINSNIR     = "1.2.250.1.213.1.4.8"
	OIDINSNIRTest = "1.2.250.1.213.1.4.10"
	OIDNIA        = "1.2.250.1.213.1.4.9"
	OIDNIATest    = "1.2.250.1.213.1.4.11"
	OIDINSC       = "1.2.250.1.213.1.4.2"
)

// IsINSRoot says whether root is one of the INS roots.
func IsINSRoot(root string) bool {
	switch root {
	case OIDINSNIR, OIDINSNIRTest, OIDNIA, OIDNIATest, OIDINSC:
		return true
	}
	return false
}
