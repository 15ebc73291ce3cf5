// Package chdb runs SQL on chDB, ClickHouse built as a shared library
// (libchdb.so), which it loads at run time with dlopen: nothing else in the
// build links against the library, and a machine without it builds the hub
// all the same. The tests use it to run the hub's statements on the
// ClickHouse version production runs, beside the 18.16 server of `make up`
// (see docs/store.md).
//
// Only the connection API of chdb.h is used (chdb_connect, chdb_query_n,
// chdb_result_*, chdb_destroy_query_result, chdb_close_conn, as the 26.7
// build exports them, and chdb_set_signal_handlers_enabled where present, so
// that the engine leaves the Go runtime's signal handlers alone); the older
// query_stable_v2 family is not.
package chdb

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef struct { void *internal_data; } chdb_result;
typedef struct chdb_connection_ { void *internal_data; } *chdb_connection;

typedef chdb_connection *(*connect_fn)(int, char **);
typedef void (*close_fn)(chdb_connection *);
typedef chdb_result *(*query_fn)(chdb_connection, const char *, size_t, const char *, size_t);
typedef void (*destroy_fn)(chdb_result *);
typedef char *(*buffer_fn)(chdb_result *);
typedef size_t (*length_fn)(chdb_result *);
typedef const char *(*error_fn)(chdb_result *);
typedef void (*signals_fn)(int);

typedef struct {
	void *handle;
	connect_fn connect;
	close_fn close;
	query_fn query;
	destroy_fn destroy;
	buffer_fn buffer;
	length_fn length;
	error_fn error;
	signals_fn signals;
} chdb_lib;

// chdb_load opens the library and resolves the functions used; on failure it
// returns the name of what is missing (or dlerror's text) in *err.
static int chdb_load(const char *path, chdb_lib *lib, const char **err) {
	memset(lib, 0, sizeof *lib);
	lib->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib->handle) { *err = dlerror(); return -1; }
#define SYM(field, name) \
	lib->field = (typeof(lib->field))dlsym(lib->handle, name); \
	if (!lib->field) { *err = name; return -1; }
	SYM(connect, "chdb_connect");
	SYM(close, "chdb_close_conn");
	SYM(query, "chdb_query_n");
	SYM(destroy, "chdb_destroy_query_result");
	SYM(buffer, "chdb_result_buffer");
	SYM(length, "chdb_result_length");
	SYM(error, "chdb_result_error");
#undef SYM
	// Optional (newer releases): keep the Go runtime's signal handlers.
	lib->signals = (signals_fn)dlsym(lib->handle, "chdb_set_signal_handlers_enabled");
	return 0;
}

static chdb_connection *chdb_do_connect(chdb_lib *lib, int argc, char **argv) {
	if (lib->signals) lib->signals(0);
	return lib->connect(argc, argv);
}

static void chdb_do_close(chdb_lib *lib, chdb_connection *conn) { lib->close(conn); }

// chdb_do_query runs one query; the result (output or error) is copied by
// the caller before chdb_do_destroy frees it.
static chdb_result *chdb_do_query(chdb_lib *lib, chdb_connection *conn, const char *q, size_t qlen, const char *f, size_t flen) {
	return lib->query(*conn, q, qlen, f, flen);
}
static char *chdb_do_buffer(chdb_lib *lib, chdb_result *r) { return lib->buffer(r); }
static size_t chdb_do_length(chdb_lib *lib, chdb_result *r) { return lib->length(r); }
static const char *chdb_do_error(chdb_lib *lib, chdb_result *r) { return lib->error(r); }
static void chdb_do_destroy(chdb_lib *lib, chdb_result *r) { lib->destroy(r); }
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"
)

// EnvLib names the setting that gives the path of libchdb.so (`make deps`
// fetches it into .run/chdb/; the Makefile exports the setting).
const EnvLib = "BNDMR_CHDB_LIB"

