// Command river-interop is the Go River side of Eddy's interop tests (test/river-interop): each
// subcommand does what a Go River application would, against the database and schema the
// TypeScript test names, and the test then checks the rows.
//
//	river-interop migrate-list|migrate-up|validate   River's migrator, as River's CLI runs it
//	river-interop insert < spec.json                 insert jobs with River's client; prints ids
//	river-interop work [flags]                       work jobs with River's client until SIGTERM
//	river-interop cancel|pause|resume|...            River's control operations
//
// Every subcommand takes --database-url and --schema.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// common holds the flags every subcommand takes.
type common struct {
	databaseURL string
	schema      string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.databaseURL, "database-url", os.Getenv("DATABASE_URL"), "PostgreSQL URL")
	fs.StringVar(&c.schema, "schema", "", "schema River's tables live in")
}

func (c *common) pool(ctx context.Context) (*pgxpool.Pool, error) {
	config, err := pgxpool.ParseConfig(c.databaseURL)
	if err != nil {
		return nil, err
	}
	config.MaxConns = 20
	return pgxpool.NewWithConfig(ctx, config)
}

// client is an insert-only River client (no queues, not started), for inserts and control.
func (c *common) client(pool *pgxpool.Pool) (*river.Client[pgx.Tx], error) {
	return river.NewClient(riverpgxv5.New(pool), &river.Config{
		Schema: c.schema,
		Logger: logger(),
	})
}

func logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

var commands = map[string]func(ctx context.Context, args []string) error{
	"migrate-list":   migrateList,
	"migrate-up":     migrateUp,
	"validate":       validate,
	"insert":         insert,
	"work":           work,
	"cancel":         cancel,
	"pause":          pause,
	"resume":         resume,
	"queue-metadata": queueMetadata,
	"request-resign": requestResign,
	"lead":           lead,
	"versions":       versions,
}

func main() {
	if len(os.Args) < 2 || commands[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: river-interop <command> [flags]; commands:")
		for name := range commands {
			fmt.Fprintln(os.Stderr, "  "+name)
		}
		os.Exit(2)
	}
	if err := commands[os.Args[1]](context.Background(), os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "river-interop %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
