// Package mailbox reads one IMAP mailbox and hands every message to a durable
// sink before moving it out of the inbox: a crash at any point loses nothing,
// and the only possible repeat (crash after hand-off, before the move) carries
// the same (mailbox, UIDVALIDITY, UID) identity, which the sink deduplicates.
package mailbox

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"go.uber.org/zap"
	"golang.org/x/sync/semaphore"

	"github.com/bndmr/hub/pkg/pause"
	"github.com/bndmr/hub/pkg/service"
	"github.com/bndmr/hub/pkg/tlsclient"
)

// Config describes one mailbox.
type Config struct {
	// Name identifies the mailbox in events and metrics (e.g. "bndmr@hub.mssante.fr").
	Name string
	Addr string // host:port
	// TLS: "none" (tests on loopback only), "implicit" (IMAPS) or "starttls".
	TLS      string
	CAFile   string // PEM bundle the server certificate must chain to
	CertFile string // client certificate (MSSanté operators authenticate with it)
	KeyFile  string
	// CRLFile: the CRLs of the authorities of the server's chain (IGC-Santé);
	// when set, a revoked or uncovered certificate refuses the connection.
	CRLFile string
	// Auth: "plain", "login" or "external" (SASL EXTERNAL with the client certificate).
	Auth      string
	User      string
	Password  string
	Inbox     string // default INBOX
	Processed string // where handed-off messages go; default Processed
	// PollInterval bounds the wait between checks when IDLE is not used.
	PollInterval time.Duration
	// NoIdle forces polling even where the server offers IDLE.
	NoIdle bool
	// Batch is how many messages one FETCH asks for.
	Batch int
	// HandOffs is how many messages of a batch are handed to the sink at
	// once (default 8; 1: one after the other). Each hand-off waits on the
	// sink's store (a JetStream PubAck); in turn they set the pace of the
	// whole hub. The messages still leave the inbox only once their own
	// hand-off returned.
	HandOffs int
	// MaxBackoff caps the wait between reconnections.
	MaxBackoff time.Duration
	// CommandTimeout bounds each exchange with the server (greeting, one
	// command, one fetched message): past it the connection is closed and
	// the reader reconnects. IDLE itself is not bounded by it.
	CommandTimeout time.Duration
}

// UnmarshalJSON reads a mailbox of the --mailboxes-file list, where the
// durations are written as Go durations ("30s", "2m"); a number is taken
// as nanoseconds, the encoding/json default.
func (c *Config) UnmarshalJSON(b []byte) error {
	type plain Config
	aux := struct {
		*plain
		PollInterval, MaxBackoff, CommandTimeout jsonDuration
	}{plain: (*plain)(c)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	c.PollInterval, c.MaxBackoff, c.CommandTimeout = time.Duration(aux.PollInterval), time.Duration(aux.MaxBackoff), time.Duration(aux.CommandTimeout)
	return nil
}

type jsonDuration time.Duration

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case nil:
	case float64:
		*d = jsonDuration(v)
	case string:
		p, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("duration %q: %w", v, err)
		}
		*d = jsonDuration(p)
	default:
		return fmt.Errorf("duration %s is neither \"30s\" nor a number of nanoseconds", b)
	}
	return nil
}

// TLSFiles are the certificate files of the mailbox's connection.
func (c Config) TLSFiles() tlsclient.Files {
	return tlsclient.Files{CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile, CRLFile: c.CRLFile}
}

// Defaults returns the settings a mailbox starts from: the flags' defaults,
// and what Validate gives a field a --mailboxes-file entry leaves out.
func Defaults() Config {
	return Config{TLS: "implicit", Auth: "plain", Inbox: "INBOX", Processed: "Processed",
		PollInterval: 30 * time.Second, Batch: 20, HandOffs: 8, MaxBackoff: time.Minute, CommandTimeout: 2 * time.Minute}
}

// RegisterLoginFlags declares how to reach and log in to the mailbox, with
// c's values as defaults: --PREFIX-addr, -tls, -ca, -user, -password.
// bndmrctl deliver and mdn declare these alone.
func (c *Config) RegisterLoginFlags(f *service.Flags, prefix string) {
	n := func(name string) string { return service.Name(prefix, name) }
	f.String(&c.Addr, n("addr"), c.Addr, "IMAP server host:port")
	f.String(&c.TLS, n("tls"), c.TLS, "implicit, starttls, or none (loopback tests only)")
	f.String(&c.CAFile, n("ca"), c.CAFile, "CA bundle the server certificate must chain to")
	f.String(&c.User, n("user"), c.User, "IMAP user")
	f.String(&c.Password, n("password"), c.Password, "IMAP password")
}

