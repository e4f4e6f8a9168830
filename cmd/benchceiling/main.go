// Command benchceiling is a benchmark tool, not part of the service: the
// smallest gin server that does what a request of the service must do, so
// that the load benchmark (cmd/loadbench) can measure this machine's ceiling
// for the service in the same run.
//
//	POST /evalsha               decodes a {"id", "UUID"} body and makes one
//	                            rueidis EVALSHA round trip on a key of the
//	                            seat's event
//	POST /evalsha/:event/hold   decodes a cart body ({"UUID", "ids"} or
//	                            {"UUID", "bestAvailable"}), makes one EVALSHA
//	                            round trip on a key of the event, and answers
//	                            the seats as a hold of the service does
//	GET  /evalsha/:event/summary makes one EVALSHA round trip on a key of the
//	                            event and answers four counts, as the
//	                            service's summary does
//	POST /writes                decodes a {"id", "UUID"} body and makes one
//	                            EVALSHA round trip of a script that makes a
//	                            hold's writes alone (see writesScript)
//	POST /writes/:event/hold    the same for a cart body's ids
//	POST /decode                decodes the body and makes no Redis call
//	GET  /get/:id               answers a small JSON object, no body, no Redis call
//
// Each answers with gin's own encoder. There is no logging and no
// middleware.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/rueidis"
)

// script is one Redis command on one key, so the cluster client routes it
// like a seat script of the event.
var script = rueidis.NewLuaScript("return redis.call('EXISTS', KEYS[1])")

// writesScript makes the writes of a hold of seats ARGV[2:] by ARGV[1]
// in the service's layout (docs/redis-layout.md), each one Redis call as
// in the service's scripts, with none of their reads or rules: the clock,
// the seats' bytes and expiries, their holder and the buyer's cart, the
// expiry queue and the stream's record. The seats are consecutive (the
// benchmark's carts are), so each string takes one SETRANGE. No hold that
// keeps that layout and makes one hold a run costs Redis less, so the
// load benchmark reports its rate as a bound of the service's hold beside
// the ceiling.
var writesScript = rueidis.NewLuaScript(`
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local e = string.format('%d', now + 60000)
local first, n = tonumber(ARGV[2]), #ARGV - 1
redis.call('SETRANGE', KEYS[1], first - 1, string.rep('H', n))
redis.call('SETRANGE', KEYS[2], 8 * (first - 1), string.rep(struct.pack('>I8', now + 60000), n))
local fields, queue, cart, rec = {}, {}, {string.format('%d', now), e, e}, {}
for i = 2, #ARGV do
  fields[#fields + 1], fields[#fields + 2] = ARGV[i], ARGV[1]
  queue[#queue + 1], queue[#queue + 2] = e, ARGV[i]
  cart[#cart + 1], cart[#cart + 2] = ARGV[i], e
  rec[#rec + 1], rec[#rec + 2] = ARGV[i], e
end
fields[#fields + 1], fields[#fields + 2] = 'c:' .. ARGV[1], table.concat(cart, ' ')
redis.call('HSET', KEYS[3], unpack(fields))
redis.call('ZADD', KEYS[4], unpack(queue))
redis.call('XADD', KEYS[5], 'MAXLEN', '~', '100000', '*', 'o', '1', 't', string.format('%d', now), 'u', ARGV[1], 's', table.concat(rec, ' '))
return 0
`)

type seatRequest struct {
	ID   string `json:"id"`
	UUID string `json:"UUID"`
}

// cartRequest is the body of the service's POST /events/{id}/hold.
type cartRequest struct {
	UUID          string   `json:"UUID"`
	IDs           []string `json:"ids"`
	BestAvailable *struct {
		Count    int  `json:"count"`
		Adjacent bool `json:"adjacent"`
	} `json:"bestAvailable"`
}

// seat and cartAnswer have the shape of the service's answer to a hold.
type seat struct {
	ID            string `json:"id"`
	EventID       string `json:"eventId"`
	UUID          string `json:"UUID"`
	Status        string `json:"status"`
	HoldExpiresAt string `json:"holdExpiresAt"`
}

type cartAnswer struct {
	Message string `json:"message"`
	Seats   []seat `json:"seats"`
}

