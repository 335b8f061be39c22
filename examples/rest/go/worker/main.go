// A worker for Eddy's REST API in Go, standard library only.
//
//	EDDY_URL=http://127.0.0.1:8080 EDDY_API_KEY=... go run ./worker
//
// It claims jobs of the kinds it has handlers for, waiting on the server for new ones, and
// works each with a heartbeat that extends its lease; a handler that returns completes the job,
// one that errs fails it (River's backoff, or discarded once its attempts are used up). If the
// process dies, the lease passes and the server's maintenance rescues the job.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"eddy.example/rest/eddyrest"
)

const lease = 30 * time.Second

type handler func(ctx context.Context, job eddyrest.Claimed) (any, error)

var handlers = map[string]handler{
	"echo": func(_ context.Context, job eddyrest.Claimed) (any, error) {
		var args map[string]any
		if err := json.Unmarshal(job.Args, &args); err != nil {
			return nil, err
		}
		return map[string]any{"echo": args, "attempt": job.Attempt}, nil
	},
	"flaky": func(_ context.Context, job eddyrest.Claimed) (any, error) {
		if job.Attempt < 2 {
			return nil, fmt.Errorf("flaky failure on attempt %d", job.Attempt)
		}
		return map[string]any{"succeeded_on": job.Attempt}, nil
	},
}

func work(ctx context.Context, client *eddyrest.Client, job eddyrest.Claimed) {
	beat, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		ticker := time.NewTicker(lease / 3)
		defer ticker.Stop()
		for {
			select {
			case <-beat.Done():
				return
			case <-ticker.C:
				if _, err := client.Extend(beat, job, lease); eddyrest.IsLeaseLost(err) {
					log.Printf("job %s: lease lost", job.ID)
					return
				}
			}
		}
	}()
	output, err := handlers[job.Kind](ctx, job)
	stop()
	if err != nil {
		settled, ferr := client.Fail(ctx, job, err.Error(), "", false)
		log.Printf("job %s: failed on attempt %d -> %s %v", job.ID, job.Attempt, settled.State, ferr)
		return
	}
	if _, err := client.Complete(ctx, job, output); err != nil {
		log.Printf("job %s: completion not recorded: %v", job.ID, err)
		return
	}
	log.Printf("job %s: completed on attempt %d", job.ID, job.Attempt)
}

func main() {
	url := os.Getenv("EDDY_URL")
	if url == "" {
		url = "http://127.0.0.1:8080"
	}
	client := eddyrest.New(url, os.Getenv("EDDY_API_KEY"))
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	kinds := make([]string, 0, len(handlers))
	for kind := range handlers {
		kinds = append(kinds, kind)
	}
	queues := strings.Split(envOr("EDDY_QUEUES", "default"), ",")
	name := envOr("EDDY_WORKER", fmt.Sprintf("go-%d", os.Getpid()))
	log.Printf("worker %s: working %v from %v", name, kinds, queues)
	for ctx.Err() == nil {
		jobs, err := client.Claim(ctx, eddyrest.ClaimRequest{
			Queues: queues, Kinds: kinds, Limit: 1, LeaseMs: lease.Milliseconds(), WaitMs: 5000, Worker: name,
		})
		if err != nil {
			if ctx.Err() == nil {
				log.Printf("claim failed: %v; retrying", err)
				time.Sleep(time.Second)
			}
			continue
		}
		for _, job := range jobs {
			work(context.WithoutCancel(ctx), client, job)
		}
	}
	log.Printf("worker %s: stopped", name)
}

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
