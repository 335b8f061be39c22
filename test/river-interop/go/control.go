package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// controlFlags parses the common flags plus the named string flags, and opens an insert-only
// client.
func control(ctx context.Context, name string, args []string, names ...string) (*river.Client[pgx.Tx], *pgxpool.Pool, map[string]*string, error) {
	var c common
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	c.register(fs)
	values := map[string]*string{}
	for _, n := range names {
		values[n] = fs.String(n, "", n)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, nil, err
	}
	pool, err := c.pool(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	client, err := c.client(pool)
	if err != nil {
		pool.Close()
		return nil, nil, nil, err
	}
	return client, pool, values, nil
}

// cancel is River's JobCancel: a job not running is cancelled at once; a running one gets
// cancel_attempted_at and a notification its client acts on.
func cancel(ctx context.Context, args []string) error {
	client, pool, v, err := control(ctx, "cancel", args, "id")
	if err != nil {
		return err
	}
	defer pool.Close()
	var id int64
	if _, err := fmt.Sscan(*v["id"], &id); err != nil {
		return fmt.Errorf("--id: %w", err)
	}
	job, err := client.JobCancel(ctx, id)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"id": job.ID, "state": job.State})
}

func pause(ctx context.Context, args []string) error {
	client, pool, v, err := control(ctx, "pause", args, "queue")
	if err != nil {
		return err
	}
	defer pool.Close()
	return client.QueuePause(ctx, *v["queue"], nil)
}

func resume(ctx context.Context, args []string) error {
	client, pool, v, err := control(ctx, "resume", args, "queue")
	if err != nil {
		return err
	}
	defer pool.Close()
	return client.QueueResume(ctx, *v["queue"], nil)
}

// queueMetadata is River's QueueUpdate, which notifies metadata_changed.
func queueMetadata(ctx context.Context, args []string) error {
	client, pool, v, err := control(ctx, "queue-metadata", args, "queue", "metadata")
	if err != nil {
		return err
	}
	defer pool.Close()
	_, err = client.QueueUpdate(ctx, *v["queue"], &river.QueueUpdateParams{Metadata: []byte(*v["metadata"])})
	return err
}

func requestResign(ctx context.Context, args []string) error {
	client, pool, _, err := control(ctx, "request-resign", args)
	if err != nil {
		return err
	}
	defer pool.Close()
	return client.Notify().RequestResign(ctx)
}

// lead starts a client with --id that works no queue, waits until it is the leader, then stops
// it, so that it resigns (River notifies "resigned").
func lead(ctx context.Context, args []string) error {
	var c common
	fs := flag.NewFlagSet("lead", flag.ExitOnError)
	c.register(fs)
	id := fs.String("id", "client-1", "client id")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pool, err := c.pool(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(func(context.Context, *river.Job[completeArgs]) error { return nil }))
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		ID: *id, Schema: c.schema, Logger: logger(), Workers: workers,
		Queues: map[string]river.QueueConfig{"lead_only": {MaxWorkers: 1}},
	})
	if err != nil {
		return err
	}
	if err := client.Start(ctx); err != nil {
		return err
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var leader string
		err := pool.QueryRow(ctx, fmt.Sprintf("SELECT leader_id FROM %q.river_leader", c.schema)).Scan(&leader)
		if err == nil && leader == *id {
			fmt.Println("leader")
			stopCtx, stop := context.WithTimeout(ctx, 10*time.Second)
			defer stop()
			return client.Stop(stopCtx)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s was not elected within 20 s", *id)
}

// untilSignal returns a context cancelled on SIGTERM or SIGINT.
func untilSignal(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
}
