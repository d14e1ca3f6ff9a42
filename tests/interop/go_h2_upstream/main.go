// go_h2_upstream is a real HTTP/2 upstream for tether's interop tests: Go's net/http with golang.org/x/net/http2.
// It serves HTTP/1.1 and h2c (prior knowledge) on one cleartext port, or h2 over TLS (ALPN h2) with -cert/-key.
//
// Everything the tests wait for is a line on stdout, one per event, so a test waits on events, never on time:
//
//	listening <port>
//	accepted <remote>                        a connection from tether (<remote> = tether's address, per connection)
//	eof <remote>                             tether closed it (or reset it)
//	request <path> <remote> <proto> <id> <ms>     a handler started (<id>: its X-Request-Id, as tether forwards it;
//	                                              <ms>: the Unix time in milliseconds)
//	cancelled <path> <remote> <proto> <id> <ms>   the request's context fired before the handler finished
//	completed <path> <remote> <proto> <id> <ms>   the handler wrote its whole response
//	frame HEADERS <remote> <stream> <path>   frames tether sent on an HTTP/2 connection, read by a tap on the raw
//	frame RST_STREAM <remote> <stream> <path> <code>   bytes (Go's handlers never see a stream's reset code)
//	frame GOAWAY <remote> <code>
//
// Handlers: /fast answers "fast <path>\n"; /slow... blocks until the request's context fires (a reset stream, a
// closed connection) and answers nothing; /body/N answers N bytes, byte i = 'a' + i % 26.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"golang.org/x/net/http2/hpack"
)

// One line per event; a mutex keeps lines whole when handlers and taps print at once.
var outMu sync.Mutex

func emit(format string, args ...interface{}) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

func proto(r *http.Request) string {
	if r.ProtoMajor == 2 {
		if r.TLS != nil {
			return "h2"
		}
		return "h2c"
	}
	return "http/1.1"
}

// A handler's event line: what tests match against tether's log (request_id is the X-Request-Id it forwards, ts
// the time, compared with the Unix milliseconds here).
func handlerEvent(event string, r *http.Request) {
	id := r.Header.Get("X-Request-Id")
	if id == "" {
		id = "-"
	}
	emit("%s %s %s %s %s %d", event, r.URL.RequestURI(), r.RemoteAddr, proto(r), id, time.Now().UnixMilli())
}

func handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) {
		handlerEvent("request", r)
		body := "fast " + r.URL.RequestURI() + "\n"
		w.Header().Set("content-length", strconv.Itoa(len(body)))
		io.WriteString(w, body)
		handlerEvent("completed", r)
	})
	// Blocks until the request's context fires: Go cancels it on RST_STREAM (HTTP/2) or a closed connection
	// (HTTP/1.1, through net/http's background read).
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		handlerEvent("request", r)
		<-r.Context().Done()
		handlerEvent("cancelled", r)
	})
	mux.HandleFunc("/body/", func(w http.ResponseWriter, r *http.Request) {
		handlerEvent("request", r)
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/body/"))
		if err != nil || n < 0 {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		body := make([]byte, n)
		for i := range body {
			body[i] = byte('a' + i%26)
		}
		w.Header().Set("content-length", strconv.Itoa(n))
		w.Write(body)
		handlerEvent("completed", r)
	})
	return mux
}

// tapConn copies every byte tether sends into a frame reader (HTTP/2 connections only) and reports the close.
type tapConn struct {
	net.Conn
	tap     *io.PipeWriter
	eofOnce sync.Once
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.tap.Write(p[:n])
	}
	// A timeout is not the end: net/http aborts its background read with a past read deadline when h2c takes the
	// connection over, and reads on afterwards.
	if ne, ok := err.(net.Error); err != nil && !(ok && ne.Timeout()) {
		c.eofOnce.Do(func() {
			emit("eof %s", c.RemoteAddr())
			c.tap.Close()
		})
	}
	return n, err
}

// ConnectionState lets http2.Server see the TLS state through the tap (r.TLS, the h2 protocol name).
func (c *tapConn) ConnectionState() tls.ConnectionState {
	if tc, ok := c.Conn.(*tls.Conn); ok {
		return tc.ConnectionState()
	}
	return tls.ConnectionState{}
}

func newTap(c net.Conn) *tapConn {
	pr, pw := io.Pipe()
	remote := c.RemoteAddr().String()
	emit("accepted %s", remote)
	go readFrames(pr, remote)
	return &tapConn{Conn: c, tap: pw}
}

// readFrames logs the HTTP/2 frames of one connection; for anything else (HTTP/1.1) it only drains the copy.
func readFrames(r *io.PipeReader, remote string) {
	defer io.Copy(io.Discard, r)
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(r, preface); err != nil || string(preface) != http2.ClientPreface {
		return
	}
	framer := http2.NewFramer(nil, r)
	framer.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	paths := map[uint32]string{}
	for {
		f, err := framer.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			paths[f.StreamID] = f.PseudoValue("path")
			emit("frame HEADERS %s %d %s", remote, f.StreamID, paths[f.StreamID])
		case *http2.RSTStreamFrame:
			emit("frame RST_STREAM %s %d %s %s", remote, f.StreamID, paths[f.StreamID], f.ErrCode)
		case *http2.GoAwayFrame:
			emit("frame GOAWAY %s %s", remote, f.ErrCode)
		}
	}
}

type tapListener struct{ net.Listener }

func (l tapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newTap(c), nil
}

// serveTLS: h2 only (ALPN h2); the tap sits on the decrypted bytes.
func serveTLS(ln net.Listener, cert tls.Certificate, h http.Handler) {
	config := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}}
	server := &http2.Server{}
	base := &http.Server{Handler: h}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			tc := tls.Server(c, config)
			if err := tc.Handshake(); err != nil || tc.ConnectionState().NegotiatedProtocol != "h2" {
				c.Close()
				return
			}
			server.ServeConn(newTap(tc), &http2.ServeConnOpts{Handler: h, BaseConfig: base})
		}()
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	certFile := flag.String("cert", "", "server certificate (with -key: h2 over TLS)")
	keyFile := flag.String("key", "", "server key")
	flag.Parse()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	emit("listening %d", ln.Addr().(*net.TCPAddr).Port)
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			log.Fatal(err)
		}
		serveTLS(ln, cert, handler())
		return
	}
	// HTTP/1.1 and h2c (prior knowledge, or Upgrade) on the same port.
	server := &http.Server{Handler: h2c.NewHandler(handler(), &http2.Server{})}
	log.Fatal(server.Serve(tapListener{ln}))
}