// RegisterFlags declares every setting of one mailbox, with c's values as
// defaults: the login flags and --PREFIX-name, -cert, -key, -crl, -auth,
// -inbox, -processed, -poll, -no-idle, -handoffs, -timeout.
func (c *Config) RegisterFlags(f *service.Flags, prefix string) {
	n := func(name string) string { return service.Name(prefix, name) }
	c.RegisterLoginFlags(f, prefix)
	f.String(&c.Name, n("name"), c.Name, "name of the mailbox in events and metrics (default user@addr)")
	f.String(&c.CertFile, n("cert"), c.CertFile, "client certificate (PEM)")
	f.String(&c.KeyFile, n("key"), c.KeyFile, "client certificate key (PEM)")
	f.String(&c.CRLFile, n("crl"), c.CRLFile, "CRLs (PEM or DER) of the authorities of the server's certificate chain; a revoked or uncovered certificate refuses the connection")
	f.String(&c.Auth, n("auth"), c.Auth, "plain, login or external (SASL EXTERNAL with the client certificate)")
	f.String(&c.Inbox, n("inbox"), c.Inbox, "folder the hospitals' mails arrive in")
	f.String(&c.Processed, n("processed"), c.Processed, "folder handed-off mails are moved to")
	f.Duration(&c.PollInterval, n("poll"), c.PollInterval, "polling interval where IDLE is not used")
	f.Bool(&c.NoIdle, n("no-idle"), c.NoIdle, "poll even where the server offers IDLE")
	f.Int(&c.HandOffs, n("handoffs"), c.HandOffs, "mails of a batch handed to JetStream at once, each moved out of the inbox after its own PubAck (1: one after the other)")
	f.Duration(&c.CommandTimeout, n("timeout"), c.CommandTimeout, "longest wait for the server's answer to one command (or one fetched mail) before reconnecting")
}

// WithDefaults gives the fields left empty their Defaults (a
// --mailboxes-file entry names only what differs; a test sets what it
// needs), and Name user@addr. The entry points (NewReader, Deliver…) apply
// it; Validate judges c as it completes it.
func (c Config) WithDefaults() Config {
	d := Defaults()
	if c.Name == "" {
		c.Name = c.User + "@" + c.Addr
	}
	if c.TLS == "" {
		c.TLS = d.TLS
	}
	if c.Auth == "" {
		c.Auth = d.Auth
	}
	if c.Inbox == "" {
		c.Inbox = d.Inbox
	}
	if c.Processed == "" {
		c.Processed = d.Processed
	}
	if c.PollInterval <= 0 {
		c.PollInterval = d.PollInterval
	}
	if c.Batch <= 0 {
		c.Batch = d.Batch
	}
	if c.HandOffs <= 0 {
		c.HandOffs = d.HandOffs
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = d.MaxBackoff
	}
	if c.CommandTimeout <= 0 {
		c.CommandTimeout = d.CommandTimeout
	}
	return c
}

// Validate checks c, with its defaults; it changes nothing.
func (c Config) Validate() error {
	c = c.WithDefaults()
	if c.Addr == "" {
		return fmt.Errorf("mailbox %s: no IMAP address (host:port)", c.Name)
	}
	switch c.TLS {
	case "none", "implicit", "starttls":
	default:
		return fmt.Errorf("mailbox %s: TLS mode %q is not none, implicit or starttls", c.Name, c.TLS)
	}
	switch c.Auth {
	case "plain", "login":
		if c.User == "" {
			return fmt.Errorf("mailbox %s: auth %s needs a user", c.Name, c.Auth)
		}
	case "external":
		if c.CertFile == "" || c.KeyFile == "" {
			return fmt.Errorf("mailbox %s: SASL EXTERNAL needs a client certificate and key", c.Name)
		}
	default:
		return fmt.Errorf("mailbox %s: auth %q is not plain, login or external", c.Name, c.Auth)
	}
	return nil
}

// Message is one mail as the server gave it.
type Message struct {
	Mailbox     string
	UIDValidity uint32
	UID         uint32
	Raw         []byte
	Internal    time.Time
}

