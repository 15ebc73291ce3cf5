// Package jsbackup takes and restores snapshots of the hub's JetStream
// streams over the server's own API ($JS.API.STREAM.SNAPSHOT and
// $JS.API.STREAM.RESTORE), which nats.go does not wrap. A snapshot holds
// the stream's messages and its consumers' state (delivered and
// acknowledged sequences, pending acknowledgements): restored, a message
// that was pending is still pending, and one acknowledged is not delivered
// again. The key-value buckets and the object store are streams too
// (KV_…, OBJ_…) and are saved the same way.
//
// The protocol, as nats-server implements it (server/jetstream_api.go):
//   - snapshot: the client subscribes to an inbox and asks the server to
//     deliver the snapshot there; the server answers with the stream's
//     configuration and state, then sends chunks (an s2-compressed tar),
//     each with a reply subject the client must answer (flow control: the
//     server stops after a window of unanswered chunks, and gives up after
//     5 s without an answer); the last chunk may come without a reply
//     subject; an empty message ends the transfer, with a status header
//     (204: done; 408, 500: the server failed, its description says why);
//   - restore: the client sends the configuration and state; the server
//     answers with a subject to send the chunks to, each as a request whose
//     empty reply acknowledges it (a reply with a body is an error); an empty
//     request ends the transfer and its reply is the restored stream's
//     information or the error.
package jsbackup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bndmr/hub/pkg/backupdir"
)

// API subjects (the default JetStream domain).
const (
	subjectSnapshot = "$JS.API.STREAM.SNAPSHOT."
	subjectRestore  = "$JS.API.STREAM.RESTORE."
)

// BackupPublish is every subject a backup user must be allowed to publish
// on (with subscribe on its own inbox, "_INBOX_<user>.>", as pkg/bus
// connects): list the streams and read their states, ask for snapshots and
// acknowledge their chunks, ask for restores and send their chunks. It
// reads no message one by one (Describe's digest needs
// $JS.API.STREAM.MSG.GET.*, for drills); deploy/k8s/base/nats/auth.conf
// grants exactly this list to the user "backup".
var BackupPublish = []string{
	"$JS.API.INFO",
	"$JS.API.STREAM.NAMES",
	"$JS.API.STREAM.LIST",
	"$JS.API.STREAM.INFO.*",
	"$JS.API.CONSUMER.NAMES.*",
	"$JS.API.CONSUMER.LIST.*",
	"$JS.API.CONSUMER.INFO.*.*",
	"$JS.API.STREAM.SNAPSHOT.*",
	"$JS.SNAPSHOT.ACK.>",
	"$JS.API.STREAM.RESTORE.*",
	"$JS.SNAPSHOT.RESTORE.>",
}

// chunkSize is what a restore sends per request, and what a snapshot asks
// for: the server's default (128 KiB), well under any max_payload.
const chunkSize = 128 << 10

// chunkTimeout bounds the wait for one chunk or one chunk's acknowledgement.
// The server gives up after 5 s without an acknowledgement of ours; waiting
// longer for its chunks only covers a slow disk.
const chunkTimeout = 30 * time.Second

// apiError is the error object of a JetStream API response.
type apiError struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (code %d, err_code %d)", e.Description, e.Code, e.ErrCode)
}

// Meta is what the server said of a stream when its snapshot started: the
// configuration and state, kept as the server wrote them so that the
// restore sends them back unchanged.
type Meta struct {
	Stream string          `json:"stream"`
	Config json.RawMessage `json:"config"`
	State  json.RawMessage `json:"state"`
}

