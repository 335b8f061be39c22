package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// The kinds Go works in these tests. Each worker does one thing a real worker does.

// go_complete: completes, recording River output.
type completeArgs struct {
	N int `json:"n"`
}

func (completeArgs) Kind() string { return "go_complete" }

// go_fail_once: fails its first attempt, completes its second (River's default retry policy).
type failOnceArgs struct{}

func (failOnceArgs) Kind() string { return "go_fail_once" }

// go_snooze_once: snoozes on its first run, completes when it comes back.
type snoozeOnceArgs struct{}

func (snoozeOnceArgs) Kind() string { return "go_snooze_once" }

// go_cancel: cancels itself (River's JobCancel error).
type cancelArgs struct{}

func (cancelArgs) Kind() string { return "go_cancel" }

// fleet and overlap: records each run in <schema>.interop_run, sleeps sleep_ms, completes.
type fleetArgs struct {
	SleepMs int `json:"sleep_ms"`
}

func (fleetArgs) Kind() string { return "fleet" }

type overlapArgs struct {
	SleepMs int `json:"sleep_ms"`
}

func (overlapArgs) Kind() string { return "overlap" }

// parity, parity_fail, parity_snooze, parity_cancel: what both languages' workers do alike, so
// that the rows each leaves can be compared field by field. All record output {"n": n} when
// they complete; _fail fails its first attempt, _snooze snoozes once (1 s), _cancel cancels.
type parityArgs struct {
	N int `json:"n"`
}

func (parityArgs) Kind() string { return "parity" }

type parityFailArgs parityArgs

func (parityFailArgs) Kind() string { return "parity_fail" }

type paritySnoozeArgs parityArgs

func (paritySnoozeArgs) Kind() string { return "parity_snooze" }

type parityCancelArgs parityArgs

func (parityCancelArgs) Kind() string { return "parity_cancel" }

func snoozed(metadata []byte) bool {
	var m map[string]any
	_ = json.Unmarshal(metadata, &m)
	return m["snoozes"] != nil
}

// go_block: runs until its context ends (a JobCancel, the client stopping), then returns its
// error. No timeout.
type blockArgs struct{}

func (blockArgs) Kind() string { return "go_block" }

type blockWorker struct {
	river.WorkerDefaults[blockArgs]
	record func(ctx context.Context, id int64, attempt int) error
}

func (w *blockWorker) Timeout(*river.Job[blockArgs]) time.Duration { return -1 }
func (w *blockWorker) Work(ctx context.Context, job *river.Job[blockArgs]) error {
	if err := w.record(context.WithoutCancel(ctx), job.ID, job.Attempt); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

func work(ctx context.Context, args []string) error {
	var c common
	fs := flag.NewFlagSet("work", flag.ExitOnError)
	c.register(fs)
	queues := fs.String("queues", "default=10", "queues to work: name=max_workers,...")
	id := fs.String("id", "", "client id (River's default when empty)")
	runner := fs.String("runner", "go", "the name runs are recorded under")
	rescueAfter := fs.Duration("rescue-after", 0, "River's RescueStuckJobsAfter (default: River's, 1 h)")
	jobTimeout := fs.Duration("job-timeout", 0, "River's JobTimeout (default: River's, 1 min)")
	poll := fs.Duration("poll", 100*time.Millisecond, "River's FetchPollInterval")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pool, err := c.pool(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	record := recorder(pool, c.schema, *runner)

	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[completeArgs]) error {
		return river.RecordOutput(ctx, map[string]any{"worked_by": "go", "n": job.Args.N})
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[failOnceArgs]) error {
		if job.Attempt == 1 {
			return errors.New("go failed attempt 1")
		}
		return nil
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[snoozeOnceArgs]) error {
		if !snoozed(job.Metadata) {
			return river.JobSnooze(200 * time.Millisecond)
		}
		return nil
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[cancelArgs]) error {
		return river.JobCancel(errors.New("go cancelled it"))
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[fleetArgs]) error {
		if err := record(ctx, job.ID, job.Attempt); err != nil {
			return err
		}
		return sleep(ctx, job.Args.SleepMs)
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[overlapArgs]) error {
		if err := record(ctx, job.ID, job.Attempt); err != nil {
			return err
		}
		return sleep(ctx, job.Args.SleepMs)
	}))
	river.AddWorker(workers, &blockWorker{record: record})
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[parityArgs]) error {
		return river.RecordOutput(ctx, map[string]any{"n": job.Args.N})
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[parityFailArgs]) error {
		if job.Attempt == 1 {
			return errors.New("parity failed attempt 1")
		}
		return river.RecordOutput(ctx, map[string]any{"n": job.Args.N})
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[paritySnoozeArgs]) error {
		if !snoozed(job.Metadata) {
			return river.JobSnooze(time.Second)
		}
		return river.RecordOutput(ctx, map[string]any{"n": job.Args.N})
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[parityCancelArgs]) error {
		return river.JobCancel(errors.New("parity cancelled"))
	}))

	queueConfig := map[string]river.QueueConfig{}
	for _, entry := range strings.Split(*queues, ",") {
		name, max, _ := strings.Cut(entry, "=")
		n, err := strconv.Atoi(max)
		if err != nil {
			return fmt.Errorf("--queues %q: %w", entry, err)
		}
		queueConfig[name] = river.QueueConfig{MaxWorkers: n}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		ID:                   *id,
		Schema:               c.schema,
		Logger:               logger(),
		Workers:              workers,
		Queues:               queueConfig,
		FetchPollInterval:    *poll,
		FetchCooldown:        10 * time.Millisecond,
		RescueStuckJobsAfter: *rescueAfter,
		JobTimeout:           *jobTimeout,
	})
	if err != nil {
		return err
	}
	running, stop := untilSignal(ctx)
	defer stop()
	if err := client.Start(running); err != nil {
		return err
	}
	fmt.Println("started")
	<-running.Done()
	stopCtx, cancelStop := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelStop()
	if err := client.Stop(stopCtx); err != nil {
		return client.StopAndCancel(context.Background())
	}
	return nil
}

func recorder(pool *pgxpool.Pool, schema, runner string) func(ctx context.Context, id int64, attempt int) error {
	statement := fmt.Sprintf("INSERT INTO %q.interop_run (job_id, runner, attempt) VALUES ($1, $2, $3)", schema)
	return func(ctx context.Context, id int64, attempt int) error {
		_, err := pool.Exec(ctx, statement, id, runner, attempt)
		return err
	}
}

func sleep(ctx context.Context, ms int) error {
	if ms <= 0 {
		return nil
	}
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
