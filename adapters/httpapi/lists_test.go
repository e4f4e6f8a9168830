package httpapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/adapters/metrics"
	"github.com/seatres/reservation/api"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/storetest"
	"github.com/seatres/reservation/domain"
)

// gunzipped is the body of an answer, decompressed when its
// Content-Encoding is gzip, so that the contract checks the JSON.
func gunzipped(t *testing.T, rec *httptest.ResponseRecorder) []byte {
	t.Helper()
	if rec.Header().Get("Content-Encoding") != "gzip" {
		return rec.Body.Bytes()
	}
	zr, err := gzip.NewReader(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatalf("Content-Encoding gzip, but the body is no gzip: %v", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gzip body: %v", err)
	}
	return b
}

// getWith sends GET target with an Accept-Encoding field of each of
// encodings (none: no field).
func (a *testAPI) getWith(target string, encodings ...string) *httptest.ResponseRecorder {
	a.t.Helper()
	req := a.request(http.MethodGet, target, "", "")
	for _, e := range encodings {
		req.Header.Add("Accept-Encoding", e)
	}
	return a.serve(req, "")
}

// TestListGzip: the list is gzipped when Accept-Encoding accepts gzip, by
// its q-values, and plain otherwise, the same JSON either way; every
// answer of the list, an error too, says Vary: Accept-Encoding.
func TestListGzip(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createEvent(100)
	path := "/seats/list/" + e.ID
	plain := a.get(path)
	if plain.Code != http.StatusOK || plain.Header().Get("Content-Encoding") != "" {
		t.Fatalf("a list without Accept-Encoding: %d, Content-Encoding %q", plain.Code, plain.Header().Get("Content-Encoding"))
	}
	tests := []struct {
		encodings []string
		gzip      bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"gzip"}, true},
		{[]string{"gzip, deflate, br"}, true},
		{[]string{"br;q=1.0, GZIP;Q=0.5"}, true},
		{[]string{"x-gzip"}, true},
		{[]string{"*"}, true},
		{[]string{"br", "gzip"}, true}, // two fields are one list
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip;q=0.000"}, false},
		{[]string{"*;q=0"}, false},
		{[]string{"gzip;q=0, *"}, false},
		{[]string{"gzip;q=0.5, identity"}, false}, // identity preferred
		{[]string{"gzip;q=abc"}, false},
		{[]string{"gzip;q=2"}, false},
		{[]string{"deflate, br"}, false},
		{[]string{"gzipx"}, false},
	}
	for _, tt := range tests {
		r := a.getWith(path, tt.encodings...)
		if got := r.Header().Get("Content-Encoding") == "gzip"; r.Code != http.StatusOK || got != tt.gzip {
			t.Errorf("Accept-Encoding %q: %d, gzipped %v, want 200, %v", tt.encodings, r.Code, got, tt.gzip)
		}
		if !bytes.Equal(gunzipped(t, r), plain.Body.Bytes()) {
			t.Errorf("Accept-Encoding %q: the body differs from the plain list", tt.encodings)
		}
		if got := r.Header().Get("Vary"); got != "Accept-Encoding" {
			t.Errorf("Accept-Encoding %q: Vary %q", tt.encodings, got)
		}
		if got, want := r.Header().Get("Content-Length"), fmt.Sprint(r.Body.Len()); got != want {
			t.Errorf("Accept-Encoding %q: Content-Length %s, body of %s bytes", tt.encodings, got, want)
		}
	}
	if got := a.get("/seats/list/" + e.ID + "x").Header().Get("Vary"); got != "Accept-Encoding" {
		t.Errorf("an error of the list: Vary %q", got)
	}
}

// TestGzippedListIsSmall: the list of a 10,000-seat event with no holds,
// 1.3 MB, gzips to under 64 KB.
func TestGzippedListIsSmall(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createEvent(domain.MaxTotalSeats)
	r := a.getWith("/seats/list/"+e.ID, "gzip")
	if r.Body.Len() >= 64<<10 {
		t.Errorf("the gzipped list is %d bytes, want under 64 KiB", r.Body.Len())
	}
	t.Logf("the list of %d available seats: %d bytes, %d gzipped", e.TotalSeats, len(gunzipped(t, r)), r.Body.Len())
}