// Snapshot writes the snapshot of stream (messages and consumers) to w and
// returns its configuration and state. The connection's user needs to
// publish on $JS.API.STREAM.SNAPSHOT.<stream> and $JS.SNAPSHOT.ACK.> and to
// subscribe to its own inbox.
func Snapshot(ctx context.Context, nc *nats.Conn, stream string, w io.Writer) (Meta, int64, error) {
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return Meta{}, 0, fmt.Errorf("subscribing to the snapshot inbox of %s: %w", stream, err)
	}
	defer sub.Unsubscribe()
	// The server sends up to a window (8 MiB) of chunks ahead of our
	// acknowledgements: no local limit may drop one.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return Meta{}, 0, err
	}
	req, _ := json.Marshal(map[string]any{"deliver_subject": inbox, "chunk_size": chunkSize})
	resp, err := nc.RequestWithContext(ctx, subjectSnapshot+stream, req)
	if err != nil {
		return Meta{}, 0, fmt.Errorf("asking for the snapshot of stream %s: %w (does the user may publish on %s%s?)", stream, err, subjectSnapshot, stream)
	}
	var r struct {
		Error  *apiError       `json:"error"`
		Config json.RawMessage `json:"config"`
		State  json.RawMessage `json:"state"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return Meta{}, 0, fmt.Errorf("snapshot of stream %s: unreadable answer %q: %w", stream, abbrev(resp.Data), err)
	}
	if r.Error != nil {
		return Meta{}, 0, fmt.Errorf("snapshot of stream %s refused: %w", stream, r.Error)
	}
	meta := Meta{Stream: stream, Config: r.Config, State: r.State}
	var n int64
	for {
		cctx, cancel := context.WithTimeout(ctx, chunkTimeout)
		m, err := sub.NextMsgWithContext(cctx)
		cancel()
		if err != nil {
			return meta, n, fmt.Errorf("snapshot of stream %s: waiting for a chunk after %d bytes: %w", stream, n, err)
		}
		if len(m.Data) == 0 {
			// The end: a status says whether the server completed it.
			switch st := m.Header.Get("Status"); st {
			case "", "204":
				return meta, n, nil
			default:
				return meta, n, fmt.Errorf("snapshot of stream %s failed on the server after %d bytes: status %s %s",
					stream, n, st, m.Header.Get("Description"))
			}
		}
		if _, err := w.Write(m.Data); err != nil {
			return meta, n, fmt.Errorf("snapshot of stream %s: writing: %w", stream, err)
		}
		n += int64(len(m.Data))
		if m.Reply != "" {
			if err := m.Respond(nil); err != nil {
				return meta, n, fmt.Errorf("snapshot of stream %s: acknowledging a chunk: %w", stream, err)
			}
		}
	}
}

// RestoreOptions changes what a restore creates.
type RestoreOptions struct {
	// Replicas, when not zero, replaces the stream's replica count (a
	// 3-replica stream restored on a single server, or the reverse).
	Replicas int
}

// Restore recreates a stream, its messages and its consumers from a
// snapshot read from r. The stream must not exist. The user needs to
// publish on $JS.API.STREAM.RESTORE.<stream> and $JS.SNAPSHOT.RESTORE.>.
func Restore(ctx context.Context, nc *nats.Conn, meta Meta, r io.Reader, o RestoreOptions) error {
	cfg := meta.Config
	if o.Replicas > 0 {
		var m map[string]any
		if err := json.Unmarshal(cfg, &m); err != nil {
			return fmt.Errorf("configuration of stream %s in the backup: %w", meta.Stream, err)
		}
		m["num_replicas"] = o.Replicas
		cfg, _ = json.Marshal(m)
	}
	req, _ := json.Marshal(map[string]json.RawMessage{"config": cfg, "state": meta.State})
	resp, err := nc.RequestWithContext(ctx, subjectRestore+meta.Stream, req)
	if err != nil {
		return fmt.Errorf("asking to restore stream %s: %w (does the user may publish on %s%s?)", meta.Stream, err, subjectRestore, meta.Stream)
	}
	var rr struct {
		Error          *apiError `json:"error"`
		DeliverSubject string    `json:"deliver_subject"`
	}
	if err := json.Unmarshal(resp.Data, &rr); err != nil {
		return fmt.Errorf("restore of stream %s: unreadable answer %q: %w", meta.Stream, abbrev(resp.Data), err)
	}
	if rr.Error != nil {
		return fmt.Errorf("restore of stream %s refused: %w", meta.Stream, rr.Error)
	}
	buf := make([]byte, chunkSize)
	var sent int64
	for {
		k, rerr := io.ReadFull(r, buf)
		if k > 0 {
			if err := sendChunk(ctx, nc, rr.DeliverSubject, buf[:k]); err != nil {
				return fmt.Errorf("restore of stream %s after %d bytes: %w", meta.Stream, sent, err)
			}
			sent += int64(k)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("restore of stream %s: reading the snapshot: %w", meta.Stream, rerr)
		}
	}
	// The empty request ends the transfer; the server answers once the
	// stream is rebuilt, which takes longer than a chunk.
	fctx, cancel := context.WithTimeout(ctx, 5*chunkTimeout)
	defer cancel()
	end, err := nc.RequestWithContext(fctx, rr.DeliverSubject, nil)
	if err != nil {
		return fmt.Errorf("restore of stream %s: waiting for the server to finish: %w", meta.Stream, err)
	}
	var done struct {
		Error *apiError `json:"error"`
	}
	if err := json.Unmarshal(end.Data, &done); err != nil {
		return fmt.Errorf("restore of stream %s: unreadable final answer %q: %w", meta.Stream, abbrev(end.Data), err)
	}
	if done.Error != nil {
		return fmt.Errorf("restore of stream %s failed: %w", meta.Stream, done.Error)
	}
	return nil
}

func sendChunk(ctx context.Context, nc *nats.Conn, subject string, chunk []byte) error {
	cctx, cancel := context.WithTimeout(ctx, chunkTimeout)
	defer cancel()
	ack, err := nc.RequestWithContext(cctx, subject, chunk)
	if err != nil {
		return fmt.Errorf("sending a chunk: %w", err)
	}
	if len(ack.Data) > 0 {
		var e struct {
			Error *apiError `json:"error"`
		}
		if json.Unmarshal(ack.Data, &e) == nil && e.Error != nil {
			return fmt.Errorf("the server refused a chunk: %w", e.Error)
		}
		return fmt.Errorf("the server answered a chunk with %q", abbrev(ack.Data))
	}
	return nil
}

// Manifest describes a backup folder: one snapshot file per stream, with
// its size and SHA-256, and what the server said of each stream.
type Manifest struct {
	Taken   time.Time     `json:"taken"`
	Server  string        `json:"server"`
	Streams []StreamEntry `json:"streams"`
}

// StreamEntry is one stream of a backup.
type StreamEntry struct {
	Meta
	File   string `json:"file"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// ManifestFile is the manifest's name in a backup folder.
const ManifestFile = "manifest.json"

// BackupAll snapshots every stream of the account into dir (created, must
// be empty or absent) and writes the manifest last: a folder without one is
// an interrupted backup.
func BackupAll(ctx context.Context, nc *nats.Conn, dir string) (*Manifest, error) {
	if err := backupdir.Empty(dir); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	var names []string
	lister := js.StreamNames(ctx)
	for n := range lister.Name() {
		names = append(names, n)
	}
	if err := lister.Err(); err != nil {
		return nil, fmt.Errorf("listing the streams: %w", err)
	}
	sort.Strings(names)
	man := &Manifest{Taken: time.Now().UTC(), Server: nc.ConnectedServerName()}
	for _, name := range names {
		e, err := backupOne(ctx, nc, dir, name)
		if err != nil {
			return nil, err
		}
		man.Streams = append(man.Streams, e)
	}
	data, _ := json.MarshalIndent(man, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), append(data, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("writing the manifest: %w", err)
	}
	return man, nil
}

func backupOne(ctx context.Context, nc *nats.Conn, dir, name string) (StreamEntry, error) {
	file := name + ".snapshot"
	f, err := os.OpenFile(filepath.Join(dir, file), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return StreamEntry{}, err
	}
	h := sha256.New()
	meta, n, err := Snapshot(ctx, nc, name, io.MultiWriter(f, h))
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing %s: %w", file, cerr)
	}
	if err != nil {
		return StreamEntry{}, err
	}
	return StreamEntry{Meta: meta, File: file, Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// ReadManifest reads and checks a backup folder: the manifest is there and
// every snapshot file has its recorded size and SHA-256.
func ReadManifest(dir string) (*Manifest, error) {
	var man Manifest
	if err := backupdir.ReadManifest(dir, ManifestFile, &man); err != nil {
		return nil, err
	}
	for _, e := range man.Streams {
		f, err := os.Open(filepath.Join(dir, e.File))
		if err != nil {
			return nil, fmt.Errorf("snapshot of stream %s: %w", e.Stream, err)
		}
		h := sha256.New()
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", e.File, err)
		}
		if n != e.Bytes || hex.EncodeToString(h.Sum(nil)) != e.SHA256 {
			return nil, fmt.Errorf("%s is damaged: %d bytes (manifest: %d) or its SHA-256 differs from the manifest's", e.File, n, e.Bytes)
		}
	}
	return &man, nil
}

// RestoreAll restores every stream of a backup folder into a JetStream
// that holds none of them; it checks the whole backup before the first
// restore, and stops at the first stream that already exists.
func RestoreAll(ctx context.Context, nc *nats.Conn, dir string, o RestoreOptions) (*Manifest, error) {
	man, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	for _, e := range man.Streams {
		if _, err := js.Stream(ctx, e.Stream); err == nil {
			return nil, fmt.Errorf("stream %s already exists: restore into an empty JetStream (or delete the stream first)", e.Stream)
		} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("looking up stream %s: %w", e.Stream, err)
		}
	}
	for _, e := range man.Streams {
		f, err := os.Open(filepath.Join(dir, e.File))
		if err != nil {
			return nil, err
		}
		err = Restore(ctx, nc, e.Meta, f, o)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return man, nil
}

func abbrev(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