// ID is the deduplication identity of a message: SHA-256 of (mailbox,
// UIDVALIDITY, UID). Stable across restarts; changes only with UIDVALIDITY.
func (m Message) ID() string {
	h := sha256.New()
	h.Write([]byte(m.Mailbox))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatUint(uint64(m.UIDValidity), 10)))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatUint(uint64(m.UID), 10)))
	return hex.EncodeToString(h.Sum(nil))
}

// Sink takes a message durably: when it returns nil, the message may leave
// the inbox. It must be idempotent for the same Message.ID(), and safe for
// concurrent use (Config.HandOffs calls run at once).
type Sink func(ctx context.Context, m Message) error

// Stats are counters a caller may export as metrics.
type Stats interface {
	HandedOff(mailbox string)
	Connected(mailbox string, ok bool)
	// Waiting reports the mails in the inbox at the start of a drain and
	// the arrival (INTERNALDATE) of the oldest (zero when none).
	Waiting(mailbox string, n int, oldest time.Time)
}

type noStats struct{}

func (noStats) HandedOff(string)               {}
func (noStats) Connected(string, bool)         {}
func (noStats) Waiting(string, int, time.Time) {}

// Reader drains one mailbox into a sink.
type Reader struct {
	cfg   Config
	sink  Sink
	log   *zap.Logger
	stats Stats
	// uidValidity of the last session, to report a change: the sink then
	// sees every old message again under new identities (see Message.ID).
	uidValidity uint32
}

// NewReader checks cfg and returns a reader; stats may be nil.
func NewReader(cfg Config, sink Sink, log *zap.Logger, stats Stats) (*Reader, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if stats == nil {
		stats = noStats{}
	}
	return &Reader{cfg: cfg, sink: sink, log: log.With(zap.String("mailbox", cfg.Name)), stats: stats}, nil
}

// Run reads the mailbox until ctx ends, reconnecting with backoff and jitter
// after any failure. It returns only when ctx is done.
func (r *Reader) Run(ctx context.Context) error {
	failures := 0
	for ctx.Err() == nil {
		err := r.session(ctx)
		if ctx.Err() != nil {
			break
		}
		r.stats.Connected(r.cfg.Name, false)
		failures++
		wait := backoff(failures, r.cfg.MaxBackoff)
		r.log.Warn("IMAP session ended; reconnecting", zap.Error(err), zap.Duration("in", wait))
		_ = pause.For(ctx, wait)
	}
	return nil
}

// backoff doubles from 500 ms up to max, with ±25 % jitter so that several
// mailboxes do not reconnect in step.
func backoff(n int, max time.Duration) time.Duration {
	d := 500 * time.Millisecond << min(n-1, 10)
	d = min(d, max)
	return time.Duration(float64(d) * (0.75 + rand.Float64()/2))
}

// session is one IMAP connection: drain, then wait for more, until an error.
func (r *Reader) session(ctx context.Context) error {
	newMail := make(chan struct{}, 1)
	opts := &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					select {
					case newMail <- struct{}{}:
					default:
					}
				}
			},
		},
	}
	c, err := r.dial(opts)
	if err != nil {
		return err
	}
	defer c.Close()
	// Closing the connection is how a blocked command is interrupted.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	if err := r.answered(c, "authenticating", func() error { return r.authenticate(c) }); err != nil {
		return err
	}
	var sel *imap.SelectData
	if err := r.answered(c, "SELECT", func() (err error) { sel, err = c.Select(r.cfg.Inbox, nil).Wait(); return err }); err != nil {
		return fmt.Errorf("selecting %s: %w", r.cfg.Inbox, err)
	}
	r.stats.Connected(r.cfg.Name, true)
	if r.uidValidity != 0 && sel.UIDValidity != r.uidValidity {
		r.log.Warn("UIDVALIDITY changed: every message in the inbox has a new identity; the sink's content key keeps them from being passed on twice",
			zap.Uint32("was", r.uidValidity), zap.Uint32("now", sel.UIDValidity))
	}
	r.uidValidity = sel.UIDValidity
	r.log.Info("IMAP session open", zap.Uint32("uidvalidity", sel.UIDValidity), zap.Uint32("messages", sel.NumMessages),
		zap.Bool("idle", r.useIdle(c)))
	for ctx.Err() == nil {
		if err := r.drain(ctx, c, sel.UIDValidity); err != nil {
			return err
		}
		if err := r.wait(ctx, c, newMail); err != nil {
			return err
		}
	}
	_ = r.answered(c, "LOGOUT", func() error { return c.Logout().Wait() })
	return ctx.Err()
}