type summary struct {
	Total     int `json:"total"`
	Available int `json:"available"`
	OnHold    int `json:"onHold"`
	Reserved  int `json:"reserved"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "address to listen on")
	redisAddrs := flag.String("redis", "", "comma-separated Redis addresses (standalone or cluster nodes)")
	flag.Parse()
	if err := run(*addr, strings.Split(*redisAddrs, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "benchceiling:", err)
		os.Exit(1)
	}
}

func run(addr string, redisAddrs []string) error {
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: redisAddrs, DisableCache: true})
	if err != nil {
		return err
	}
	defer client.Close()
	// evalsha makes the one round trip of a request, on a key of event.
	evalsha := func(c *gin.Context, event string, args ...string) bool {
		ctx, cancel := context.WithTimeout(c.Request.Context(), time.Second)
		defer cancel()
		if err := script.Exec(ctx, client, []string{"ceiling:{" + event + "}"}, args).Error(); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
			return false
		}
		return true
	}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// seatHold decodes a seat body and, once run made its round trip for
	// the seat id of event, answers it back.
	seatHold := func(run func(c *gin.Context, event, user, id string) bool) gin.HandlerFunc {
		return func(c *gin.Context) {
			var req seatRequest
			if err := c.ShouldBindJSON(&req); err != nil {
				c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
				return
			}
			event, _, _ := strings.Cut(req.ID, ".")
			if run(c, event, req.UUID, req.ID) {
				c.JSON(http.StatusOK, req)
			}
		}
	}
	r.POST("/evalsha", seatHold(func(c *gin.Context, event, user, _ string) bool { return evalsha(c, event, user) }))
	// cartHold answers a cart body as the service's hold does, after run
	// made its round trip for the seats.
	cartHold := func(run func(c *gin.Context, event, user string, ids []string) bool) gin.HandlerFunc {
		return func(c *gin.Context) {
			var req cartRequest
			if err := c.ShouldBindJSON(&req); err != nil {
				c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
				return
			}
			event := c.Param("event")
			ids := req.IDs
			if req.BestAvailable != nil {
				// The ceiling picks no seats: the first ones will do.
				for n := 1; n <= req.BestAvailable.Count; n++ {
					ids = append(ids, event+"."+strconv.Itoa(n))
				}
			}
			if !run(c, event, req.UUID, ids) {
				return
			}
			expires := time.Now().Add(time.Minute).UTC().Format("2006-01-02T15:04:05.000Z")
			answer := cartAnswer{Message: "Seats held", Seats: make([]seat, len(ids))}
			for i, id := range ids {
				answer.Seats[i] = seat{ID: id, EventID: event, UUID: req.UUID, Status: "On hold", HoldExpiresAt: expires}
			}
			c.JSON(http.StatusOK, answer)
		}
	}
	r.POST("/evalsha/:event/hold", cartHold(func(c *gin.Context, event, user string, ids []string) bool {
		return evalsha(c, event, append([]string{user}, ids...)...)
	}))
	r.GET("/evalsha/:event/summary", func(c *gin.Context) {
		if evalsha(c, c.Param("event")) {
			c.JSON(http.StatusOK, summary{Total: 10000, Available: 5000, OnHold: 5000})
		}
	})
	// writes makes a hold's writes of ids (seat ids of event) by user.
	writes := func(c *gin.Context, event, user string, ids []string) bool {
		args := []string{user}
		for _, id := range ids {
			_, n, _ := strings.Cut(id, ".")
			args = append(args, n)
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), time.Second)
		defer cancel()
		prefix := "ceiling:{" + event + "}:"
		keys := []string{prefix + "seats", prefix + "exp", prefix + "holds", prefix + "expq", prefix + "changes"}
		if err := writesScript.Exec(ctx, client, keys, args).Error(); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
			return false
		}
		return true
	}
	r.POST("/writes", seatHold(func(c *gin.Context, event, user, id string) bool { return writes(c, event, user, []string{id}) }))
	r.POST("/writes/:event/hold", cartHold(writes))
	r.POST("/decode", func(c *gin.Context) {
		var req seatRequest
		if err := c.ShouldBindJSON(&req); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, req)
	})
	r.GET("/get/:id", func(c *gin.Context) {
		c.JSON(http.StatusOK, seatRequest{ID: c.Param("id")})
	})

	// The benchmark ends it with a signal: nothing to drain.
	srv := &http.Server{Addr: addr, Handler: r, ReadHeaderTimeout: 5 * time.Second}
	return srv.ListenAndServe()
}
