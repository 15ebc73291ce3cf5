package mssante

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bndmr/hub/pkg/cdasniff"
	"golang.org/x/text/encoding/charmap"
)

// zipEntry is one regular file of an archive, read within the limits.
type zipEntry struct {
	Name string // separators normalised to "/", cleaned
	key  string // lower-cased Name, for case-insensitive lookups
	Data []byte
}

// zipBudget is the uncompressed byte allowance left for the whole mail.
type zipBudget struct{ left int64 }

// readZip reads every regular file of a zip archive. It trusts nothing the
// archive declares: sizes are counted while inflating, names are checked
// before use, and anything that is not a plain stored or deflated file is
// refused. archive names the attachment in messages.
func readZip(ctx context.Context, data []byte, archive string, lim Limits, budget *zipBudget) ([]zipEntry, []string, *RejectError) {
	zr, rej := openZip(data, archive, lim)
	if rej != nil {
		return nil, nil, rej
	}
	var (
		entries  []zipEntry
		warnings []string
		seen     = map[string]string{}
	)
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return nil, nil, reject(CodeInternal, "unpacking interrupted: %v", "dépaquetage interrompu : %v", err)
		}
		if !utf8.ValidString(f.Name) {
			// Without the UTF-8 flag, zip names are CP437 (old Windows tools).
			if dec, err := charmap.CodePage437.NewDecoder().String(f.Name); err == nil {
				f.Name = dec
			}
		}
		name, rej := checkEntryName(f.Name, archive)
		if rej != nil {
			return nil, nil, rej
		}
		skip, warning, rej := checkEntryHeader(f, name, archive)
		if rej != nil {
			return nil, nil, rej
		}
		if warning != "" {
			warnings = append(warnings, warning)
		}
		if skip {
			continue
		}
		key := strings.ToLower(name)
		if prev, dup := seen[key]; dup {
			return nil, nil, reject(CodeBadZip,
				"the archive %q has two entries with the same name, %q and %q: which one is meant is ambiguous",
				"l'archive %q contient deux entrées de même nom, %q et %q : impossible de savoir laquelle est la bonne", archive, prev, f.Name)
		}
		seen[key] = f.Name
		if strings.HasSuffix(key, ".zip") {
			return nil, nil, reject(CodeNestedZip,
				"the archive %q holds another archive, %q; nested archives are refused",
				"l'archive %q contient une autre archive, %q ; les archives imbriquées sont refusées", archive, f.Name)
		}
		body, rej := readEntry(f, archive, lim, budget)
		if rej != nil {
			return nil, nil, rej
		}
		if bytes.HasPrefix(body, []byte("PK\x03\x04")) || bytes.HasPrefix(body, []byte("PK\x05\x06")) {
			return nil, nil, reject(CodeNestedZip,
				"the entry %q of the archive %q is itself a zip archive; nested archives are refused",
				"l'entrée %q de l'archive %q est elle-même une archive zip ; les archives imbriquées sont refusées", f.Name, archive)
		}
		entries = append(entries, zipEntry{Name: name, key: key, Data: body})
	}
	return entries, warnings, nil
}

// openZip reads the central directory of a zip archive, refusing one with
// more entries than the limit before archive/zip allocates for them.
func openZip(data []byte, archive string, lim Limits) (*zip.Reader, *RejectError) {
	// archive/zip parses the whole central directory before anyone can
	// count its entries, and checks the declared count only modulo 65536.
	// Every directory record starts with this signature, so counting it
	// bounds what the parser will allocate.
	if n := bytes.Count(data, []byte("PK\x01\x02")); n > lim.MaxZipEntries {
		return nil, reject(CodeZipBomb,
			"the archive %q has %d central directory records, more than the limit of %d entries",
			"l'archive %q contient %d enregistrements de répertoire central, plus que la limite de %d entrées", archive, n, lim.MaxZipEntries)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, reject(CodeBadZip,
			"the attachment %q is not a readable zip archive: %v",
			"la pièce jointe %q n'est pas une archive zip lisible : %v", archive, err)
	}
	if len(zr.File) > lim.MaxZipEntries {
		return nil, reject(CodeZipBomb,
			"the archive %q has %d entries, more than the limit of %d",
			"l'archive %q contient %d entrées, plus que la limite de %d", archive, len(zr.File), lim.MaxZipEntries)
	}
	return zr, nil
}