// errNoAnswer: the server left an exchange unanswered past CommandTimeout.
var errNoAnswer = errors.New("no answer from the IMAP server")

// answered runs one exchange with the server, and closes the connection if
// it lasts longer than CommandTimeout: a server that stops answering (a
// half-open TCP connection, a hung process) would otherwise block the
// mailbox for ever, with nothing in the logs. Closing fails the exchange,
// and the session ends; Run reconnects.
func (r *Reader) answered(c *imapclient.Client, what string, f func() error) error {
	var late atomic.Bool
	t := time.AfterFunc(r.cfg.CommandTimeout, func() {
		late.Store(true)
		c.Close()
	})
	err := f()
	t.Stop()
	if late.Load() {
		return fmt.Errorf("%s: %w within %s; connection closed", what, errNoAnswer, r.cfg.CommandTimeout)
	}
	return err
}

func (r *Reader) useIdle(c *imapclient.Client) bool {
	return !r.cfg.NoIdle && c.Caps().Has(imap.CapIdle)
}

// wait returns when new mail may be there: on IDLE notification, or after the
// poll interval (also the longest IDLE, well under the 29 minutes of RFC 2177).
func (r *Reader) wait(ctx context.Context, c *imapclient.Client, newMail <-chan struct{}) error {
	if !r.useIdle(c) {
		_ = pause.For(ctx, r.cfg.PollInterval)
		if ctx.Err() != nil {
			return nil
		}
		// NOOP lets the server report new messages; drain searches anyway.
		return r.answered(c, "NOOP", func() error { return c.Noop().Wait() })
	}
	var idle *imapclient.IdleCommand
	if err := r.answered(c, "IDLE", func() (err error) { idle, err = c.Idle(); return err }); err != nil {
		return fmt.Errorf("starting IDLE: %w", err)
	}
	t := time.NewTimer(min(r.cfg.PollInterval*10, 10*time.Minute))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-newMail:
	case <-t.C:
	case <-c.Closed():
	}
	return r.answered(c, "ending IDLE", func() error {
		if err := idle.Close(); err != nil {
			return fmt.Errorf("ending IDLE: %w", err)
		}
		return idle.Wait()
	})
}

// drain hands off every message in the inbox, a batch at a time, and moves
// each batch once every message of it is durable.
func (r *Reader) drain(ctx context.Context, c *imapclient.Client, uidValidity uint32) error {
	for ctx.Err() == nil {
		var found *imap.SearchData
		err := r.answered(c, "UID SEARCH", func() (err error) {
			found, err = c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}}, nil).Wait()
			return err
		})
		if err != nil {
			return fmt.Errorf("searching %s: %w", r.cfg.Inbox, err)
		}
		uids := found.AllUIDs()
		oldest, err := r.oldest(c, uids)
		if err != nil {
			return fmt.Errorf("reading when the oldest mail of %s arrived: %w", r.cfg.Inbox, err)
		}
		r.stats.Waiting(r.cfg.Name, len(uids), oldest)
		if len(uids) == 0 {
			return nil
		}
		for len(uids) > 0 && ctx.Err() == nil {
			n := min(len(uids), r.cfg.Batch)
			if err := r.batch(ctx, c, uidValidity, uids[:n]); err != nil {
				return err
			}
			uids = uids[n:]
		}
	}
	return nil
}

// oldest returns when the first of uids arrived: the age of what waits in
// the inbox, for the operators' alert.
func (r *Reader) oldest(c *imapclient.Client, uids []imap.UID) (time.Time, error) {
	if len(uids) == 0 {
		return time.Time{}, nil
	}
	var at time.Time
	err := r.answered(c, "FETCH", func() error {
		msgs, err := c.Fetch(imap.UIDSetNum(uids[0]), &imap.FetchOptions{UID: true, InternalDate: true}).Collect()
		if err == nil && len(msgs) > 0 {
			at = msgs[0].InternalDate
		}
		return err
	})
	return at, err
}

