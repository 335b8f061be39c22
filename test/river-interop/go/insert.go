package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
)

// rawArgs is a job of any kind whose args are JSON as written: River encodes them with
// json.Marshal, as it encodes a struct's.
type rawArgs struct {
	kind string
	args json.RawMessage
}

func (r rawArgs) Kind() string                 { return r.kind }
func (r rawArgs) MarshalJSON() ([]byte, error) { return r.args, nil }

type insertSpec struct {
	// Many: one InsertMany call for every job; otherwise one Insert per job, in order.
	Many bool      `json:"many"`
	Jobs []jobSpec `json:"jobs"`
	// Now, when set, is River's clock (Config.Test.Time), as unique periods read it.
	Now *time.Time `json:"now"`
}

type jobSpec struct {
	Kind        string          `json:"kind"`
	Args        json.RawMessage `json:"args"`
	Queue       string          `json:"queue"`
	Priority    int             `json:"priority"`
	MaxAttempts int             `json:"max_attempts"`
	Tags        []string        `json:"tags"`
	Metadata    json.RawMessage `json:"metadata"`
	ScheduledAt *time.Time      `json:"scheduled_at"`
	Pending     bool            `json:"pending"`
	Unique      *struct {
		ByArgs      bool                 `json:"by_args"`
		ByPeriodMs  int64                `json:"by_period_ms"`
		ByQueue     bool                 `json:"by_queue"`
		ByState     []rivertype.JobState `json:"by_state"`
		ExcludeKind bool                 `json:"exclude_kind"`
	} `json:"unique"`
}

func (j jobSpec) params() river.InsertManyParams {
	args := j.Args
	if len(args) == 0 {
		args = json.RawMessage(`{}`)
	}
	opts := &river.InsertOpts{
		Queue:       j.Queue,
		Priority:    j.Priority,
		MaxAttempts: j.MaxAttempts,
		Tags:        j.Tags,
		Metadata:    j.Metadata,
		Pending:     j.Pending,
	}
	if j.ScheduledAt != nil {
		opts.ScheduledAt = *j.ScheduledAt
	}
	if j.Unique != nil {
		opts.UniqueOpts = river.UniqueOpts{
			ByArgs:      j.Unique.ByArgs,
			ByPeriod:    time.Duration(j.Unique.ByPeriodMs) * time.Millisecond,
			ByQueue:     j.Unique.ByQueue,
			ByState:     j.Unique.ByState,
			ExcludeKind: j.Unique.ExcludeKind,
		}
	}
	return river.InsertManyParams{Args: rawArgs{j.Kind, args}, InsertOpts: opts}
}

type insertResult struct {
	ID      int64 `json:"id"`
	Skipped bool  `json:"skipped"`
}

// insert reads an insertSpec on stdin, inserts with River's client and prints the results.
func insert(ctx context.Context, args []string) error {
	var c common
	fs := flag.NewFlagSet("insert", flag.ExitOnError)
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	var spec insertSpec
	if err := json.NewDecoder(os.Stdin).Decode(&spec); err != nil {
		return fmt.Errorf("reading the spec on stdin: %w", err)
	}
	pool, err := c.pool(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	config := &river.Config{Schema: c.schema, Logger: logger()}
	if spec.Now != nil {
		config.Test.Time = fixedTime{*spec.Now}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), config)
	if err != nil {
		return err
	}
	var results []insertResult
	if spec.Many {
		params := make([]river.InsertManyParams, len(spec.Jobs))
		for i, job := range spec.Jobs {
			params[i] = job.params()
		}
		inserted, err := client.InsertMany(ctx, params)
		if err != nil {
			return err
		}
		for _, r := range inserted {
			results = append(results, insertResult{r.Job.ID, r.UniqueSkippedAsDuplicate})
		}
	} else {
		for _, job := range spec.Jobs {
			p := job.params()
			r, err := client.Insert(ctx, p.Args, p.InsertOpts)
			if err != nil {
				return err
			}
			results = append(results, insertResult{r.Job.ID, r.UniqueSkippedAsDuplicate})
		}
	}
	return json.NewEncoder(os.Stdout).Encode(results)
}

// fixedTime is a stopped clock for River's Config.Test.Time.
type fixedTime struct{ at time.Time }

func (f fixedTime) Now() time.Time       { return f.at }
func (f fixedTime) NowOrNil() *time.Time { return &f.at }