// checkEntryHeader reads what an entry's header says of it: an encrypted
// entry, or one of another compression method, is refused; a folder or a
// symbolic link is skipped (a link with a warning).
func checkEntryHeader(f *zip.File, name, archive string) (skip bool, warning string, rej *RejectError) {
	if f.Flags&0x1 != 0 || f.Method == 99 { // bit 0: traditional PKWARE encryption; method 99: WinZip AES
		return false, "", reject(CodeEncryptedZip,
			"the entry %q of the archive %q is encrypted; the hub cannot read it",
			"l'entrée %q de l'archive %q est chiffrée ; le hub ne peut pas la lire", f.Name, archive)
	}
	if strings.HasSuffix(name, "/") {
		return true, "", nil
	}
	if f.Mode()&fs.ModeSymlink != 0 {
		return true, fmt.Sprintf("%s: entry %q is a symbolic link; ignored", archive, f.Name), nil
	}
	if f.Method != zip.Store && f.Method != zip.Deflate {
		return false, "", reject(CodeBadZip,
			"the entry %q of the archive %q uses compression method %d; only stored and deflated entries are read",
			"l'entrée %q de l'archive %q utilise la méthode de compression %d ; seules les méthodes « stored » et « deflate » sont lues", f.Name, archive, f.Method)
	}
	return false, "", nil
}