func (r *Reader) batch(ctx context.Context, c *imapclient.Client, uidValidity uint32, uids []imap.UID) error {
	section := &imap.FetchItemBodySection{Peek: true}
	fetch := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{section}})
	// Up to HandOffs messages, and handOffBytes of them, are handed off at
	// once while the FETCH response is read on: memory stays bounded
	// whatever the mails weigh.
	h := &handOffs{slots: semaphore.NewWeighted(int64(r.cfg.HandOffs)), bytes: semaphore.NewWeighted(handOffBytes)}
	for {
		// One message at a time is bounded, not the sink's wait: a JetStream
		// outage must hold the mails, not break the session.
		var buf *imapclient.FetchMessageBuffer
		err := r.answered(c, "FETCH", func() (err error) {
			if md := fetch.Next(); md != nil {
				buf, err = md.Collect()
			}
			return err
		})
		if err != nil {
			h.fail(fmt.Errorf("reading a message: %w", err))
			break
		}
		if buf == nil {
			break
		}
		if h.failed() {
			continue // keep reading the FETCH response to its end
		}
		h.start(ctx, r, Message{Mailbox: r.cfg.Name, UIDValidity: uidValidity, UID: uint32(buf.UID),
			Raw: buf.FindBodySection(section), Internal: buf.InternalDate})
	}
	closeErr := r.answered(c, "FETCH", fetch.Close)
	h.wg.Wait()
	if closeErr != nil {
		h.fail(fmt.Errorf("fetching messages: %w", closeErr))
	}
	if len(h.done) > 0 {
		slices.Sort(h.done)
		if err := r.answered(c, "MOVE", func() error { return r.move(c, h.done) }); err != nil {
			return err
		}
	}
	return h.err
}

// handOffs are the messages of one batch being handed to the sink.
type handOffs struct {
	slots, bytes *semaphore.Weighted // room for HandOffs messages, handOffBytes bytes
	wg           sync.WaitGroup
	mu           sync.Mutex
	done         []imap.UID // handed off: to move
	err          error      // the first failure
}

func (h *handOffs) fail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil {
		h.err = err
	}
}

func (h *handOffs) failed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err != nil
}

// start hands m to r's sink in the background once there is room for it.
func (h *handOffs) start(ctx context.Context, r *Reader, m Message) {
	weight := min(max(int64(len(m.Raw)), 1), handOffBytes)
	if err := h.slots.Acquire(ctx, 1); err != nil {
		h.fail(err)
		return
	}
	if err := h.bytes.Acquire(ctx, weight); err != nil {
		h.slots.Release(1)
		h.fail(err)
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer h.slots.Release(1)
		defer h.bytes.Release(weight)
		if err := r.sink(ctx, m); err != nil {
			h.fail(fmt.Errorf("handing off UID %d: %w", m.UID, err))
			return
		}
		r.stats.HandedOff(r.cfg.Name)
		h.mu.Lock()
		h.done = append(h.done, imap.UID(m.UID))
		h.mu.Unlock()
	}()
}

// handOffBytes bounds the bytes of the messages of one batch being handed
// off at once (a larger message goes alone).
const handOffBytes = 32 << 20

// move takes handed-off messages out of the inbox: MOVE where the server has
// it, otherwise COPY + \Deleted + UID EXPUNGE.
func (r *Reader) move(c *imapclient.Client, uids []imap.UID) error {
	set := imap.UIDSetNum(uids...)
	if c.Caps().Has(imap.CapMove) {
		if _, err := c.Move(set, r.cfg.Processed).Wait(); err != nil {
			return fmt.Errorf("moving %d messages to %s: %w", len(uids), r.cfg.Processed, err)
		}
		return nil
	}
	if _, err := c.Copy(set, r.cfg.Processed).Wait(); err != nil {
		return fmt.Errorf("copying %d messages to %s: %w", len(uids), r.cfg.Processed, err)
	}
	if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		return fmt.Errorf("flagging %d messages deleted: %w", len(uids), err)
	}
	if c.Caps().Has(imap.CapUIDPlus) {
		return c.UIDExpunge(set).Close()
	}
	return c.Expunge().Close()
}

// dialTimeout bounds the TCP connection and the TLS handshake: an operator
// whose server black-holes packets must not hang the reader.
const dialTimeout = 30 * time.Second

