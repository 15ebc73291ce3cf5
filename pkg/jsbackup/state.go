package jsbackup

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamState is what a restore must give back of a stream: its messages
// (count, sequences and, on request, a digest of their contents) and, per
// consumer, what is still to deliver or to acknowledge.
type StreamState struct {
	Stream    string          `json:"stream"`
	Messages  uint64          `json:"messages"`
	FirstSeq  uint64          `json:"first_seq"`
	LastSeq   uint64          `json:"last_seq"`
	Digest    string          `json:"digest,omitempty"`
	Consumers []ConsumerState `json:"consumers"`
}

// ConsumerState is one durable consumer's position.
type ConsumerState struct {
	Name string `json:"name"`
	// Pending: messages not yet delivered, and AckPending: delivered, not
	// yet acknowledged. Both are still to handle.
	Pending    uint64 `json:"pending"`
	AckPending int    `json:"ack_pending"`
	// AckFloor: every message up to this stream sequence is acknowledged;
	// Delivered: the last stream sequence delivered.
	AckFloor  uint64 `json:"ack_floor"`
	Delivered uint64 `json:"delivered"`
}

// Unhandled is what the consumer still has to handle.
func (c ConsumerState) Unhandled() uint64 { return c.Pending + uint64(c.AckPending) }

// Describe reads the state of every stream and consumer of the account.
// With digest, it also reads every message (sequence, subject, headers,
// data) into a SHA-256: slow on a large store, for drills and tests.
func Describe(ctx context.Context, js jetstream.JetStream, digest bool) ([]StreamState, error) {
	var out []StreamState
	lister := js.ListStreams(ctx)
	for info := range lister.Info() {
		st := StreamState{Stream: info.Config.Name, Messages: info.State.Msgs, FirstSeq: info.State.FirstSeq, LastSeq: info.State.LastSeq}
		if st.Messages == 0 {
			// Empty: a new stream says 0, a restored or emptied one
			// last+1; both mean "the next message gets last+1".
			st.FirstSeq = st.LastSeq + 1
		}
		s, err := js.Stream(ctx, info.Config.Name)
		if err != nil {
			return nil, fmt.Errorf("opening stream %s: %w", info.Config.Name, err)
		}
		cl := s.ListConsumers(ctx)
		for ci := range cl.Info() {
			st.Consumers = append(st.Consumers, ConsumerState{Name: ci.Name, Pending: ci.NumPending, AckPending: ci.NumAckPending,
				AckFloor: ci.AckFloor.Stream, Delivered: ci.Delivered.Stream})
		}
		if err := cl.Err(); err != nil {
			return nil, fmt.Errorf("listing the consumers of %s: %w", info.Config.Name, err)
		}
		sort.Slice(st.Consumers, func(i, j int) bool { return st.Consumers[i].Name < st.Consumers[j].Name })
		if digest {
			if st.Digest, err = digestOf(ctx, s, st.FirstSeq, st.LastSeq); err != nil {
				return nil, err
			}
		}
		out = append(out, st)
	}
	if err := lister.Err(); err != nil {
		return nil, fmt.Errorf("listing the streams: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Stream < out[j].Stream })
	return out, nil
}

func digestOf(ctx context.Context, s jetstream.Stream, first, last uint64) (string, error) {
	h := sha256.New()
	var b [8]byte
	for seq := first; seq <= last && last > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // deleted (acknowledged on a work queue, purged)
		}
		if err != nil {
			return "", fmt.Errorf("reading message %d of %s: %w", seq, s.CachedInfo().Config.Name, err)
		}
		binary.BigEndian.PutUint64(b[:], seq)
		h.Write(b[:])
		h.Write([]byte(m.Subject + "\n"))
		keys := make([]string, 0, len(m.Header))
		for k := range m.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			h.Write([]byte(k + ":" + strings.Join(m.Header[k], ",") + "\n"))
		}
		binary.BigEndian.PutUint64(b[:], uint64(len(m.Data)))
		h.Write(b[:])
		h.Write(m.Data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// Format writes states as lines, one per stream and one per consumer, in a
// stable order: two states are equal when their texts are.
func Format(states []StreamState) string {
	var b strings.Builder
	for _, s := range states {
		fmt.Fprintf(&b, "stream %s messages=%d first=%d last=%d", s.Stream, s.Messages, s.FirstSeq, s.LastSeq)
		if s.Digest != "" {
			fmt.Fprintf(&b, " digest=%s", s.Digest)
		}
		b.WriteByte('\n')
		for _, c := range s.Consumers {
			fmt.Fprintf(&b, "consumer %s/%s unhandled=%d (pending=%d ack_pending=%d) ack_floor=%d delivered=%d\n",
				s.Stream, c.Name, c.Unhandled(), c.Pending, c.AckPending, c.AckFloor, c.Delivered)
		}
	}
	return b.String()
}
