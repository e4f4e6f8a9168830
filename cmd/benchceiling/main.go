// Command benchceiling is a benchmark tool, not part of the service: the
// smallest gin server that does what a hold request must do, so that the
// load benchmark (cmd/loadbench) can measure this machine's ceiling for the
// service in the same run.
//
//	POST /evalsha  decodes a {"id", "UUID"} body and makes one rueidis
//	               EVALSHA round trip on a key of the seat's event
//	POST /decode   decodes the body and makes no Redis call
//	GET  /get/:id  answers a small JSON object, no body, no Redis call
//
// Each answers the request's fields as JSON with gin's own encoder. There is
// no logging and no middleware.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/rueidis"
)

// script is one Redis command on one key, so the cluster client routes it
// like a seat script of the event.
var script = rueidis.NewLuaScript("return redis.call('EXISTS', KEYS[1])")

type seatRequest struct {
	ID   string `json:"id"`
	UUID string `json:"UUID"`
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

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/evalsha", func(c *gin.Context) {
		var req seatRequest
		if err := c.ShouldBindJSON(&req); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		event, _, _ := strings.Cut(req.ID, ".")
		ctx, cancel := context.WithTimeout(c.Request.Context(), time.Second)
		defer cancel()
		if err := script.Exec(ctx, client, []string{"ceiling:{" + event + "}"}, []string{req.UUID}).Error(); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, req)
	})
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