func (r *Reader) dial(opts *imapclient.Options) (*imapclient.Client, error) {
	var err error
	opts.Dialer = &net.Dialer{Timeout: dialTimeout}
	if r.cfg.TLS != "none" {
		if opts.TLSConfig, err = r.tlsConfig(); err != nil {
			return nil, err
		}
	}
	var c *imapclient.Client
	switch r.cfg.TLS {
	case "none":
		c, err = imapclient.DialInsecure(r.cfg.Addr, opts)
	case "starttls":
		c, err = imapclient.DialStartTLS(r.cfg.Addr, opts)
	default:
		c, err = imapclient.DialTLS(r.cfg.Addr, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to %s (%s): %w", r.cfg.Addr, r.cfg.TLS, err)
	}
	if err := r.answered(c, "greeting", c.WaitGreeting); err != nil {
		c.Close()
		return nil, fmt.Errorf("IMAP greeting from %s: %w", r.cfg.Addr, err)
	}
	return c, nil
}

func (r *Reader) tlsConfig() (*tls.Config, error) {
	return tlsclient.Config(r.cfg.TLSFiles(), "")
}

func (r *Reader) authenticate(c *imapclient.Client) error {
	var err error
	switch {
	case r.cfg.Auth == "external":
		err = c.Authenticate(externalClient{})
	case r.cfg.Auth == "plain" && c.Caps().Has(imap.AuthCap(sasl.Plain)):
		err = c.Authenticate(sasl.NewPlainClient("", r.cfg.User, r.cfg.Password))
	default:
		// IMAP LOGIN: "login", or a server that does not offer AUTH=PLAIN.
		err = c.Login(r.cfg.User, r.cfg.Password).Wait()
	}
	if err != nil {
		return fmt.Errorf("authenticating to %s as %q (%s): %w", r.cfg.Addr, r.cfg.User, r.cfg.Auth, err)
	}
	return nil
}

// externalClient is SASL EXTERNAL: the identity is the TLS client
// certificate (the server maps it to a user, e.g. by commonName). The empty
// initial response asks for that identity rather than naming another.
type externalClient struct{}

func (externalClient) Start() (string, []byte, error) { return sasl.External, []byte{}, nil }
func (externalClient) Next([]byte) ([]byte, error) {
	return nil, errors.New("unexpected challenge for SASL EXTERNAL")
}

// Waiting counts the messages still in the inbox (IMAP STATUS), for an
// operator or the all-in-one hub's "run until drained" mode.
func Waiting(ctx context.Context, cfg Config) (uint32, error) {
	cfg = cfg.WithDefaults()
	c, done, err := open(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer done()
	st, err := c.Status(cfg.Inbox, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		return 0, fmt.Errorf("STATUS %s: %w", cfg.Inbox, err)
	}
	_ = c.Logout().Wait()
	return *st.NumMessages, nil
}

// open connects and authenticates a short session; done closes it, and ctx
// ending closes it too (how a blocked command is interrupted).
func open(ctx context.Context, cfg Config) (*imapclient.Client, func(), error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	r := &Reader{cfg: cfg}
	c, err := r.dial(&imapclient.Options{})
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	done := func() { stop(); c.Close() }
	if err := r.authenticate(c); err != nil {
		done()
		return nil, nil, err
	}
	return c, done, nil
}

// Deliver appends raw messages to a folder of the mailbox (IMAP APPEND): how
// the demo and the tests put hospital mails where the hub reads them.
func Deliver(ctx context.Context, cfg Config, folder string, msgs func(yield func([]byte) bool)) (int, error) {
	if folder == "" {
		folder = cfg.WithDefaults().Inbox
	}
	c, done, err := open(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer done()
	n := 0
	var appendErr error
	msgs(func(raw []byte) bool {
		cmd := c.Append(folder, int64(len(raw)), nil)
		if _, err := cmd.Write(raw); err != nil {
			appendErr = fmt.Errorf("appending message %d: %w", n+1, err)
			return false
		}
		if err := cmd.Close(); err != nil {
			appendErr = fmt.Errorf("appending message %d: %w", n+1, err)
			return false
		}
		if _, err := cmd.Wait(); err != nil {
			appendErr = fmt.Errorf("appending message %d: %w", n+1, err)
			return false
		}
		n++
		return true
	})
	if appendErr == nil {
		_ = c.Logout().Wait()
	}
	return n, appendErr
}