// TestConstantAnswersGzip: the document and the docs page's script are
// gzipped when accepted, compressed once, with an ETag of their own that
// revalidates.
func TestConstantAnswersGzip(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	_, script := docsAssets()
	for path, want := range map[string][]byte{"/openapi.yaml": api.OpenAPI, docsScriptPath: redocScript} {
		plain, zipped := a.get(path), a.getWith(path, "gzip")
		if plain.Code != http.StatusOK || plain.Header().Get("Content-Encoding") != "" || !bytes.Equal(plain.Body.Bytes(), want) {
			t.Errorf("%s plain: %d, Content-Encoding %q, %d bytes", path, plain.Code, plain.Header().Get("Content-Encoding"), plain.Body.Len())
		}
		if zipped.Code != http.StatusOK || zipped.Header().Get("Content-Encoding") != "gzip" || !bytes.Equal(gunzipped(t, zipped), want) ||
			zipped.Body.Len() >= len(want)/2 {
			t.Errorf("%s gzipped: %d, Content-Encoding %q, %d bytes for %d", path, zipped.Code, zipped.Header().Get("Content-Encoding"), zipped.Body.Len(), len(want))
		}
		for _, r := range []*httptest.ResponseRecorder{plain, zipped} {
			if r.Header().Get("Vary") != "Accept-Encoding" {
				t.Errorf("%s: Vary %q", path, r.Header().Get("Vary"))
			}
		}
		tag := zipped.Header().Get("ETag")
		if tag == "" || tag == plain.Header().Get("ETag") {
			t.Errorf("%s: ETag %q gzipped, %q plain: want two", path, tag, plain.Header().Get("ETag"))
		}
		req := a.request(http.MethodGet, path, "", "")
		req.Header.Set("Accept-Encoding", "gzip")
		req.Header.Set("If-None-Match", tag)
		if r := a.serve(req, ""); r.Code != http.StatusNotModified {
			t.Errorf("%s gzipped, If-None-Match its ETag: %d, want 304", path, r.Code)
		}
	}
	if first, again := script.gzipped(), script.gzipped(); &first[0] != &again[0] {
		t.Error("the script is compressed again for each request")
	}
}

// gatedStore is the memory store whose lists are counted and wait: each
// waits until open is closed, or its context ends as a real store's call
// would, then fails with fail, or lists.
type gatedStore struct {
	application.Store
	reads atomic.Int64
	open  chan struct{}
	fail  error
}

func (s *gatedStore) AvailableSeats(ctx context.Context, id domain.EventID) (domain.Event, []int, domain.Version, error) {
	s.reads.Add(1)
	select {
	case <-s.open:
	case <-ctx.Done():
		return domain.Event{}, nil, domain.Version{}, ctx.Err()
	}
	if s.fail != nil {
		return domain.Event{}, nil, domain.Version{}, s.fail
	}
	return s.Store.AvailableSeats(ctx, id)
}

// newGatedAPI is the router over a gatedStore, with an event of 100 seats.
func newGatedAPI(t *testing.T, opts ...Option) (*testAPI, *gatedStore, eventJSON) {
	c := storetest.NewClock(time.Date(2026, 3, 1, 18, 0, 0, 0, time.UTC))
	store := &gatedStore{Store: memstore.New(c.Now), open: make(chan struct{})}
	uc := application.NewService(store, defaultPolicy)
	a := &testAPI{t: t, router: NewRouter(uc, zaptest.NewLogger(t), metrics.New(), opts...), clock: c}
	return a, store, a.createEvent(100)
}

// listConcurrently starts n lists of e, each with the context of ctxs[i]
// if given; wait waits for their answers.
func (a *testAPI) listConcurrently(e eventJSON, n int, encoding string, ctxs ...context.Context) (wait func() []*httptest.ResponseRecorder) {
	answers := make([]*httptest.ResponseRecorder, n)
	var wg sync.WaitGroup
	for i := range n {
		req := a.request(http.MethodGet, "/seats/list/"+e.ID, "", "")
		if encoding != "" {
			req.Header.Set("Accept-Encoding", encoding)
		}
		if i < len(ctxs) {
			req = req.WithContext(ctxs[i])
		}
		wg.Go(func() { answers[i] = a.serve(req, "") })
	}
	return func() []*httptest.ResponseRecorder {
		wg.Wait()
		return answers
	}
}