// checkEntryName normalises an entry name (backslashes are separators for
// Windows producers) and refuses names that would leave the extraction
// directory if anyone ever wrote them to disk.
func checkEntryName(raw, archive string) (string, *RejectError) {
	bad := func(why, pourquoi string) (string, *RejectError) {
		return "", reject(CodePathTraversal,
			"the archive %q has an entry named %q, which is "+why,
			"l'archive %q contient une entrée nommée %q, qui est "+pourquoi, archive, raw)
	}
	if strings.ContainsRune(raw, 0) {
		return bad("not a valid name (NUL byte)", "un nom invalide (octet NUL)")
	}
	n := strings.ReplaceAll(raw, `\`, "/")
	if strings.HasPrefix(n, "/") {
		return bad("an absolute path", "un chemin absolu")
	}
	if len(n) >= 2 && n[1] == ':' && ('a' <= n[0]|0x20 && n[0]|0x20 <= 'z') {
		return bad("an absolute path with a drive letter", "un chemin absolu avec une lettre de lecteur")
	}
	for _, el := range strings.Split(n, "/") {
		if el == ".." {
			return bad("a path climbing out of the archive (..)", "un chemin qui sort de l'archive (..)")
		}
	}
	dir := strings.HasSuffix(n, "/")
	n = path.Clean(n)
	if dir {
		n += "/"
	}
	return n, nil
}

// readEntry inflates one entry, counting: the declared sizes are only used
// to refuse early.
func readEntry(f *zip.File, archive string, lim Limits, budget *zipBudget) ([]byte, *RejectError) {
	bomb := func(en, fr string, args ...any) *RejectError {
		return reject(CodeZipBomb, en, fr, args...)
	}
	if f.UncompressedSize64 > uint64(lim.MaxEntryBytes) {
		return nil, bomb("the entry %q of the archive %q declares %d bytes uncompressed, more than the limit of %d",
			"l'entrée %q de l'archive %q annonce %d octets décompressés, plus que la limite de %d", f.Name, archive, f.UncompressedSize64, lim.MaxEntryBytes)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, reject(CodeBadZip, "the entry %q of the archive %q cannot be opened: %v",
			"l'entrée %q de l'archive %q ne peut pas être ouverte : %v", f.Name, archive, err)
	}
	defer rc.Close()
	compressed := max(int64(f.CompressedSize64), 1)
	var buf bytes.Buffer
	buf.Grow(int(min(f.UncompressedSize64, 1<<20)))
	chunk := make([]byte, 32<<10)
	var n int64
	for {
		k, err := rc.Read(chunk)
		if k > 0 {
			n += int64(k)
			switch {
			case n > lim.MaxEntryBytes:
				return nil, bomb("the entry %q of the archive %q inflates to more than %d bytes",
					"l'entrée %q de l'archive %q dépasse %d octets une fois décompressée", f.Name, archive, lim.MaxEntryBytes)
			case n > budget.left:
				return nil, bomb("the archives of the mail inflate to more than %d bytes in total (reached in %q of %q)",
					"les archives du courriel dépassent %d octets décompressés au total (atteint dans %q de %q)", lim.MaxTotalBytes, f.Name, archive)
			case n >= lim.MinRatioBytes && float64(n)/float64(compressed) > lim.MaxRatio:
				return nil, bomb("the entry %q of the archive %q inflates more than %.0f times (%d compressed bytes give more than %d)",
					"l'entrée %q de l'archive %q se décompresse plus de %.0f fois (%d octets compressés en donnent plus de %d)", f.Name, archive, lim.MaxRatio, compressed, n)
			}
			buf.Write(chunk[:k])
		}
		if err == io.EOF {
			break
		}
		if errors.Is(err, zip.ErrFormat) {
			// archive/zip stops an entry at its declared size: more data
			// means a header that lies about the size, the zip-bomb trick.
			return nil, bomb("the entry %q of the archive %q inflates to more than the %d bytes its header declares",
				"l'entrée %q de l'archive %q se décompresse au-delà des %d octets annoncés par son en-tête", f.Name, archive, f.UncompressedSize64)
		}
		if err != nil {
			return nil, reject(CodeBadZip, "the entry %q of the archive %q is damaged: %v",
				"l'entrée %q de l'archive %q est endommagée : %v", f.Name, archive, err)
		}
	}
	budget.left -= n
	return buf.Bytes(), nil
}

// xdmDocuments turns the entries of one archive into documents, guided by
// METADATA.XML when there is one: first the files each METADATA.XML lists
// (readMetadata, takeListed), then the CDA documents none lists
// (takeUnlisted).
func xdmDocuments(entries []zipEntry, archive string, lim Limits) ([]*Document, []string, *RejectError) {
	x := &xdmArchive{entries: entries, archive: archive, lim: lim, used: make([]bool, len(entries)),
		byKey: make(map[string]int, len(entries)), docOf: map[int]*Document{}}
	for i, e := range entries {
		x.byKey[e.key] = i
		if path.Base(e.key) == "metadata.xml" {
			x.metas = append(x.metas, i)
		}
	}
	if len(x.metas) == 0 {
		if lim.StrictMetadata {
			return nil, nil, reject(CodeBadMetadata, "the archive %q has no METADATA.XML",
				"l'archive %q ne contient pas de METADATA.XML", archive)
		}
		x.warn("%s: no METADATA.XML in the archive; documents taken without metadata to check them against", archive)
	}
	for _, mi := range x.metas {
		if rej := x.readMetadata(mi); rej != nil {
			return nil, nil, rej
		}
	}
	if rej := x.takeUnlisted(); rej != nil {
		return nil, nil, rej
	}
	return x.docs, x.warnings, nil
}

// xdmArchive is one archive being read: its entries, and the documents and
// warnings found so far.
type xdmArchive struct {
	entries  []zipEntry
	archive  string
	lim      Limits
	docs     []*Document
	warnings []string
	used     []bool            // entries taken (METADATA.XML, documents)
	byKey    map[string]int    // entry index by its normalised path
	metas    []int             // the entries named METADATA.XML
	docOf    map[int]*Document // entry index → the document METADATA.XML listed it as
}

func (x *xdmArchive) warn(format string, args ...any) {
	x.warnings = append(x.warnings, fmt.Sprintf(format, args...))
}

func strictFail(en, fr string, args ...any) *RejectError {
	return reject(CodeMetadataMismatch, en, fr, args...)
}

// readMetadata reads the METADATA.XML of entry mi and takes the files it
// lists.
func (x *xdmArchive) readMetadata(mi int) *RejectError {
	me, archive, lim := x.entries[mi], x.archive, x.lim
	x.used[mi] = true
	if int64(len(me.Data)) > lim.MaxMetadataBytes {
		return reject(CodeBadMetadata, "%q in the archive %q is %d bytes, more than the limit of %d",
			"%q dans l'archive %q fait %d octets, plus que la limite de %d", me.Name, archive, len(me.Data), lim.MaxMetadataBytes)
	}
	md, err := parseMetadata(me.Data)
	if errors.Is(err, errMetadataDTD) {
		return reject(CodeBadMetadata, "%q in the archive %q declares a DTD; refused (external or expanding entities)",
			"%q dans l'archive %q déclare une DTD ; refusé (entités externes ou récursives)", me.Name, archive)
	}
	if err != nil {
		if lim.StrictMetadata {
			return reject(CodeBadMetadata, "%q in the archive %q cannot be read: %v",
				"%q dans l'archive %q est illisible : %v", me.Name, archive, err)
		}
		x.warn("%s: %s cannot be read (%v); documents taken without metadata", archive, me.Name, err)
		return nil
	}
	if len(md.Entries) > lim.MaxZipEntries {
		return reject(CodeBadMetadata, "%q in the archive %q lists %d documents, more than an archive may hold (%d entries)",
			"%q dans l'archive %q liste %d documents, plus qu'une archive ne peut en contenir (%d entrées)", me.Name, archive, len(md.Entries), lim.MaxZipEntries)
	}
	if setID, ok := parseCX(md.SetPatientID); ok {
		for _, ent := range md.Entries {
			if id, ok := parseCX(ent.PatientID); ok && id != setID {
				x.warn("%s: METADATA.XML gives the submission set patient %s but document %q patient %s", archive, setID, orUnknown(ent.UniqueID), id)
			}
		}
	}
	for _, ent := range md.Entries {
		if rej := x.takeListed(ent, path.Dir(me.key)); rej != nil {
			return rej
		}
	}
	return nil
}

// takeListed takes the file a METADATA.XML entry (in folder dir) lists, as
// a document checked against its metadata.
func (x *xdmArchive) takeListed(ent metaEntry, dir string) *RejectError {
	archive, lim := x.archive, x.lim
	label := ent.UniqueID
	if label == "" {
		label = ent.ID
	}
	if ent.URI == "" {
		if lim.StrictMetadata {
			return strictFail("METADATA.XML of %q lists document %q without a URI slot",
				"le METADATA.XML de %q liste le document %q sans slot URI", archive, label)
		}
		x.warn("%s: METADATA.XML lists document %q without a URI slot; it cannot be matched to a file", archive, label)
		return nil
	}
	idx, how := resolveURI(ent.URI, dir, x.byKey, x.entries)
	if idx < 0 {
		if lim.StrictMetadata {
			return strictFail("METADATA.XML of %q lists %q (document %q) but the archive has no such file",
				"le METADATA.XML de %q liste %q (document %q) mais l'archive ne contient pas ce fichier", archive, ent.URI, label)
		}
		x.warn("%s: METADATA.XML lists %q (document %q) but the archive has no such file", archive, ent.URI, label)
		return nil
	}
	if x.used[idx] {
		x.warn("%s: METADATA.XML lists %q a second time (document %q); taken once", archive, ent.URI, label)
		if d := x.docOf[idx]; d != nil {
			return x.listedAgain(d, ent)
		}
		return nil
	}
	x.used[idx] = true
	e := x.entries[idx]
	h, isCDA := cdasniff.ReadPatient(e.Data)
	if !isCDA {
		x.warn("%s: %q is listed in METADATA.XML (%s, formatCode %s) but is not a CDA document (%s); ignored",
			archive, e.Name, orUnknown(ent.MimeType), orUnknown(ent.FormatCode), describeRoot(e.Data))
		return nil
	}
	d := newDocument(e, archive, h)
	d.PatientID, d.FormatCode, d.UniqueID = ent.PatientID, ent.FormatCode, ent.UniqueID
	d.TypeCode, d.MimeType, d.Title = ent.TypeCode, ent.MimeType, ent.Title
	if len(ent.AuthorInstitution) > 0 {
		d.AuthorInstitution = ent.AuthorInstitution[0]
	}
	if how != "" {
		d.Warnings = append(d.Warnings, how)
	}
	hashOK, sizeOK := checkHashSize(d, ent)
	d.MetadataHashOK, d.MetadataSizeOK = &hashOK, &sizeOK
	if lim.StrictMetadata && !(hashOK && sizeOK) {
		return strictFail("%q in %q does not match METADATA.XML: %s",
			"%q dans %q ne correspond pas au METADATA.XML : %s", e.Name, archive, strings.Join(d.Warnings, "; "))
	}
	x.docs = append(x.docs, d)
	x.docOf[idx] = d
	return nil
}

// listedAgain checks the metadata of a second listing of document d all
// the same, and keeps it as a duplicate.
func (x *xdmArchive) listedAgain(d *Document, ent metaEntry) *RejectError {
	dup := &Document{Name: d.Name, Size: d.Size, SHA1: d.SHA1}
	hashOK, sizeOK := checkHashSize(dup, ent)
	if x.lim.StrictMetadata && !(hashOK && sizeOK) {
		return strictFail("%q in %q does not match its second listing in METADATA.XML: %s",
			"%q dans %q ne correspond pas à sa deuxième mention dans le METADATA.XML : %s", d.Name, x.archive, strings.Join(dup.Warnings, "; "))
	}
	d.Duplicates = append(d.Duplicates, Duplicate{Name: d.Name, Source: SourceXDM, Archive: x.archive,
		PatientID: ent.PatientID, FormatCode: ent.FormatCode, UniqueID: ent.UniqueID,
		MetadataHashOK: &hashOK, MetadataSizeOK: &sizeOK, Warnings: dup.Warnings})
	for _, dw := range dup.Warnings {
		d.Warnings = append(d.Warnings, fmt.Sprintf("its second METADATA.XML listing (document %s): %s", orUnknown(ent.UniqueID), dw))
	}
	return nil
}

// takeUnlisted takes the CDA documents no METADATA.XML lists, without
// metadata checks.
func (x *xdmArchive) takeUnlisted() *RejectError {
	for i, e := range x.entries {
		if x.used[i] {
			continue
		}
		h, isCDA := cdasniff.ReadPatient(e.Data)
		if !isCDA {
			continue // README, INDEX, stylesheets, the PDF copy...
		}
		d := newDocument(e, x.archive, h)
		if len(x.metas) > 0 {
			if x.lim.StrictMetadata {
				return strictFail("%q in the archive %q is a CDA document that METADATA.XML does not list",
					"%q dans l'archive %q est un document CDA que le METADATA.XML ne liste pas", e.Name, x.archive)
			}
			d.Warnings = append(d.Warnings, "CDA document not listed in METADATA.XML: taken without metadata checks")
		} else {
			d.Warnings = append(d.Warnings, "no METADATA.XML in the archive: taken without metadata checks")
		}
		x.docs = append(x.docs, d)
	}
	return nil
}

// resolveURI finds the file a URI slot names: relative to the folder of
// METADATA.XML (the IHE rule), then from the archive root, then, when the
// name is unique in the archive, by base name alone. Case and separators do
// not matter. how says which fallback was used, "" for the normal case.
func resolveURI(uri, dir string, byKey map[string]int, entries []zipEntry) (int, string) {
	u := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(uri), `\`, "/"))
	u = strings.TrimPrefix(u, "./")
	if i, ok := byKey[path.Clean(path.Join(dir, u))]; ok {
		return i, ""
	}
	if i, ok := byKey[path.Clean(strings.TrimPrefix(u, "/"))]; ok {
		return i, fmt.Sprintf("URI %q resolved from the archive root, not from the folder of METADATA.XML", uri)
	}
	base, found := path.Base(u), -1
	for i, e := range entries {
		if path.Base(e.key) == base {
			if found >= 0 {
				return -1, ""
			}
			found = i
		}
	}
	if found >= 0 {
		return found, fmt.Sprintf("URI %q resolved by file name only, to %q", uri, entries[found].Name)
	}
	return -1, ""
}

func newDocument(e zipEntry, archive string, h *cdasniff.Header) *Document {
	sum := sha1.Sum(e.Data)
	return &Document{
		Name:    e.Name,
		Data:    e.Data,
		Size:    int64(len(e.Data)),
		SHA1:    hex.EncodeToString(sum[:]),
		Source:  SourceXDM,
		Archive: archive,
		cda:     h,
	}
}

// checkHashSize compares the file with what METADATA.XML says of it and
// records each mismatch on the document.
func checkHashSize(d *Document, ent metaEntry) (hashOK, sizeOK bool) {
	switch {
	case ent.Hash == "":
		d.Warnings = append(d.Warnings, "METADATA.XML gives no hash for this document")
	case strings.EqualFold(ent.Hash, d.SHA1):
		hashOK = true
	case len(ent.Hash) == 32:
		d.Warnings = append(d.Warnings, fmt.Sprintf("METADATA.XML hash %s has 32 hex digits (an MD5?), not the SHA-1 XDS requires; the file's SHA-1 is %s", ent.Hash, d.SHA1))
	default:
		d.Warnings = append(d.Warnings, fmt.Sprintf("METADATA.XML hash %s differs from the file's SHA-1 %s", ent.Hash, d.SHA1))
	}
	switch n, err := strconv.ParseInt(ent.Size, 10, 64); {
	case ent.Size == "":
		d.Warnings = append(d.Warnings, "METADATA.XML gives no size for this document")
	case err != nil:
		d.Warnings = append(d.Warnings, fmt.Sprintf("METADATA.XML size %q is not a number", ent.Size))
	case n == d.Size:
		sizeOK = true
	default:
		d.Warnings = append(d.Warnings, fmt.Sprintf("METADATA.XML size %d differs from the file's %d bytes", n, d.Size))
	}
	return hashOK, sizeOK
}

func orUnknown(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// describeRoot names the root element of an XML file, for a warning.
func describeRoot(data []byte) string {
	if !cdasniff.LooksLikeXML(data) {
		return "not XML"
	}
	d := xml.NewDecoder(bytes.NewReader(cdasniff.TrimXMLStart(data)))
	d.CharsetReader = cdasniff.CharsetReader
	for {
		tok, err := d.RawToken()
		if err != nil {
			return "not well-formed XML"
		}
		if se, ok := tok.(xml.StartElement); ok {
			name := se.Name.Local
			if se.Name.Space != "" {
				name = se.Name.Space + ":" + name
			}
			return "root element " + name + ", not ClinicalDocument"
		}
	}
}
