package main

import (
	"bufio"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seatres/reservation/domain"
)

// sseChange is a change as the stream writes it, of seat n.
func sseChange(pos, at string, n string) string {
	return `{"position":"` + pos + `","op":"hold","at":"` + at + `","seat":` + n +
		`,"UUID":"u \"{\"position\":\"","status":"On hold","holdExpiresAt":"2026-12-02T10:01:00.000Z"}`
}

func sseMessage(id string, changes ...string) string {
	return "id: " + id + "\nevent: changes\ndata: {\"changes\":[" + strings.Join(changes, ",") + "]}\n\n"
}

const sseHead = "retry: 2000\n\nid: 1764669600000-0\nevent: snapshot\ndata: {\"position\":\"1764669600000-0\",\"event\":{},\"available\":[[1,10000]]}\n\n"

// readSSE reads stream through a buffer of size bytes, at a fixed clock.
func readSSE(stream string, size int) (*subscriber, error) {
	s := &subscriber{}
	clock := func() time.Time { return time.Date(2026, 12, 2, 10, 0, 0, 250e6, time.UTC) }
	err := s.read(bufio.NewReaderSize(strings.NewReader(stream), size), clock)
	return s, err
}

// A stream read through any buffer, however it cuts the lines: its
// snapshot, every change once in order with its bytes, its lags.
func TestSubscriberReads(t *testing.T) {
	t.Parallel()
	changes := []string{
		sseChange("1764669600100-0", "2026-12-02T10:00:00.100Z", "1"),
		sseChange("1764669600100-1", "2026-12-02T10:00:00.100Z", "2"),
		sseChange("1764669600100-1", "2026-12-02T10:00:00.100Z", "3"), // the same record
		sseChange("1764669600200-0", "2026-12-02T10:00:00.200Z", "4"),
	}
	stream := sseHead + sseMessage("1764669600100-1", changes[:3]...) + ": heartbeat\n\n" + sseMessage("1764669600200-0", changes[3])
	var want uint64
	for _, c := range changes {
		want = mixHash(want, hashChange([]byte(c)))
	}
	for _, size := range []int{16, 17, 100, 4096} {
		s, err := readSSE(stream, size)
		if !errors.Is(err, io.EOF) {
			t.Fatalf("buffer %d: read ended with %v", size, err)
		}
		if s.snapshot != (domain.Position{Ms: 1764669600000}) || s.seen.last != (domain.Position{Ms: 1764669600200}) {
			t.Errorf("buffer %d: snapshot %s, last %s", size, s.snapshot, s.seen.last)
		}
		if s.changes != 4 || s.messages != 2 || s.seen.sum != want || s.bytes != int64(len(stream)) {
			t.Errorf("buffer %d: %d changes in %d messages, sum %x (want %x), %d bytes", size, s.changes, s.messages, s.seen.sum, want, s.bytes)
		}
		// Lags of 150, 150, 150 and 50 ms.
		if s.lags.n != 4 || s.lags.percentile(0.5) != 150 || s.lags.max != 150e3 || s.lags.percentile(0) != 51 {
			t.Errorf("buffer %d: lags p50 %v, p0 %v, max %d µs", size, s.lags.percentile(0.5), s.lags.percentile(0), s.lags.max)
		}
	}
}

// A connection that ends within a message leaves it out: the next one,
// after the last message read to its end, has its changes again, and they
// count once.
func TestSubscriberResumes(t *testing.T) {
	t.Parallel()
	a := sseChange("1764669600100-0", "2026-12-02T10:00:00.100Z", "1")
	b := sseChange("1764669600200-0", "2026-12-02T10:00:00.200Z", "2")
	c := sseChange("1764669600200-0", "2026-12-02T10:00:00.200Z", "3")
	first := sseHead + sseMessage("1764669600100-0", a) + sseMessage("1764669600200-0", b, c)
	for _, cut := range []int{len(first) - 1, len(first) - 3, len(first) - len(c) - 10, strings.LastIndex(first, "id: ") + 2} {
		s, err := readSSE(first[:cut], 16)
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("cut at %d: read ended with %v", cut, err)
		}
		if got := s.resumeAt(); got != "1764669600100-0" {
			t.Errorf("cut at %d: resumes at %s", cut, got)
		}
		s.connected()
		clock := func() time.Time { return time.Date(2026, 12, 2, 10, 0, 0, 250e6, time.UTC) }
		err = s.read(bufio.NewReaderSize(strings.NewReader("retry: 2000\n\n"+sseMessage("1764669600200-0", b, c)), 16), clock)
		want := mixHash(mixHash(mixHash(0, hashChange([]byte(a))), hashChange([]byte(b))), hashChange([]byte(c)))
		if !errors.Is(err, io.EOF) || s.changes != 3 || s.messages != 2 || s.seen.sum != want || s.lags.n != 3 || s.resumeAt() != "1764669600200-0" {
			t.Errorf("cut at %d: resumed to %v: %d changes in %d messages, %d lags, at %s", cut, err, s.changes, s.messages, s.lags.n, s.resumeAt())
		}
	}
}