// LibFromEnv returns the library path of EnvLib, or an error saying how to
// get it when the setting is empty or the file is missing.
func LibFromEnv() (string, error) {
	p := os.Getenv(EnvLib)
	if p == "" {
		return "", fmt.Errorf("%s is not set: run the tests through `make test` (or `make deps` and export %s=$PWD/.run/chdb/libchdb.so)", EnvLib, EnvLib)
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("chDB library %s (%s): %w; `make deps` fetches it", p, EnvLib, err)
	}
	return p, nil
}

// Engine is one chDB connection. The engine keeps one data path per process:
// open one Engine per process and share it (its methods are safe for
// concurrent use; queries run one at a time).
type Engine struct {
	mu   sync.Mutex
	lib  C.chdb_lib
	conn *C.chdb_connection
}

// Open loads the library at libPath and connects with args, the options of
// clickhouse-local (e.g. "--path=/tmp/x" for the data folder, or a
// query-level setting "--session_timezone=UTC").
func Open(libPath string, args ...string) (*Engine, error) {
	e := &Engine{}
	cpath := C.CString(libPath)
	defer C.free(unsafe.Pointer(cpath))
	var cerr *C.char
	if C.chdb_load(cpath, &e.lib, &cerr) != 0 {
		return nil, fmt.Errorf("loading chDB from %s: %s", libPath, C.GoString(cerr))
	}
	argv := append([]string{"clickhouse"}, args...)
	cargs := make([]*C.char, len(argv))
	for i, a := range argv {
		cargs[i] = C.CString(a)
	}
	defer func() {
		for _, c := range cargs {
			C.free(unsafe.Pointer(c))
		}
	}()
	// The argv array itself must live in C memory: cgo forbids passing Go
	// memory that holds Go pointers, and these are C pointers in a Go slice.
	carr := (**C.char)(C.malloc(C.size_t(len(cargs)) * C.size_t(unsafe.Sizeof(uintptr(0)))))
	defer C.free(unsafe.Pointer(carr))
	copy(unsafe.Slice(carr, len(cargs)), cargs)
	e.conn = C.chdb_do_connect(&e.lib, C.int(len(cargs)), carr)
	if e.conn == nil {
		return nil, fmt.Errorf("connecting to chDB (%s, args %q): the engine refused to start", libPath, args)
	}
	return e, nil
}

// ErrClosed is returned by queries on a closed Engine.
var ErrClosed = errors.New("chDB engine closed")

// Query runs one statement and returns its output in format (TabSeparated,
// JSONEachRow…; "" for statements with no output). The engine cannot be
// interrupted: ctx is checked before the statement starts only.
func (e *Engine) Query(ctx context.Context, sql, format string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if format == "" {
		format = "TabSeparated"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn == nil {
		return nil, ErrClosed
	}
	cq := C.CString(sql)
	defer C.free(unsafe.Pointer(cq))
	cf := C.CString(format)
	defer C.free(unsafe.Pointer(cf))
	r := C.chdb_do_query(&e.lib, e.conn, cq, C.size_t(len(sql)), cf, C.size_t(len(format)))
	if r == nil {
		return nil, fmt.Errorf("chDB returned no result for %q", abbrev(sql))
	}
	defer C.chdb_do_destroy(&e.lib, r)
	if msg := C.chdb_do_error(&e.lib, r); msg != nil {
		return nil, fmt.Errorf("chDB: %s", C.GoString(msg))
	}
	n := C.chdb_do_length(&e.lib, r)
	if n == 0 {
		return nil, nil
	}
	return C.GoBytes(unsafe.Pointer(C.chdb_do_buffer(&e.lib, r)), C.int(n)), nil
}

// Exec runs a statement whose output is not needed (DDL, INSERT … FORMAT
// with its data inline).
func (e *Engine) Exec(ctx context.Context, sql string) error {
	_, err := e.Query(ctx, sql, "")
	return err
}

// Close closes the connection; the engine shuts down with its last
// connection and cannot be started again in the same process.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn != nil {
		C.chdb_do_close(&e.lib, e.conn)
		e.conn = nil
	}
	return nil
}

func abbrev(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
