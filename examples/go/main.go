// A Go net/http API that takes r.Context() seriously, to run behind tether. Each handler stops its work when the
// request's context fires (tether closed or reset the connection for an HTTP/1.1 upstream, or reset the stream for
// an h2c upstream) and logs one line, with the request id tether forwards in X-Request-Id:
//
//	<ts> listening <port>
//	<ts> request started id=<id> path=<path> proto=<proto>
//	<ts> request cancelled id=<id> path=<path> elapsed_ms=<ms> cause=<ctx.Err()>
//	<ts> request completed id=<id> path=<path> elapsed_ms=<ms>
//	<ts> downstream cancelled id=<id> elapsed_ms=<ms> err=<error>      (the outgoing call of /downstream)
//
// <ts> is UTC with milliseconds, as in tether's log, so the two can be lined up.
//
// Endpoints:
//
//	/slow?ms=N        waits N ms (default 60000) or until the context fires (a database query would take ctx the same way)
//	/cpu?ms=N         a CPU loop that checks ctx.Err() between slices of work
//	/downstream?ms=N  calls <downstream>/slow?ms=N with http.NewRequestWithContext(r.Context(), ...): cancelling the
//	                  request cancels the outgoing call (by default the downstream is this app itself)
//	/fast             answers at once
//
// One port serves HTTP/1.1 and h2c (prior knowledge), through golang.org/x/net/http2/h2c.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

// One line per event; the mutex keeps lines whole when handlers log at once.
var outMu sync.Mutex

func logf(format string, args ...interface{}) {
	outMu.Lock()
	defer outMu.Unlock()
	ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	fmt.Fprintf(os.Stdout, ts+" "+format+"\n", args...)
}

// requestID is what tether put in X-Request-Id (the client's own, or one it generated).
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" {
		return id
	}
	return "-"
}

func proto(r *http.Request) string {
	if r.ProtoMajor == 2 {
		return "h2c"
	}
	return "http/1.1"
}

func durationParam(r *http.Request, fallback time.Duration) time.Duration {
	ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
	if err != nil || ms < 0 {
		return fallback
	}
	return time.Duration(ms) * time.Millisecond
}

// observed wraps a handler with the started/cancelled/completed lines. The handler returns the error that ended it:
// a context error means the client left (through tether), and nothing more is written to the response.
func observed(work func(ctx context.Context, w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, start := requestID(r), time.Now()
		logf("request started id=%s path=%s proto=%s", id, r.URL.Path, proto(r))
		err := work(r.Context(), w, r)
		elapsed := time.Since(start).Milliseconds()
		if err != nil && r.Context().Err() != nil {
			logf("request cancelled id=%s path=%s elapsed_ms=%d cause=%v", id, r.URL.Path, elapsed, r.Context().Err())
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
		}
		logf("request completed id=%s path=%s elapsed_ms=%d", id, r.URL.Path, elapsed)
	}
}

// slow stands for I/O-bound work: anything that takes ctx (db.QueryContext, a gRPC call) returns when it fires.
func slow(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	timer := time.NewTimer(durationParam(r, time.Minute))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		_, err := io.WriteString(w, "slow done\n")
		return err
	}
}

// cpu stands for CPU-bound work: nothing blocks on ctx, so the loop asks ctx.Err() between slices.
func cpu(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	deadline := time.Now().Add(durationParam(r, time.Minute))
	var sum uint64
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return err
		}
		for i := uint64(0); i < 100000; i++ { // one slice: well under a millisecond
			sum += i * i
		}
	}
	_, err := fmt.Fprintf(w, "cpu done %d\n", sum)
	return err
}

// downstream passes the request's context to an outgoing call: when tether cancels the request, the call is
// cancelled too (its connection is closed, so the downstream service sees the cancellation in turn).
func downstream(base string) func(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	return func(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
		id, start := requestID(r), time.Now()
		url := fmt.Sprintf("%s/slow?ms=%d", base, durationParam(r, time.Minute).Milliseconds())
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("X-Request-Id", id+"-downstream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			if errors.Is(err, context.Canceled) || ctx.Err() != nil {
				logf("downstream cancelled id=%s elapsed_ms=%d err=%v", id, time.Since(start).Milliseconds(), err)
			}
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(w, resp.Body)
		return err
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "address to listen on (port 0: a free port, printed)")
	downstreamURL := flag.String("downstream", "", "base URL /downstream calls (default: this app itself)")
	flag.Parse()

	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	port := listener.Addr().(*net.TCPAddr).Port
	base := *downstreamURL
	if base == "" {
		base = fmt.Sprintf("http://127.0.0.1:%d", port)
	}

	mux := http.NewServeMux()
	mux.Handle("/slow", observed(slow))
	mux.Handle("/cpu", observed(cpu))
	mux.Handle("/downstream", observed(downstream(base)))
	mux.Handle("/fast", observed(func(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
		_, err := io.WriteString(w, "fast\n")
		return err
	}))

	logf("listening %d", port)
	server := &http.Server{Handler: h2c.NewHandler(mux, &http2.Server{})}
	if err := server.Serve(listener); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