// What a subscriber refuses: each is a problem of the stream, not its end.
func TestSubscriberRefuses(t *testing.T) {
	t.Parallel()
	a := sseChange("1764669600100-0", "2026-12-02T10:00:00.100Z", "1")
	b := sseChange("1764669600100-0", "2026-12-02T10:00:00.100Z", "2")
	old := sseChange("1764669599000-0", "2026-12-02T09:59:59.000Z", "3")
	for name, stream := range map[string]string{
		"before the snapshot":  sseHead + sseMessage("1764669599000-0", old),
		"back":                 sseHead + sseMessage("1764669600100-0", a) + sseMessage("1764669599000-0", old),
		"a record split":       sseHead + sseMessage("1764669600100-0", a) + sseMessage("1764669600100-0", b),
		"an id not the last":   sseHead + sseMessage("1764669600200-0", a),
		"a second snapshot":    sseHead + sseHead,
		"gone":                 sseHead + "event: gone\ndata: {\"error\":\"event not found\",\"code\":\"EVENT_NOT_FOUND\"}\n\n",
		"no changes":           sseHead + "id: 1-0\nevent: changes\ndata: {\"changes\":[]}\n\n",
		"a bad time":           sseHead + sseMessage("1764669600100-0", strings.Replace(a, "10:00:00.100Z", "10:00:0x.100Z", 1)),
		"a bad position":       sseHead + sseMessage("1764669600100-x", strings.Replace(a, "100-0", "100-x", 1)),
		"a truncated changes":  sseHead + "id: 1764669600100-0\nevent: changes\ndata: {\"changes\":[" + a + "\n\n",
		"data of another kind": sseHead + "event: other\n\n",
	} {
		if _, err := readSSE(stream, 64); !errors.Is(err, errStreamProblem) {
			t.Errorf("%s: read ended with %v", name, err)
		}
	}
}

func TestLagHistogram(t *testing.T) {
	t.Parallel()
	var h lagHistogram
	for _, ms := range []int64{0, 1, 2, 999, 1500, 25_000, 200_000} {
		h.add(ms * 1000)
	}
	var o lagHistogram
	o.add(-5) // a store time a little ahead of the arrival: no lag
	h.merge(&o)
	if h.n != 8 || h.max != 200_000e3 {
		t.Fatalf("n %d, max %d", h.n, h.max)
	}
	for _, tt := range []struct{ q, want float64 }{{0, 1}, {0.3, 2}, {0.5, 1000}, {0.7, 1510}, {0.8, 25_100}, {1, 100_000}} {
		if got := h.percentile(tt.q); got != tt.want {
			t.Errorf("percentile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := (&lagHistogram{}).percentile(0.99); got != 0 {
		t.Errorf("percentile of none = %v", got)
	}
}

// The subscriber's cost per change, which loadbench pays for every
// subscriber on the CPUs it shares with the service.
func BenchmarkSubscriberRead(b *testing.B) {
	var stream strings.Builder
	stream.WriteString(sseHead)
	const perMessage = 600
	ms := int64(1764669600100)
	for range 20 {
		changes := make([]string, perMessage)
		for i := range changes {
			ms++
			at := time.UnixMilli(ms).UTC().Format(atLayout)
			changes[i] = sseChange(strconv.FormatInt(ms, 10)+"-0", at, strconv.Itoa(i+1))
		}
		stream.WriteString(sseMessage(strconv.FormatInt(ms, 10)+"-0", changes...))
	}
	text := stream.String()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		s := &subscriber{}
		if err := s.read(bufio.NewReaderSize(strings.NewReader(text), streamReadBuffer), time.Now); !errors.Is(err, io.EOF) {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*20*perMessage), "ns/change")
}