// TestConcurrentListsShareOneRead: lists of one event that arrive while
// one is being read share the next read, which begins after they all
// arrived: one store read for them, the same bytes for all, plain or
// gzipped as each asked; a list after them reads again.
func TestConcurrentListsShareOneRead(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a, store, e := newGatedAPI(t)
		plain := a.listConcurrently(e, 5, "")
		zipped := a.listConcurrently(e, 5, "gzip")
		synctest.Wait() // every list has arrived: one is reading, the others wait for the next read
		if n := store.reads.Load(); n != 1 {
			t.Errorf("%d store reads for 10 lists in flight together, want 1 until it ends", n)
		}
		close(store.open)
		answers := append(plain(), zipped()...)
		for i, r := range answers {
			if r.Code != http.StatusOK || (r.Header().Get("Content-Encoding") == "gzip") != (i >= 5) ||
				!bytes.Equal(gunzipped(t, r), answers[0].Body.Bytes()) {
				t.Errorf("list %d: %d, Content-Encoding %q, not the shared listing: %.100s", i, r.Code, r.Header().Get("Content-Encoding"), r.Body)
			}
		}
		// The first read, and one that the nine that came during it
		// shared: a read begun after they arrived.
		if n := store.reads.Load(); n != 2 {
			t.Errorf("%d store reads for 10 lists, want 2", n)
		}
		if list := decode[listJSON](t, a.get("/seats/list/"+e.ID), http.StatusOK); list.Total != 100 || store.reads.Load() != 3 {
			t.Errorf("a list after the shared ones: %d seats, %d store reads in all, want 100 and 3", list.Total, store.reads.Load())
		}
	})
}

// TestSharedListReadFailsAll: a shared read that fails answers every list
// that shared it 503: the first read and the one the five others shared.
func TestSharedListReadFailsAll(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a, store, e := newGatedAPI(t)
		store.fail = fmt.Errorf("%w: connection refused", application.ErrUnavailable)
		wait := a.listConcurrently(e, 6, "gzip")
		synctest.Wait()
		close(store.open)
		for i, r := range wait() {
			wantError(t, r, http.StatusServiceUnavailable, "STORE_UNAVAILABLE")
			if r.Header().Get("Content-Encoding") != "" {
				t.Errorf("list %d: an error with Content-Encoding %q", i, r.Header().Get("Content-Encoding"))
			}
		}
		if n := store.reads.Load(); n != 2 {
			t.Errorf("%d store reads, want 2", n)
		}
	})
}

// TestCancelledListerLeavesTheReadToOthers: the clients whose lists
// started the shared reads go away (the first list's read, and the next
// one, which the second list leads and three more share); the reads go
// on, and the lists that shared them get the listing.
func TestCancelledListerLeavesTheReadToOthers(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a, store, e := newGatedAPI(t)
		ctx1, cancel1 := context.WithCancel(context.Background())
		ctx2, cancel2 := context.WithCancel(context.Background())
		first := a.listConcurrently(e, 1, "", ctx1)
		synctest.Wait() // the first list is reading
		second := a.listConcurrently(e, 1, "", ctx2)
		synctest.Wait() // the second waits for the next read, whose reader it gives
		others := a.listConcurrently(e, 3, "")
		synctest.Wait() // the others wait for that read too
		cancel1()
		cancel2()
		synctest.Wait() // reads bound to those requests would end now
		close(store.open)
		first()
		second()
		for i, r := range others() {
			if list := decode[listJSON](t, r, http.StatusOK); list.Total != 100 {
				t.Errorf("list %d: %d seats, want 100", i, list.Total)
			}
		}
		if n := store.reads.Load(); n != 2 {
			t.Errorf("%d store reads, want 2", n)
		}
	})
}

// TestListsPastTheCapAreShed: with the cap's lists in flight, one more is
// answered 503 TOO_MANY_LISTS with Retry-After at once (were it to wait,
// every goroutine of the bubble would be blocked and synctest would fail
// the test), a hold is answered meanwhile, and once they are done a list
// is answered again.
func TestListsPastTheCapAreShed(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const capacity = 3
		a, store, e := newGatedAPI(t, WithMaxLists(capacity))
		wait := a.listConcurrently(e, capacity, "")
		synctest.Wait()
		r := a.get("/seats/list/" + e.ID)
		wantError(t, r, http.StatusServiceUnavailable, "TOO_MANY_LISTS")
		if got := r.Header().Get("Retry-After"); got != "1" {
			t.Errorf("Retry-After %q, want 1", got)
		}
		a.change(holdPath, seatOf(e, 1), "alice")
		close(store.open)
		for _, r := range wait() {
			decode[listJSON](t, r, http.StatusOK)
		}
		if list := decode[listJSON](t, a.get("/seats/list/"+e.ID), http.StatusOK); list.Total != 99 {
			t.Errorf("after the hold, %d seats listed, want 99", list.Total)
		}
	})
}
