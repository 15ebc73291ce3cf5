package mssante

// Limits bound what one mail may cost the hub. Every size is counted on the
// bytes actually read, never taken from a declared size (zip headers and MIME
// parameters are written by the sender and may lie).
type Limits struct {
	// MaxMailBytes caps the raw RFC 5322 message. MSSanté operators refuse
	// mails above 10 to 25 MB, so a bigger one did not come through them.
	MaxMailBytes int64
	// MaxZipEntries caps the number of entries of one zip (an XDM holds a
	// handful: README, INDEX, METADATA, the documents, maybe stylesheets).
	MaxZipEntries int
	// MaxEntryBytes caps the uncompressed size of one zip entry.
	MaxEntryBytes int64
	// MaxTotalBytes caps the uncompressed size of all entries of all zips
	// of one mail together.
	MaxTotalBytes int64
	// MaxRatio caps uncompressed/compressed size of an entry. It is only
	// checked once an entry has produced MinRatioBytes, since small XML
	// files legitimately compress very well.
	MaxRatio      float64
	MinRatioBytes int64
	// MaxMetadataBytes caps METADATA.XML, which is parsed as a whole.
	MaxMetadataBytes int64
	// MaxDepth caps the MIME nesting (multipart inside multipart, forwarded
	// message inside a message); MaxParts the number of MIME parts.
	MaxDepth int
	MaxParts int
	// StrictMetadata turns the METADATA.XML inconsistencies that are
	// otherwise warnings (hash or size mismatch, a listed file that is
	// missing, a CDA file that is not listed, an unreadable METADATA.XML)
	// into a rejection with code metadata_mismatch or bad_metadata.
	StrictMetadata bool
}

// DefaultLimits fit every real MSSanté mail with room to spare: the largest
// official SDM-MR example is 120 kB, its PDF/A copy a few MB.
func DefaultLimits() Limits {
	return Limits{
		MaxMailBytes:     64 << 20,
		MaxZipEntries:    256,
		MaxEntryBytes:    32 << 20,
		MaxTotalBytes:    128 << 20,
		MaxRatio:         200,
		MinRatioBytes:    1 << 20,
		MaxMetadataBytes: 4 << 20,
		MaxDepth:         8,
		MaxParts:         256,
	}
}

// withDefaults fills the zero fields, so that a caller setting only
// StrictMetadata still gets bounded parsing.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxMailBytes <= 0 {
		l.MaxMailBytes = d.MaxMailBytes
	}
	if l.MaxZipEntries <= 0 {
		l.MaxZipEntries = d.MaxZipEntries
	}
	if l.MaxEntryBytes <= 0 {
		l.MaxEntryBytes = d.MaxEntryBytes
	}
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = d.MaxTotalBytes
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = d.MaxRatio
	}
	if l.MinRatioBytes <= 0 {
		l.MinRatioBytes = d.MinRatioBytes
	}
	if l.MaxMetadataBytes <= 0 {
		l.MaxMetadataBytes = d.MaxMetadataBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxParts <= 0 {
		l.MaxParts = d.MaxParts
	}
	return l
}
